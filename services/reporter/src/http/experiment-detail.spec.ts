import type { AnyEnvelope } from '@assay/contracts';
import { experimentDetail } from './experiment-detail';

const ID = 'abcdef12_8e2ba3cd';
let clock = 0;
function event(type: string, data: Record<string, unknown>): AnyEnvelope {
  clock += 1;
  return {
    id: `00000000-0000-4000-8000-${String(clock).padStart(12, '0')}`,
    type,
    schemaVersion: 1,
    stream: `experiment-${ID}`,
    occurredAt: new Date(Date.UTC(2026, 0, 1, 0, 0, clock)).toISOString(),
    data,
    metadata: { correlationId: 'c', causationId: 'c', producer: 'test', codeVersion: '8e2ba3cd' },
  };
}
const started = (attempt: number, config: Record<string, unknown>) =>
  event('experiment.started', {
    identity: ID,
    attempt,
    method: 'llm_zero_shot',
    config,
    runDir: `/out/llm_zero_shot/experiments/${ID}`,
    codeVersion: '8e2ba3cd',
    dataHashes: { profiles: 'h' },
  });

describe('experimentDetail', () => {
  it('is undefined for an identity that never started', () => {
    expect(experimentDetail([], ID)).toBeUndefined();
    expect(experimentDetail([event('experiment.skipped', { identity: ID, attempt: 1, runDir: '/x', reason: 'already_running' })], ID)).toBeUndefined();
  });

  it('shows the latest attempt: its config, report, failure of the previous attempt and the evaluated attempts', () => {
    const events = [
      started(1, { name: 'first', temperature: 0 }),
      event('evaluation.completed', { identity: ID, attempt: 1 }),
      event('experiment.failed', { identity: ID, attempt: 1, stage: 'report', error: 'disk full' }),
      started(2, { name: 'second', temperature: 0 }),
      event('evaluation.completed', { identity: ID, attempt: 2 }),
      event('report.generated', { identity: ID, attempt: 2, runDir: '/x', files: 40, treeHash: 'aaa' }),
      event('report.generated', { identity: ID, attempt: 2, runDir: '/x', files: 41, treeHash: 'bbb' }),
      event('experiment.completed', { identity: ID, attempt: 2, runDir: '/x', smokeOnly: false, summary: { normalized_mae: 0.25 } }),
    ];
    const detail = experimentDetail(events, ID)!;
    expect(detail).toMatchObject({
      identity: ID,
      name: 'second',
      status: 'completed',
      attempt: 2,
      runDir: `/out/llm_zero_shot/experiments/${ID}`,
      config: { name: 'second', temperature: 0 },
      summary: { normalized_mae: 0.25 },
      failure: { attempt: 1, stage: 'report', error: 'disk full' },
      report: { files: 41, treeHash: 'bbb' },
      evaluatedAttempts: [1, 2],
    });
  });

  it('shows a running attempt without a report, and a failed one with its error', () => {
    const running = experimentDetail([started(1, { name: 'x' })], ID)!;
    expect(running).toMatchObject({ status: 'running', report: null, failure: null, evaluatedAttempts: [], finishedAt: null });
    const failed = experimentDetail([started(1, { name: 'x' }), event('experiment.failed', { identity: ID, attempt: 1, stage: 'inference', error: 'model down' })], ID)!;
    expect(failed).toMatchObject({ status: 'failed', failure: { stage: 'inference', error: 'model down' } });
  });
});
