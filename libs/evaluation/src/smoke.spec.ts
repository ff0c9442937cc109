import type { ItemDef, Prediction } from '@assay/contracts';
import { smokeChecks } from './smoke';

const items: ItemDef[] = [{ group: 'g', item: 'q', question: '', min: 1, max: 5, kind: 'ordinal' }];

function pred(entityId: string, predicted: number | null, over: Partial<Prediction> = {}): Prediction {
  return { entityId, group: 'g', item: 'q', method: 'm', predicted, parseStatus: 'ok', outlier: false, metadata: {}, ...over };
}

function status(r: ReturnType<typeof smokeChecks>): Record<string, boolean> {
  return Object.fromEntries(r.checks.map((c) => [c.check, c.passed]));
}

describe('smokeChecks', () => {
  it('given 4 well-formed, varied predictions, then every check passes', () => {
    const r = smokeChecks({ predictions: [pred('a', 1), pred('b', 2), pred('c', 3), pred('d', 3)], items });
    expect(r.passed).toBe(true);
    expect(r.checks.map((c) => c.check)).toEqual(['output schema valid', 'all answers parse', 'predictions not all identical', 'no NaN predictions']);
    expect(r.checks[2].detail).toBe('3 distinct values among 4');
  });

  it('given identical predictions, then only that check fails', () => {
    const r = smokeChecks({ predictions: [pred('a', 3), pred('b', 3), pred('c', 3), pred('d', 3)], items });
    expect(r.passed).toBe(false);
    expect(status(r)['predictions not all identical']).toBe(false);
    expect(r.checks[2].detail).toBe('all 4 predictions are 3');
  });

  it('given a single prediction, then the identical check does not apply', () => {
    const r = smokeChecks({ predictions: [pred('a', 3)], items });
    expect(r.passed).toBe(true);
    expect(r.checks[2].detail).toBe('not applicable: 1 usable prediction(s), 2 needed');
  });

  it('given a parse failure, then "all answers parse" fails naming it', () => {
    const r = smokeChecks({ predictions: [pred('a', 1), pred('b', null, { parseStatus: 'parse_failure', parseError: 'empty output' })], items });
    expect(status(r)['all answers parse']).toBe(false);
    expect(r.checks[1].detail).toBe('1 of 2 not parsed: ["b","g","q"]: parse_failure: empty output');
    expect(status(r)['output schema valid']).toBe(true);
  });

  it('given a NaN, then the schema and NaN checks fail', () => {
    const r = smokeChecks({ predictions: [pred('a', 1), pred('b', NaN)], items });
    expect(status(r)).toMatchObject({ 'output schema valid': false, 'no NaN predictions': false });
    expect(r.checks[3].detail).toBe('1 NaN or infinite: ["b","g","q"]: NaN');
  });

  it('given a failure without a reason or an unknown item, then the schema check fails', () => {
    const r = smokeChecks({ predictions: [pred('a', null, { parseStatus: 'inference_failure' }), pred('b', 1, { item: 'nope' })], items });
    expect(r.checks[0]).toEqual({
      check: 'output schema valid',
      passed: false,
      detail: '2 of 2 malformed: ["a","g","q"]: inference_failure without a reason; ["b","g","nope"]: unknown item',
    });
  });

  it('given no predictions, then it fails', () => {
    expect(smokeChecks({ predictions: [], items }).passed).toBe(false);
  });
});
