import { parseEvent, parseStoredEvent } from './catalogue';
import { upcast, UPCASTERS } from './upcast';

/** Rows as an early assay stored them (before evaluation rounds existed): copied shapes, not built with today's createEvent. */
const META = { correlationId: 'c', causationId: 'c', producer: 'evaluator', codeVersion: 'old1234' };
const OLD_EVALUATION_COMPLETED = {
  id: '6f1c1f7e-0c55-4d8e-9a57-1d2b3c4d5e6f',
  type: 'evaluation.completed',
  schemaVersion: 1,
  stream: 'experiment-aaaa1111_old1234',
  occurredAt: '2025-01-01T00:00:00.000Z',
  data: { identity: 'aaaa1111_old1234', attempt: 1, evaluatorVersion: 'eval-v1', result: { method: {} }, cache: { promptTokens: 10, cachedTokens: 5, hitRate: 0.5, idealHitRate: 0.6 } },
  metadata: META,
};
const OLD_REPORT_GENERATED = {
  id: '7f1c1f7e-0c55-4d8e-9a57-1d2b3c4d5e6f',
  type: 'report.generated',
  schemaVersion: 1,
  stream: 'experiment-aaaa1111_old1234',
  occurredAt: '2025-01-01T00:00:01.000Z',
  data: { identity: 'aaaa1111_old1234', attempt: 1, runDir: '/out/x', files: 12, treeHash: 'abc' },
  metadata: { ...META, producer: 'reporter' },
};

describe('upcasters', () => {
  it('given an evaluation.completed stored before rounds, when parsed from the log, then it is round 1 with no re-evaluation', () => {
    const event = parseEvent(OLD_EVALUATION_COMPLETED, 'log:1');
    expect(event.type === 'evaluation.completed' && [event.data.round, event.data.reevaluation]).toEqual([1, null]);
  });

  it('given a report.generated stored before rounds, when parsed, then it is round 1', () => {
    const event = parseEvent(OLD_REPORT_GENERATED, 'log:2');
    expect(event.type === 'report.generated' && event.data.round).toBe(1);
  });

  it('given a row that already has the field, when upcast, then it is left as it is (round 2 stays 2)', () => {
    const round2 = { ...OLD_EVALUATION_COMPLETED, data: { ...OLD_EVALUATION_COMPLETED.data, round: 2, reevaluation: null } };
    expect(upcast(round2)).toBe(round2);
  });

  it('given an old shape from the wire, when parsed on its own subject, then the subject check uses the version it was sent as', () => {
    expect(parseEvent(OLD_EVALUATION_COMPLETED, 'evaluation.completed.v1').type).toBe('evaluation.completed');
  });

  it('given the table, then every upcaster names a change and never lowers a version', () => {
    for (const u of UPCASTERS) {
      expect(u.change.length).toBeGreaterThan(0);
      expect(u.to).toBeGreaterThanOrEqual(u.from);
    }
  });

  it('given something that is not an envelope, when upcast, then it passes through for validation to reject', () => {
    expect(upcast('nonsense')).toBe('nonsense');
    expect(() => parseEvent({ type: 'evaluation.completed' }, 'log:3')).toThrow(/not an assay envelope/);
  });
});

describe('parseStoredEvent', () => {
  it('given a stored row, when read typed, then it is validated and upcast but keeps its key order (run directories are built from it byte for byte)', () => {
    const stored = { ...OLD_EVALUATION_COMPLETED, data: { ...OLD_EVALUATION_COMPLETED.data, cache: { hitRate: 0.5, idealHitRate: 0.6, cachedTokens: 5, promptTokens: 10 } } };
    const event = parseStoredEvent(stored, 'log:1');
    expect(event.type === 'evaluation.completed' && Object.keys(event.data.cache)).toEqual(['hitRate', 'idealHitRate', 'cachedTokens', 'promptTokens']);
    expect(event.type === 'evaluation.completed' && event.data.round).toBe(1);
    expect(() => parseStoredEvent({ ...stored, data: { ...stored.data, attempt: 'one' } }, 'log:1')).toThrow(/attempt/);
  });
});
