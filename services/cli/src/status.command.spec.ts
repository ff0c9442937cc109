import type { RegistryEntry } from '@assay/experiments';
import { formatEntry, formatRegistry } from './status.command';

const entry = (over: Partial<RegistryEntry> = {}): RegistryEntry => ({
  identity: 'aaaa1111_abc1234',
  method: 'llm_zero_shot',
  name: 'demo',
  status: 'completed',
  attempt: 1,
  runDir: '/out/llm_zero_shot/experiments/aaaa1111_abc1234',
  codeVersion: 'abc1234',
  startedAt: '2026-01-01T10:00:00.000Z',
  finishedAt: '2026-01-01T10:05:00.000Z',
  reevaluatedAt: null,
  summary: { normalized_mae: 0.25, evaluation_round: 1 },
  failure: null,
  cancellation: null,
  skippedRequests: 0,
  dataHashes: {},
  ...over,
});

describe('assay status', () => {
  it('given a re-evaluated run, when shown, then "finished" is the run\'s own finish time and the latest round\'s time is a line of its own', () => {
    const text = formatEntry(entry({ reevaluatedAt: '2026-01-02T09:00:00.000Z', summary: { normalized_mae: 0.2, evaluation_round: 2 } }));
    expect(text).toContain('\nfinished:   2026-01-01T10:05:00.000Z\n');
    expect(text).toContain('\nre-evaluated: 2026-01-02T09:00:00.000Z (latest round: 2; the numbers below are its)\n');
    expect(formatRegistry([entry({ reevaluatedAt: '2026-01-02T09:00:00.000Z' })])).toContain('2026-01-01T10:05:00.000Z');
    expect(formatRegistry([entry({ reevaluatedAt: '2026-01-02T09:00:00.000Z' })])).not.toContain('2026-01-02T09:00:00.000Z');
  });

  it('given a run never re-evaluated, when shown, then there is no re-evaluation line', () => {
    expect(formatEntry(entry())).not.toContain('re-evaluated');
  });
});
