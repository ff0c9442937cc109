import type { AnyEnvelope } from '@assay/contracts';
import { decideReevaluation, evaluationRounds, latestEvaluation, roundOf } from './evaluation-rounds';

const ID = 'abcd1234_deadbee';
let seq = 0;

/** Only the fields the round logic reads: type, id, data (attempt, phase, batchId, round ...). */
function ev(type: string, data: Record<string, unknown>, codeVersion = 'abc1234'): AnyEnvelope {
  seq += 1;
  return {
    id: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    type,
    schemaVersion: 1,
    stream: `experiment-${ID}`,
    occurredAt: new Date(Date.UTC(2025, 0, 1, 0, 0, seq)).toISOString(),
    data: { identity: ID, ...data },
    metadata: { correlationId: 'req', causationId: 'req', producer: 'test', codeVersion },
  };
}

const started = (attempt: number, smokeOnly = false) => ev('experiment.started', { attempt, smokeOnly, method: 'llm_zero_shot', runDir: '/out' });
const planned = (attempt: number, batches: number, phase = 'full') => ev('experiment.planned', { attempt, phase, batches, items: [] });
const request = (attempt: number, batchId: string, phase = 'full') => ev('inference.batch.requested', { attempt, phase, batchId, entityId: `entity-${batchId}`, prompts: [] });
const completed = (attempt: number, batchId: string) => ev('inference.completed', { attempt, phase: 'full', batchId, results: [] });
const inferenceFailed = (attempt: number, batchId: string) => ev('inference.failed', { attempt, phase: 'full', batchId, error: 'model gone' });
const evaluated = (attempt: number, round?: number) =>
  ev('evaluation.completed', { attempt, evaluatorVersion: 'eval/v1', result: {}, ...(round === undefined ? {} : { round, reevaluation: null }) });
const ended = (attempt: number) => ev('experiment.completed', { attempt, smokeOnly: false, runDir: '/out', summary: {} });
const failed = (attempt: number, stage: string, error: string) => ev('experiment.failed', { attempt, stage, error });

/** An attempt whose full run inferred both of its batches. */
function inferred(attempt = 1): AnyEnvelope[] {
  return [started(attempt), planned(attempt, 2), request(attempt, 'b1'), request(attempt, 'b2'), completed(attempt, 'b1'), inferenceFailed(attempt, 'b2')];
}

const decide = (events: AnyEnvelope[], requestedAttempt: number | null = null, givenUp: Set<string> = new Set()) =>
  decideReevaluation({ identity: ID, events, requestedAttempt, givenUp });

describe('evaluation rounds', () => {
  it('an evaluation event logged before rounds existed is round 1', () => {
    expect(roundOf(evaluated(1))).toBe(1);
    expect(roundOf(evaluated(1, 3))).toBe(3);
  });

  it('the run directory shows the latest round of the latest evaluated attempt, whatever the log order', () => {
    expect(latestEvaluation([started(1)])).toBeNull();
    expect(latestEvaluation([evaluated(1), evaluated(1, 2)])).toEqual({ attempt: 1, round: 2 });
    // A late round-1 event after round 2 (a redelivery) does not bring round 1 back.
    expect(latestEvaluation([evaluated(1), evaluated(1, 3), evaluated(1, 2)])).toEqual({ attempt: 1, round: 3 });
    expect(latestEvaluation([evaluated(1, 2), evaluated(2)])).toEqual({ attempt: 2, round: 1 });
  });

  it('lists every round with its evaluator version and code version, and who asked for a re-evaluation', () => {
    const request = { requestId: '00000000-0000-4000-8000-00000000abcd', reason: 'parser fix', requestedBy: { host: 'h', user: 'u' } };
    const rounds = evaluationRounds([evaluated(1), { ...ev('evaluation.completed', { attempt: 1, round: 2, evaluatorVersion: 'eval/v2', reevaluation: request }, 'fff0000') }]);
    expect(rounds.map((r) => [r.round, r.evaluatorVersion, r.codeVersion, r.reevaluation?.reason ?? null])).toEqual([
      [1, 'eval/v1', 'abc1234', null],
      [2, 'eval/v2', 'fff0000', 'parser fix'],
    ]);
  });
});

describe('decideReevaluation', () => {
  it('given a completed attempt, re-scores every planned batch as round 2, inference failures included', () => {
    const decision = decide([...inferred(), evaluated(1), ended(1)]);
    expect(decision).toMatchObject({ kind: 'rescore', attempt: 1, round: 2, previousRound: 1 });
    if (decision.kind !== 'rescore') throw new Error('unreachable');
    expect(decision.batches.map((b) => [b.request.data.batchId, b.outcome.type])).toEqual([
      ['b1', 'inference.completed'],
      ['b2', 'inference.failed'],
    ]);
  });

  it('given rounds 1 and 2 already, the next is round 3', () => {
    expect(decide([...inferred(), evaluated(1), ended(1), evaluated(1, 2)])).toMatchObject({ kind: 'rescore', round: 3, previousRound: 2 });
  });

  it('given no experiment, refuses naming the identity', () => {
    expect(decide([])).toEqual({ kind: 'reject', attempt: null, reason: `no experiment with identity '${ID}' in the event log (see 'assay status')` });
  });

  it('given an attempt whose inference is still running, refuses and names a missing batch', () => {
    const events = [started(1), planned(1, 2), request(1, 'b1'), request(1, 'b2'), completed(1, 'b1')];
    const decision = decide(events);
    expect(decision.kind).toBe('reject');
    expect(decision.kind === 'reject' && decision.reason).toBe(
      `attempt 1 of ${ID} is still running: 1 of its 2 batches have no inference result (e.g. entity "entity-b2", batch b2); re-evaluation needs every batch's result`,
    );
  });

  it('given an attempt whose batches are not all requested yet, refuses: still running', () => {
    const decision = decide([started(1), planned(1, 3), request(1, 'b1'), completed(1, 'b1')]);
    expect(decision.kind === 'reject' && decision.reason).toMatch(/is still running: 2 of its 3 batches have no inference result/);
  });

  it('given an attempt that failed before its full run, refuses with the stage and error', () => {
    const decision = decide([started(1), planned(1, 1, 'smoke'), failed(1, 'smoke', 'smoke test failed: parse rate')]);
    expect(decision.kind === 'reject' && decision.reason).toBe(`attempt 1 of ${ID} failed at smoke before its full run (smoke test failed: parse rate): there are no inference results to evaluate`);
  });

  it('given a --smoke-only attempt, refuses: nothing to evaluate', () => {
    expect(decide([started(1, true)])).toMatchObject({ kind: 'reject', reason: expect.stringMatching(/--smoke-only run/) });
  });

  it('given inference done but round 1 still being scored, refuses until it ends', () => {
    expect(decide(inferred())).toMatchObject({ kind: 'reject', reason: expect.stringMatching(/still being evaluated/) });
  });

  it('given round 1 crashed (the evaluator gave up on a batch), re-evaluates as round 2', () => {
    const events = inferred();
    const givenUp = new Set([events[4].id]);
    expect(decide(events, null, givenUp)).toMatchObject({ kind: 'rescore', round: 2, previousRound: null });
  });

  it('given round 1 completed but the report failed (no experiment.completed), re-evaluates', () => {
    expect(decide([...inferred(), evaluated(1)])).toMatchObject({ kind: 'rescore', round: 2 });
  });

  it('given --attempt of an attempt that does not exist or was superseded, refuses saying which to use', () => {
    const events = [...inferred(1), evaluated(1), ended(1), ...inferred(2), evaluated(2), ended(2)];
    expect(decide(events, 3)).toMatchObject({ kind: 'reject', attempt: 3, reason: `${ID} has no attempt 3 (its attempts: 1 to 2)` });
    expect(decide(events, 1)).toMatchObject({ kind: 'reject', attempt: 1, reason: expect.stringMatching(/superseded by attempt 2.*reevaluate attempt 2/) });
    expect(decide(events, 2)).toMatchObject({ kind: 'rescore', attempt: 2, round: 2 });
  });
});
