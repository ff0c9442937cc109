import type { ItemDef, Prediction, Sample } from '@assay/contracts';
import { evaluate } from './evaluate';
import { assertAllFinite } from './guard';

const items: ItemDef[] = [
  { group: 'g1', item: 'b', question: '', min: 0, max: 1, kind: 'binary' },
  { group: 'g1', item: 'o', question: '', min: 1, max: 5, kind: 'ordinal' },
  { group: 'g2', item: 'c', question: '', min: 0, max: 10, kind: 'continuous' },
];

function s(entityId: string, group: string, item: string, actual: number): Sample {
  return { entityId, group, item, actual };
}

function ok(entityId: string, group: string, item: string, predicted: number, outlier = false, method = 'm'): Prediction {
  return { entityId, group, item, method, predicted, parseStatus: 'ok', outlier, metadata: {} };
}

function failed(entityId: string, group: string, item: string, status: 'parse_failure' | 'inference_failure'): Prediction {
  return { entityId, group, item, method: 'm', predicted: null, parseStatus: status, parseError: 'x', outlier: false, metadata: {} };
}

// a/g1/b 1 vs 1 -> 0;  b/g1/b 0 vs 1 -> 1;  a/g1/o 3 vs 4 -> 1/4;  b/g1/o parse failure;
// a/g2/c 5 vs 6 -> 1/10;  b/g2/c no prediction (inference failure)
const samples = [s('a', 'g1', 'b', 1), s('b', 'g1', 'b', 0), s('a', 'g1', 'o', 3), s('b', 'g1', 'o', 5), s('a', 'g2', 'c', 5), s('b', 'g2', 'c', 5)];
const predictions = [ok('a', 'g1', 'b', 1), ok('b', 'g1', 'b', 1), ok('a', 'g1', 'o', 4), failed('b', 'g1', 'o', 'parse_failure'), ok('a', 'g2', 'c', 6)];

describe('evaluate', () => {
  const scores = evaluate({ method: 'm', samples, predictions, items });

  it('given failures, then the overall counts and normalized MAE = (0 + 1 + 0.25 + 0.1) / 4', () => {
    expect(scores.overall).toMatchObject({ n: 6, nScored: 4, parseFailures: 1, inferenceFailures: 1, outliers: 0 });
    expect(scores.overall.primary.value).toBeCloseTo(1.35 / 4, 12);
    expect(scores.overall.metrics.normalized_mae.note).toBe('2 unscored sample(s) excluded (parse or inference failures)');
  });

  it('given every kind in the slice, then metric keys are kind-qualified in a fixed order', () => {
    expect(Object.keys(scores.overall.metrics)).toEqual([
      'normalized_mae',
      'binary.accuracy', 'binary.balanced_accuracy', 'binary.f1', 'binary.predicted_positive_rate', 'binary.actual_positive_rate',
      'ordinal.mae', 'ordinal.rmse', 'ordinal.exact_accuracy', 'ordinal.within_one_accuracy', 'ordinal.spearman',
      'continuous.mae', 'continuous.rmse', 'continuous.normalized_mae', 'continuous.pearson',
      'wasserstein', 'variance_ratio', 'under_dispersed_share', 'respondent_correlation',
    ]);
    // binary: classes 1 vs 1 (TP), 1 vs 0 (FP) -> accuracy 1/2
    expect(scores.overall.metrics['binary.accuracy']).toMatchObject({ value: 0.5, n: 2 });
    expect(scores.overall.metrics['ordinal.spearman']).toEqual({ value: null, n: 1, note: 'too few points for a correlation (n=1 < 3)' });
    expect(scores.overall.metrics['continuous.mae'].note).toBe('1 unscored sample(s) excluded (parse or inference failures)');
  });

  it('given groups g1 (1.25/3) and g2 (0.1), then byGroup is worst first and has only its kinds', () => {
    expect(scores.byGroup.map((g) => g.group)).toEqual(['g1', 'g2']);
    expect(scores.byGroup[0].summary.primary.value).toBeCloseTo(1.25 / 3, 12);
    expect(Object.keys(scores.byGroup[1].summary.metrics)).toEqual(['normalized_mae', 'continuous.mae', 'continuous.rmse', 'continuous.normalized_mae', 'continuous.pearson', 'wasserstein', 'variance_ratio', 'respondent_correlation']);
  });

  it('given entities, then byEntity is by group, then worst first with nulls first', () => {
    // g1: b = 1/1 = 1, a = (0 + 0.25)/2 = 0.125; g2: b has nothing scored (null), a = 0.1
    expect(scores.byEntity.map((e) => [e.group, e.entityId, e.summary.primary.value])).toEqual([
      ['g1', 'b', 1],
      ['g1', 'a', 0.125],
      ['g2', 'b', null],
      ['g2', 'a', expect.closeTo(0.1, 12)],
    ]);
    expect(scores.byEntity[2].summary.metrics.normalized_mae.note).toBe('no scored points');
  });

  it('given items, then byItem is sorted by group then item', () => {
    expect(scores.byItem.map((i) => [i.group, i.item, i.kind])).toEqual([
      ['g1', 'b', 'binary'],
      ['g1', 'o', 'ordinal'],
      ['g2', 'c', 'continuous'],
    ]);
  });

  it('given the same inputs in another order, then the result is identical', () => {
    const again = evaluate({ method: 'm', samples: [...samples].reverse(), predictions: [...predictions].reverse(), items: [...items].reverse() });
    expect(again).toEqual(scores);
  });

  it('given groups with equal or null scores, then nulls come first and ties go by name', () => {
    const its: ItemDef[] = ['z', 'y', 'x', 'w'].map((g) => ({ group: g, item: 'q', question: '', min: 0, max: 10, kind: 'continuous' }));
    const smp = ['z', 'y', 'x', 'w'].map((g) => s('e', g, 'q', 5));
    // z and y: error 2 -> 0.2; x: error 1 -> 0.1; w: no prediction -> null
    const prd = [ok('e', 'z', 'q', 7), ok('e', 'y', 'q', 3), ok('e', 'x', 'q', 6)];
    expect(evaluate({ method: 'm', samples: smp, predictions: prd, items: its }).byGroup.map((g) => g.group)).toEqual(['w', 'y', 'z', 'x']);
  });

  it('given an outlier, then it is counted and scored unclipped', () => {
    const r = evaluate({ method: 'm', samples: [s('a', 'g1', 'o', 5)], predictions: [ok('a', 'g1', 'o', 9, true)], items });
    expect(r.overall.outliers).toBe(1);
    expect(r.overall.primary.value).toBe(1); // |9 - 5| / 4
  });

  describe('given inconsistent inputs', () => {
    it('when a prediction has no sample, then it throws naming the key', () => {
      expect(() => evaluate({ method: 'm', samples, predictions: [...predictions, ok('zz', 'g1', 'b', 1)], items })).toThrow('prediction without a sample: ["zz","g1","b"]');
    });
    it('when a prediction is from another method, then it throws', () => {
      expect(() => evaluate({ method: 'm', samples, predictions: [ok('a', 'g1', 'b', 1, false, 'other')], items })).toThrow(/from method "other"/);
    });
    it('when a prediction is duplicated, then it throws', () => {
      expect(() => evaluate({ method: 'm', samples, predictions: [ok('a', 'g1', 'b', 1), ok('a', 'g1', 'b', 0)], items })).toThrow(/duplicate prediction/);
    });
    it('when an outlier flag is wrong, then it throws', () => {
      expect(() => evaluate({ method: 'm', samples, predictions: [ok('a', 'g1', 'o', 9, false)], items })).toThrow(/outlier=false but 9 is outside/);
    });
    it('when a sample has no item definition, then it throws', () => {
      expect(() => evaluate({ method: 'm', samples: [s('a', 'g9', 'q', 1)], predictions: [], items })).toThrow(/no item definition for \["g9","q"\]/);
    });
    it('when there are no samples, then it throws', () => {
      expect(() => evaluate({ method: 'm', samples: [], predictions: [], items })).toThrow(/no samples/);
    });
  });

  it('given degenerate data (constant values, one class, nothing scored), then no number is NaN or infinite', () => {
    const r = evaluate({
      method: 'm',
      samples: [s('a', 'g1', 'b', 0), s('b', 'g1', 'b', 0), s('c', 'g1', 'b', 0), s('a', 'g2', 'c', 5)],
      predictions: [ok('a', 'g1', 'b', 0), ok('b', 'g1', 'b', 0), ok('c', 'g1', 'b', 0)],
      items,
    });
    expect(() => assertAllFinite(r, 'r')).not.toThrow();
    expect(r.overall.metrics['binary.f1'].value).toBeNull();
    expect(r.overall.metrics['continuous.pearson']).toEqual({ value: null, n: 0, note: 'no scored points' });
  });
});
