import { createEvent, experimentStream, type AssayEventType, type EventData, type EventOfType } from '@assay/contracts';
import { experimentDetail } from './experiment-detail';

const ID = 'abcdef12_8e2ba3cd';
const REQUEST = '00000000-0000-4000-8000-000000000001';
const RUN_DIR = `/out/llm_zero_shot/experiments/${ID}`;
let clock = 0;

/** A valid event of the catalogue in this experiment's stream, with a deterministic timestamp. */
function event<T extends AssayEventType>(type: T, data: EventData<T>): EventOfType<T> {
  const e = createEvent(type, data, { stream: experimentStream(ID), correlationId: REQUEST, causationId: null, producer: 'test', codeVersion: '8e2ba3cd' });
  clock += 1;
  return { ...e, occurredAt: new Date(Date.UTC(2026, 0, 1, 0, 0, clock)).toISOString() };
}
const started = (attempt: number, config: Record<string, unknown>) =>
  event('experiment.started', {
    requestId: REQUEST,
    identity: ID,
    attempt,
    method: 'llm_zero_shot',
    config,
    configHash: 'ffff',
    identityAlgorithm: 'v1',
    dataHashes: { profiles: 'h', responses: 'r', items: 'i', split: 's' },
    codeVersion: '8e2ba3cd',
    runDir: RUN_DIR,
    warnings: [],
    forced: attempt > 1,
    smokeOnly: false,
    previousFailure: null,
    host: 'test',
  });
const evaluated = (attempt: number) =>
  event('evaluation.completed', {
    identity: ID,
    attempt,
    round: 1,
    evaluatorVersion: 'eval/v1',
    reevaluation: null,
    result: {},
    cache: { promptTokens: 0, cachedTokens: 0, hitRate: null, idealHitRate: null },
  });
const reported = (attempt: number, files: number, treeHash: string) => event('report.generated', { identity: ID, attempt, round: 1, runDir: RUN_DIR, files, treeHash });
const failedAt = (attempt: number, stage: 'report' | 'inference', error: string) =>
  event('experiment.failed', { requestId: REQUEST, identity: ID, attempt, stage, error, details: [] });

describe('experimentDetail', () => {
  it('is undefined for an identity that never started', () => {
    expect(experimentDetail([], ID)).toBeUndefined();
    expect(experimentDetail([event('experiment.skipped', { requestId: REQUEST, identity: ID, attempt: 1, runDir: '/x', reason: 'already_running' })], ID)).toBeUndefined();
  });

  it('shows the latest attempt: its config, report, failure of the previous attempt and the evaluated attempts', () => {
    const events = [
      started(1, { name: 'first', temperature: 0 }),
      evaluated(1),
      failedAt(1, 'report', 'disk full'),
      started(2, { name: 'second', temperature: 0 }),
      evaluated(2),
      reported(2, 40, 'aaa'),
      reported(2, 41, 'bbb'),
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
    const failed = experimentDetail([started(1, { name: 'x' }), failedAt(1, 'inference', 'model down')], ID)!;
    expect(failed).toMatchObject({ status: 'failed', failure: { stage: 'inference', error: 'model down' } });
  });
});
