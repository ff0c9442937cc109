import { createEvent, experimentStream, type AssayEventType, type EventData, type EventOfType, type FailureStage } from '@assay/contracts';
import { decideCancel, decideRequest, entryFromStream, foldRegistry, type RegistryEntry, type RegistryStatus } from './registry';

const REQUEST = '00000000-0000-4000-8000-000000000001';
let clock = 0;

/** A valid event of the catalogue, with a deterministic timestamp (the fold orders by it). */
function event<T extends AssayEventType>(type: T, data: EventData<T>): EventOfType<T> {
  const identity = 'identity' in data && typeof data.identity === 'string' ? data.identity : 'unknown';
  const e = createEvent(type, data, { stream: experimentStream(identity), correlationId: REQUEST, causationId: null, producer: 'test', codeVersion: 'abc1234' });
  clock += 1;
  return { ...e, occurredAt: new Date(Date.UTC(2025, 0, 1, 0, 0, clock)).toISOString() };
}

const runDir = (identity: string) => `/out/llm_zero_shot/experiments/${identity}`;
const started = (identity: string, attempt: number, previousFailure: { attempt: number; stage: FailureStage; error: string } | null = null) =>
  event('experiment.started', {
    requestId: REQUEST,
    identity,
    attempt,
    method: 'llm_zero_shot',
    config: { name: `cfg-${identity}` },
    configHash: 'ffff',
    identityAlgorithm: 'v1',
    dataHashes: { profiles: 'p', responses: 'r', items: 'i', split: 's' },
    codeVersion: 'abc1234',
    runDir: runDir(identity),
    warnings: [],
    forced: attempt > 1,
    smokeOnly: false,
    previousFailure,
    host: 'test',
  });
const completed = (identity: string, attempt: number, smokeOnly = false, summary: Record<string, number> = { normalized_mae: 0.25 }) =>
  event('experiment.completed', { identity, attempt, runDir: runDir(identity), smokeOnly, summary: smokeOnly ? { smoke: 'passed', examples: 4 } : summary });
const failed = (identity: string | null, attempt: number | null, stage: FailureStage, error: string) =>
  event('experiment.failed', { requestId: REQUEST, identity, attempt, stage, error, details: [] });
const skipped = (identity: string, attempt: number, reason: 'already_completed' | 'already_running') =>
  event('experiment.skipped', { requestId: REQUEST, identity, reason, attempt, runDir: runDir(identity) });

function entry(status: RegistryStatus, attempt = 1, failure: RegistryEntry['failure'] = null): RegistryEntry {
  return {
    identity: 'aaaa1111_abc1234',
    method: 'llm_zero_shot',
    name: 'x',
    status,
    attempt,
    runDir: runDir('aaaa1111_abc1234'),
    codeVersion: 'abc1234',
    startedAt: '2025-01-01T00:00:00.000Z',
    finishedAt: null,
    reevaluatedAt: null,
    summary: {},
    failure,
    cancellation: null,
    skippedRequests: 0,
    dataHashes: {},
  };
}

describe('decideRequest (skip / attach / run)', () => {
  const earlier = { attempt: 1, stage: 'preflight' as const, error: "model.id: 'x' is not served" };

  it.each([
    // status, force, expected decision
    ['(none)', false, { kind: 'start', attempt: 1, previousFailure: null, abandon: null }],
    ['(none)', true, { kind: 'start', attempt: 1, previousFailure: null, abandon: null }],
    ['running', false, { kind: 'skip', reason: 'already_running', attempt: 2, runDir: runDir('aaaa1111_abc1234') }],
    // --force never starts a second run beside a running one: it attaches.
    ['running', true, { kind: 'skip', reason: 'already_running', attempt: 2, runDir: runDir('aaaa1111_abc1234') }],
    ['completed', false, { kind: 'skip', reason: 'already_completed', attempt: 2, runDir: runDir('aaaa1111_abc1234') }],
    ['completed', true, { kind: 'start', attempt: 3, previousFailure: earlier, abandon: null }],
    ['failed', false, { kind: 'start', attempt: 3, previousFailure: earlier, abandon: null }],
    ['failed', true, { kind: 'start', attempt: 3, previousFailure: earlier, abandon: null }],
    // A --smoke-only pass produced no results: a normal request runs the experiment.
    ['smoke_passed', false, { kind: 'start', attempt: 3, previousFailure: earlier, abandon: null }],
    ['smoke_passed', true, { kind: 'start', attempt: 3, previousFailure: earlier, abandon: null }],
    // A cancelled attempt was stopped on purpose: the next request starts a new one.
    ['cancelled', false, { kind: 'start', attempt: 3, previousFailure: earlier, abandon: null }],
  ] as const)('given %s and force=%s → %j', (status, force, expected) => {
    const current = status === '(none)' ? undefined : entry(status, 2, earlier);
    expect(decideRequest(current, force)).toEqual(expected);
  });

  describe('a running attempt whose stream has been silent', () => {
    const running = () => entry('running', 2, earlier);

    it('given --force and a silence of at least stale-after, when decided, then a new attempt starts and the old one is abandoned', () => {
      expect(decideRequest(running(), true, { idleS: 600, staleAfterS: 600 })).toEqual({
        kind: 'start',
        attempt: 3,
        previousFailure: earlier,
        abandon: { attempt: 2, idleS: 600, staleAfterS: 600 },
      });
    });

    it('given --force and a shorter silence, when decided, then the request attaches', () => {
      expect(decideRequest(running(), true, { idleS: 599.9, staleAfterS: 600 })).toMatchObject({ kind: 'skip', reason: 'already_running', attempt: 2 });
    });

    it('given no --force, when decided, then the request attaches however long the silence', () => {
      expect(decideRequest(running(), false, { idleS: 86_400, staleAfterS: 600 })).toMatchObject({ kind: 'skip', reason: 'already_running' });
    });
  });
});

describe('decideCancel', () => {
  it('given an unknown identity, when cancelled, then it is refused as unknown', () => {
    expect(decideCancel(undefined, 'abcd1234_x')).toEqual({ kind: 'refuse', problem: 'unknown', reason: "no experiment 'abcd1234_x' in the registry (assay status lists them)" });
  });

  it.each(['completed', 'failed', 'cancelled', 'smoke_passed'] as const)('given a %s attempt, when cancelled, then it is refused as not running, naming the status', (status) => {
    const decision = decideCancel(entry(status, 2), 'aaaa1111_abc1234');
    expect(decision).toMatchObject({ kind: 'refuse', problem: 'not_running' });
    expect(decision.kind === 'refuse' && decision.reason).toContain(`attempt 2 is ${status}`);
  });

  it('given a running attempt, when cancelled, then that attempt is the one to cancel', () => {
    expect(decideCancel(entry('running', 3), 'aaaa1111_abc1234')).toEqual({ kind: 'cancel', attempt: 3, runDir: runDir('aaaa1111_abc1234') });
  });
});

describe('foldRegistry', () => {
  beforeEach(() => {
    clock = 0;
  });

  it('started → running, then completed with the summary and the finish time', () => {
    const s = started('aaaa1111_abc1234', 1);
    const c = completed('aaaa1111_abc1234', 1);
    expect(foldRegistry([s])[0]).toMatchObject({ status: 'running', attempt: 1, finishedAt: null, name: 'cfg-aaaa1111_abc1234', runDir: runDir('aaaa1111_abc1234') });
    expect(foldRegistry([s, c])[0]).toMatchObject({ status: 'completed', attempt: 1, finishedAt: c.occurredAt, summary: { normalized_mae: 0.25 }, failure: null });
  });

  it('given a re-evaluation round completing a finished attempt, then the finish time stays the run\'s and the round\'s time is kept apart', () => {
    const s = started('aaaa1111_abc1234', 1);
    const run = completed('aaaa1111_abc1234', 1, false, { normalized_mae: 0.25, evaluation_round: 1 });
    const round2 = completed('aaaa1111_abc1234', 1, false, { normalized_mae: 0.2, evaluation_round: 2 });
    const round3 = completed('aaaa1111_abc1234', 1, false, { normalized_mae: 0.19, evaluation_round: 3 });
    expect(foldRegistry([s, run])[0]).toMatchObject({ finishedAt: run.occurredAt, reevaluatedAt: null });
    expect(foldRegistry([s, run, round2, round3])[0]).toMatchObject({
      status: 'completed',
      finishedAt: run.occurredAt,
      reevaluatedAt: round3.occurredAt,
      summary: { normalized_mae: 0.19, evaluation_round: 3 },
    });
  });

  it('given an attempt that failed after inference and was re-evaluated, then it is completed, finished when it failed, re-evaluated later', () => {
    const s = started('aaaa1111_abc1234', 1);
    const fail = failed('aaaa1111_abc1234', 1, 'evaluation', 'data file changed');
    const round2 = completed('aaaa1111_abc1234', 1, false, { normalized_mae: 0.2, evaluation_round: 2 });
    expect(foldRegistry([s, fail, round2])[0]).toMatchObject({ status: 'completed', finishedAt: fail.occurredAt, reevaluatedAt: round2.occurredAt });
  });

  it('given a log from before evaluation rounds (no evaluation_round), then a completion sets the finish time as always', () => {
    const s = started('aaaa1111_abc1234', 1);
    const c = completed('aaaa1111_abc1234', 1);
    expect(foldRegistry([s, c])[0]).toMatchObject({ finishedAt: c.occurredAt, reevaluatedAt: null });
  });

  it('a failure records its stage and error', () => {
    const events = [started('bbbb2222_abc1234', 1), failed('bbbb2222_abc1234', 1, 'preflight', "model.id: 'nope' is not served by http://x/v1; it serves: sim/llm-8b")];
    expect(foldRegistry(events)[0]).toMatchObject({
      status: 'failed',
      attempt: 1,
      failure: { attempt: 1, stage: 'preflight', error: "model.id: 'nope' is not served by http://x/v1; it serves: sim/llm-8b" },
    });
  });

  it('a re-run (attempt 2) keeps the previous failure, and its own completion does not erase it', () => {
    const id = 'cccc3333_abc1234';
    const events = [started(id, 1), failed(id, 1, 'smoke', 'smoke test failed: all identical'), started(id, 2, { attempt: 1, stage: 'smoke', error: 'smoke test failed: all identical' })];
    expect(foldRegistry(events)[0]).toMatchObject({ status: 'running', attempt: 2, failure: { attempt: 1, stage: 'smoke' } });
    expect(foldRegistry([...events, completed(id, 2)])[0]).toMatchObject({ status: 'completed', attempt: 2, failure: { attempt: 1, stage: 'smoke', error: 'smoke test failed: all identical' } });
  });

  it('an end event of an older attempt does not change the current one', () => {
    const id = 'dddd4444_abc1234';
    expect(foldRegistry([started(id, 1), started(id, 2), failed(id, 1, 'inference', 'late')])[0]).toMatchObject({ status: 'running', attempt: 2, failure: null });
  });

  it('counts skipped requests since the last start', () => {
    const id = 'eeee5555_abc1234';
    const events = [started(id, 1), skipped(id, 1, 'already_running'), completed(id, 1), skipped(id, 1, 'already_completed'), skipped(id, 1, 'already_completed')];
    expect(foldRegistry(events)[0]).toMatchObject({ status: 'completed', skippedRequests: 3 });
    expect(foldRegistry([...events, started(id, 2)])[0]).toMatchObject({ status: 'running', attempt: 2, skippedRequests: 0 });
  });

  it('a --smoke-only completion is smoke_passed, not completed, so a normal request still runs', () => {
    const id = 'ffff6666_abc1234';
    const folded = foldRegistry([started(id, 1), completed(id, 1, true)])[0];
    expect(folded).toMatchObject({ status: 'smoke_passed', summary: { smoke: 'passed' } });
    expect(decideRequest(folded, false)).toEqual({ kind: 'start', attempt: 2, previousFailure: null, abandon: null });
  });

  it('a cancellation of the running attempt shows it cancelled with who and why; a late one of an older attempt changes nothing', () => {
    const id = 'abab7777_abc1234';
    const by = { host: 'h', user: 'u' };
    const cancel = (attempt: number) => event('experiment.cancelled', { identity: id, attempt, reason: 'wrong prompt', kind: 'cancel', by, requestId: null });
    expect(foldRegistry([started(id, 1), cancel(1)])[0]).toMatchObject({
      status: 'cancelled',
      attempt: 1,
      cancellation: { attempt: 1, kind: 'cancel', reason: 'wrong prompt', by: 'u@h' },
    });
    expect(foldRegistry([started(id, 1), cancel(1), started(id, 2)])[0]).toMatchObject({ status: 'running', attempt: 2, cancellation: null });
    expect(foldRegistry([started(id, 1), started(id, 2), cancel(1)])[0]).toMatchObject({ status: 'running', attempt: 2 });
    expect(foldRegistry([started(id, 1), completed(id, 1), cancel(1)])[0]).toMatchObject({ status: 'completed' });
  });

  it('ignores failures without an identity (bad config, missing file) and keeps identities apart, oldest first', () => {
    const events = [started('11111111_abc1234', 1), failed(null, null, 'config', 'bad'), started('22222222_abc1234', 1), completed('22222222_abc1234', 1)];
    const folded = foldRegistry(events);
    expect(folded.map((e) => [e.identity, e.status])).toEqual([
      ['11111111_abc1234', 'running'],
      ['22222222_abc1234', 'completed'],
    ]);
    expect(entryFromStream(events, '22222222_abc1234')?.status).toBe('completed');
    expect(entryFromStream(events, '33333333_abc1234')).toBeUndefined();
  });
});
