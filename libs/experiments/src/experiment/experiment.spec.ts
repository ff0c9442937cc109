import { createEvent, experimentStream, type AssayEvent, type EventContext, type ItemDef, type Phase } from '@assay/contracts';
import { decide, type Decision, type ExperimentCommand, type PlanMaker, type RequestCommand, type ScoreBatchCommand } from './decide';
import { allEvents, eventPages } from '../plan/plan-pages';
import { fold, type ExperimentState } from './state';
import { stagesOf } from './stages';

/*
 * Given/when/then on the experiment decider: given the events already in the stream, when a
 * command arrives, then the events it appends (or the input it asks for first).
 */

const IDENTITY = 'aaaa1111_abc12345';
const STREAM = experimentStream(IDENTITY);
const REQUEST_ID = '00000000-0000-4000-8000-000000000001';
const BY = { producer: 'test', codeVersion: 'abc12345' };
const ctx: EventContext = { stream: STREAM, correlationId: REQUEST_ID, causationId: null, producer: 'test', codeVersion: 'abc12345' };
const ITEMS: ItemDef[] = [
  { group: 'g', item: 'q1', question: 'q1?', min: 1, max: 5, kind: 'ordinal' },
  { group: 'g', item: 'q2', question: 'q2?', min: 0, max: 1, kind: 'binary' },
];
const CONFIG = { name: 'demo', method: 'llm_zero_shot', model: { id: 'm', max_failure_share: 0.25 }, smoke: { enabled: true, examples: 2 }, labels: { mode: 'raw' } };

const requested = (force = false, staleAfterS?: number) =>
  createEvent(
    'experiment.requested',
    { requestId: REQUEST_ID, configPath: 'demo.yaml', config: CONFIG, warnings: [], force, smokeOnly: false, requestedBy: { host: 'h', user: 'u' }, ...(staleAfterS ? { staleAfterS } : {}) },
    { ...ctx, stream: `request-${REQUEST_ID}` },
  );

const START = {
  requestId: REQUEST_ID,
  identity: IDENTITY,
  method: 'llm_zero_shot',
  config: CONFIG,
  configHash: 'ffff',
  identityAlgorithm: 'v1',
  dataHashes: { profiles: 'p', responses: 'r', items: 'i', split: 's' },
  codeVersion: 'abc12345',
  runDir: `/out/llm_zero_shot/experiments/${IDENTITY}`,
  warnings: [],
  forced: false,
  smokeOnly: false,
  host: 'h',
};

const started = (attempt = 1, smokeOnly = false) => createEvent('experiment.started', { ...START, smokeOnly, attempt, previousFailure: null }, ctx);
const planned = (attempt: number, phase: Phase, batches: number) =>
  createEvent(
    'experiment.planned',
    {
      identity: IDENTITY,
      attempt,
      phase,
      batches,
      prompts: batches * 2,
      items: ITEMS,
      split: { path: 's.json', sha256: 's', seed: 1, testFraction: 0.2, train: 1, test: 1, created: false },
      entities: batches,
      groups: ['g'],
      idealCachedTokens: null,
      totalPromptTokens: null,
      preflightWarnings: [],
    },
    ctx,
  );
const batchRequested = (attempt: number, phase: Phase, entity: string) =>
  createEvent(
    'inference.batch.requested',
    {
      identity: IDENTITY,
      attempt,
      phase,
      batchId: `${phase}:${entity}`,
      entityId: entity,
      index: 0,
      prefix: `profile ${entity}`,
      prompts: ITEMS.map((i) => ({ promptId: `${phase}:${entity}:${i.item}`, group: i.group, item: i.item, suffix: `${i.item}?`, actual: 1 })),
      model: { id: 'm', baseUrl: 'http://sim/v1', apiKeyEnv: null, temperature: 0, maxTokens: 8, seed: 0, stop: [], guidedJson: false, loraAdapter: null, requestTimeoutS: 60, maxRetries: 0, concurrency: 1 },
    },
    ctx,
  );
const answered = (attempt: number, phase: Phase, entity: string, output: string | null = '1') =>
  createEvent(
    'inference.completed',
    {
      identity: IDENTITY,
      attempt,
      phase,
      batchId: `${phase}:${entity}`,
      entityId: entity,
      worker: 'w1',
      prefixTokens: null,
      results: ITEMS.map((i) => ({
        promptId: `${phase}:${entity}:${i.item}`,
        status: output === null ? ('error' as const) : ('ok' as const),
        outputText: output,
        error: output === null ? 'server gone' : null,
        finishReason: 'stop',
        promptTokens: 3,
        completionTokens: 1,
        cachedTokens: 0,
        latencyMs: 1,
        attempts: 1,
      })),
    },
    ctx,
  );
const smokeChecked = (attempt: number, passed: boolean) =>
  createEvent('evaluation.smoke.checked', { identity: IDENTITY, attempt, passed, checks: [{ check: 'parses', passed, detail: passed ? 'ok' : '2 of 2 unparseable' }], examples: [] }, ctx);
const failed = (attempt: number, stage: 'inference' | 'smoke') => createEvent('experiment.failed', { requestId: REQUEST_ID, identity: IDENTITY, attempt, stage, error: 'boom', details: [] }, ctx);
const completed = (attempt: number) => createEvent('experiment.completed', { identity: IDENTITY, attempt, runDir: START.runDir, smokeOnly: false, summary: { normalized_mae: 0.2 } }, ctx);

/** A plan maker like the planner's: experiment.planned + one batch per entity, stamped with the stage's key. */
const plan: PlanMaker = ({ attempt, stage }) => {
  const phase = stage.phase!;
  const entities = phase === 'smoke' ? ['e1'] : ['e1', 'e2'];
  return eventPages([{ ...planned(attempt, phase, entities.length), data: { ...planned(attempt, phase, entities.length).data, stageKey: stage.key } }, ...entities.map((e) => batchRequested(attempt, phase, e))]);
};

const given = (...events: AssayEvent[]): ExperimentState => fold(events);
/** A decision's events, a plan's pages included. */
const appended = (d: Extract<Decision, { kind: 'append' }>) => [...d.events, ...(d.plan ? allEvents(d.plan) : [])];
const types = (d: Decision) => (d.kind === 'append' ? appended(d).map((e) => e.type) : d.kind === 'need' ? [`need:${d.need.input}`] : [`refuse:${d.problem}`]);
const eventsOf = (d: Decision) => {
  if (d.kind !== 'append') throw new Error(`expected events, got ${JSON.stringify(d)}`);
  return appended(d);
};
const request = (over: Partial<RequestCommand> = {}): RequestCommand => ({ type: 'request', request: requested(), start: START, idleS: 0, by: BY, preflight: { ok: true, plan }, ...over });
const when = (command: ExperimentCommand, state: ExperimentState) => decide(command, state);

/** The stream of a run whose smoke test passed and whose full run was planned. */
const fullRunPlanned = () => [started(1), ...allEvents(plan({ ctx, identity: IDENTITY, attempt: 1, stage: stagesOf(START)[0] })), smokeChecked(1, true), ...allEvents(plan({ ctx, identity: IDENTITY, attempt: 1, stage: stagesOf(START)[1] }))];

describe('experiment decider: request', () => {
  it('given no stream, when requested, then attempt 1 starts with its stages recorded and its smoke stage planned', () => {
    const events = eventsOf(when(request(), given()));
    expect(events.map((e) => e.type)).toEqual(['experiment.started', 'experiment.planned', 'inference.batch.requested']);
    const startedData = events[0].data as { attempt: number; stages: Array<{ name: string; key: string }> };
    expect(startedData.attempt).toBe(1);
    expect(startedData.stages.map((s) => s.name)).toEqual(['smoke_inference', 'inference', 'scoring', 'report']);
    expect((events[1].data as { phase: string; stageKey: string }).stageKey).toBe(startedData.stages[0].key);
  });

  it('given no stream, when requested without a pre-flight yet, then the decider asks for it (a skipped request never runs one)', () => {
    expect(types(when(request({ preflight: undefined }), given()))).toEqual(['need:preflight']);
  });

  it('given a running attempt, when the same request comes again, then it attaches: skipped as already running, no model call', () => {
    const events = eventsOf(when(request({ request: requested(), preflight: undefined }), given(started(1))));
    expect(events.map((e) => [e.type, (e.data as { reason?: string }).reason])).toEqual([['experiment.skipped', 'already_running']]);
  });

  it('given a completed attempt, when requested, then skipped as already completed without asking for a pre-flight (no model call)', () => {
    expect(eventsOf(when(request({ preflight: undefined }), given(started(1), completed(1)))).map((e) => (e.data as { reason: string }).reason)).toEqual(['already_completed']);
  });

  it('given a completed attempt, when requested with --force, then attempt 2 starts', () => {
    const events = eventsOf(when(request({ request: requested(true) }), given(started(1), completed(1))));
    expect(events[0]).toMatchObject({ type: 'experiment.started', data: { attempt: 2, previousFailure: null } });
  });

  it('given a failed attempt, when requested, then attempt 2 starts and carries the failure', () => {
    const events = eventsOf(when(request(), given(started(1), failed(1, 'inference'))));
    expect(events[0]).toMatchObject({ type: 'experiment.started', data: { attempt: 2, previousFailure: { attempt: 1, stage: 'inference', error: 'boom' } } });
  });

  it('given a running attempt silent for longer than stale-after, when requested with --force, then it is abandoned and attempt 2 starts', () => {
    const events = eventsOf(when(request({ request: requested(true, 60), idleS: 61 }), given(started(1))));
    expect(events.map((e) => e.type).slice(0, 2)).toEqual(['experiment.cancelled', 'experiment.started']);
    expect(events[0].data).toMatchObject({ attempt: 1, kind: 'abandoned' });
  });

  it('given a running attempt active recently, when requested with --force, then it attaches (never two at once)', () => {
    expect(eventsOf(when(request({ request: requested(true, 60), idleS: 5 }), given(started(1))))[0]).toMatchObject({ type: 'experiment.skipped', data: { reason: 'already_running' } });
  });

  it('given a pre-flight that failed, when requested, then the attempt starts and fails at its stage', () => {
    const events = eventsOf(when(request({ preflight: { ok: false, stage: 'preflight', error: 'model not served', details: [] } }), given()));
    expect(events.map((e) => e.type)).toEqual(['experiment.started', 'experiment.failed']);
    expect(events[1].data).toMatchObject({ stage: 'preflight', error: 'model not served' });
  });

  it('given the request was already decided (its events are in the stream), when it is redelivered, then nothing new', () => {
    const req = requested();
    const first = eventsOf(when(request({ request: req }), given()));
    expect(eventsOf(when(request({ request: req }), given(...first)))).toEqual([]);
  });
});

describe('experiment decider: smoke result', () => {
  const smokeRun = () => [started(1), ...allEvents(plan({ ctx, identity: IDENTITY, attempt: 1, stage: stagesOf(START)[0] }))];

  it('given a smoke test that failed, when its result comes, then the attempt fails at smoke', () => {
    const events = eventsOf(when({ type: 'smoke_result', event: smokeChecked(1, false), by: BY }, given(...smokeRun())));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'experiment.failed', data: { stage: 'smoke', error: 'smoke test failed: parses: 2 of 2 unparseable' } });
  });

  it('given a smoke test that passed, when its result comes, then the decider asks for the full plan, and plans the full run with it', () => {
    const state = given(...smokeRun());
    expect(types(when({ type: 'smoke_result', event: smokeChecked(1, true), by: BY }, state))).toEqual(['need:next_plan']);
    const events = eventsOf(when({ type: 'smoke_result', event: smokeChecked(1, true), by: BY, nextPlan: { ok: true, plan } }, state));
    expect(events.map((e) => [e.type, (e.data as { phase: string }).phase])).toEqual([
      ['experiment.planned', 'full'],
      ['inference.batch.requested', 'full'],
      ['inference.batch.requested', 'full'],
    ]);
  });

  it('given its plan was decided and only partly appended (the planner stopped between chunks), when the smoke result is redelivered, then the same plan again; once complete, nothing', () => {
    const result = smokeChecked(1, true);
    const full = eventsOf(when({ type: 'smoke_result', event: result, by: BY, nextPlan: { ok: true, plan } }, given(...smokeRun())));
    const firstChunk = full.slice(0, 2).map((e) => ({ ...e, metadata: { ...e.metadata, causationId: result.id } }));
    const again = when({ type: 'smoke_result', event: result, by: BY, nextPlan: { ok: true, plan } }, given(...smokeRun(), ...firstChunk));
    expect(types(again)).toEqual(['experiment.planned', 'inference.batch.requested', 'inference.batch.requested']);
    const all = eventsOf(again).map((e) => ({ ...e, metadata: { ...e.metadata, causationId: result.id } }));
    expect(types(when({ type: 'smoke_result', event: result, by: BY }, given(...smokeRun(), ...all)))).toEqual([]);
  });

  it('given a --smoke-only run, when its smoke test passed, then the attempt completes as smoke-only', () => {
    const state = given(started(1, true), ...allEvents(plan({ ctx, identity: IDENTITY, attempt: 1, stage: stagesOf({ ...START, smokeOnly: true })[0] })));
    expect(eventsOf(when({ type: 'smoke_result', event: smokeChecked(1, true), by: BY }, state))[0]).toMatchObject({ type: 'experiment.completed', data: { smokeOnly: true } });
  });

  it('given data changed since the start, when the smoke test passed, then the attempt fails at pre-flight', () => {
    const events = eventsOf(when({ type: 'smoke_result', event: smokeChecked(1, true), by: BY, nextPlan: { ok: false, error: 'the data files changed since the run started' } }, given(...smokeRun())));
    expect(events[0]).toMatchObject({ type: 'experiment.failed', data: { stage: 'preflight' } });
  });

  it('given an attempt cancelled during its smoke test, when the result comes, then nothing is appended and the log says why', () => {
    const cancelled = eventsOf(when({ type: 'cancel', identity: IDENTITY, reason: 'wrong model', requestedBy: { host: 'h', user: 'u' }, by: BY }, given(...smokeRun())));
    const decision = when({ type: 'smoke_result', event: smokeChecked(1, true), by: BY }, given(...smokeRun(), ...cancelled));
    expect(decision).toEqual({ kind: 'append', events: [], said: ['smoke result not acted on: the attempt ended (cancelled by u@h: wrong model)'] });
  });
});

describe('experiment decider: scored batch', () => {
  const CACHE = { promptTokens: 0, cachedTokens: 0, hitRate: null, idealHitRate: null };
  const score = (state: ExperimentState, outcome = answered(1, 'full', 'e1'), supplied: Partial<ScoreBatchCommand> = {}) => {
    const request = batchRequested(outcome.data.attempt, outcome.data.phase, outcome.data.entityId);
    return when({ type: 'score_batch', event: outcome, by: BY, request, ...supplied }, state);
  };
  /** The full run with its first batch (e1) scored, and the last one's (e2) answer. */
  const lastBatchOfFullRun = (lastOutput: string | null = '1') => {
    const first = answered(1, 'full', 'e1');
    return { state: given(...fullRunPlanned(), first, ...eventsOf(score(given(...fullRunPlanned()), first))), last: answered(1, 'full', 'e2', lastOutput) };
  };

  it('given a batch that is not the last of its stage, when scored, then only evaluation.batch.scored', () => {
    expect(types(score(given(...fullRunPlanned())))).toEqual(['evaluation.batch.scored']);
  });

  it('given the stage prompts are unknown to the decider, when a batch comes, then it asks for the batch request first', () => {
    expect(types(when({ type: 'score_batch', event: answered(1, 'full', 'e1'), by: BY }, given(...fullRunPlanned())))).toEqual(['need:batch_request']);
  });

  it('given every other batch of the full run scored, when the last one is scored, then the scoring stage asks for the evaluation of this batch and the earlier ones in the log, and completes with its stage key', () => {
    const { state, last } = lastBatchOfFullRun();
    const asked = score(state, last);
    expect(asked.kind === 'need' && asked.need.input === 'evaluation' && [asked.need.predictions.map((p) => p.promptId), asked.need.earlier, asked.need.items]).toEqual([
      ['full:e2:q1', 'full:e2:q2'],
      { phase: 'full', round: 1 },
      ITEMS,
    ]);
    const decision = score(state, last, { evaluation: { result: { method: {} }, cache: CACHE, predictions: 4 } });
    const events = eventsOf(decision);
    expect(events.map((e) => e.type)).toEqual(['evaluation.batch.scored', 'evaluation.completed']);
    expect(events[1].data).toMatchObject({ round: 1, reevaluation: null, stageKey: stagesOf(START).find((s) => s.name === 'scoring')!.key });
    expect(decision.kind === 'append' && decision.said).toEqual(['evaluation of 4 predictions complete']);
  });

  it('given the full run\'s last batch, when it is scored, then it never asks for the earlier predictions (a whole run in one array): only for the evaluation', () => {
    const { state, last } = lastBatchOfFullRun();
    const asked: string[] = [];
    let command: ScoreBatchCommand = { type: 'score_batch', event: last, by: BY, request: batchRequested(1, 'full', 'e2') };
    for (let decision = when(command, state); decision.kind === 'need'; decision = when(command, state)) {
      asked.push(decision.need.input);
      if (decision.need.input !== 'evaluation') throw new Error(`the last batch asked for ${decision.need.input}`);
      command = { ...command, evaluation: { result: { method: {} }, cache: CACHE, predictions: 4 } };
    }
    expect(asked).toEqual(['evaluation']);
  });

  it('given the smoke stage with one batch, when it is scored, then the gate asks for its earlier predictions (a few examples) and runs the smoke checks (evaluation.smoke.checked)', () => {
    const state = given(started(1), ...allEvents(plan({ ctx, identity: IDENTITY, attempt: 1, stage: stagesOf(START)[0] })));
    expect(types(score(state, answered(1, 'smoke', 'e1')))).toEqual(['need:earlier_predictions']);
    const events = eventsOf(score(state, answered(1, 'smoke', 'e1'), { earlierPredictions: [] }));
    expect(events.map((e) => e.type)).toEqual(['evaluation.batch.scored', 'evaluation.smoke.checked']);
    expect(events[1].data).toMatchObject({ stageKey: stagesOf(START)[0].key, examples: [{ entityId: 'e1', item: 'q1', output: '1' }, { entityId: 'e1', item: 'q2', output: '1' }] });
  });

  it('given a server that failed every call, when the failed share passes model.max_failure_share, then the decider asks only for the earlier failures\' errors and the attempt fails at inference at once', () => {
    const state = given(...fullRunPlanned());
    expect(types(score(state, answered(1, 'full', 'e1', null)))).toEqual(['need:earlier_failure_errors']);
    const events = eventsOf(score(state, answered(1, 'full', 'e1', null), { earlierFailureErrors: [] }));
    expect(events.map((e) => e.type)).toEqual(['evaluation.batch.scored', 'experiment.failed']);
    expect(events[1].data).toMatchObject({ stage: 'inference', details: ['error: server gone (x2)', expect.stringMatching(/no --force needed/)] });
  });

  it('given earlier failures in the log, when the last batch passes model.max_failure_share, then the message counts their errors before this batch\'s', () => {
    const { state, last } = lastBatchOfFullRun(null);
    const events = eventsOf(score(state, last, { earlierFailureErrors: ['HTTP 503: overloaded'] }));
    expect(events[1].data).toMatchObject({ stage: 'inference', details: ['error: HTTP 503: overloaded', 'error: server gone (x2)', expect.stringMatching(/no --force needed/)] });
  });

  it('given an attempt that was cancelled, when a batch comes, then nothing is scored', () => {
    const cancelled = eventsOf(when({ type: 'cancel', identity: IDENTITY, reason: 'stop', requestedBy: { host: 'h', user: 'u' }, by: BY }, given(...fullRunPlanned())));
    expect(types(score(given(...fullRunPlanned(), ...cancelled)))).toEqual([]);
  });

  it('given a batch already scored (its events are in the stream), when its outcome is redelivered, then nothing new', () => {
    const outcome = answered(1, 'full', 'e1');
    const scored = eventsOf(score(given(...fullRunPlanned()), outcome));
    expect(types(score(given(...fullRunPlanned(), outcome, ...scored), outcome))).toEqual([]);
  });
});

describe('experiment decider: report', () => {
  const evaluation = (reevaluation: { requestId: string; reason: string | null; requestedBy: { host: string; user: string } } | null = null) =>
    createEvent('evaluation.completed', { identity: IDENTITY, attempt: 1, round: reevaluation ? 2 : 1, evaluatorVersion: 'v', reevaluation, result: {}, cache: { promptTokens: 0, cachedTokens: 0, hitRate: null, idealHitRate: null } }, ctx);
  const built = { attempt: 1, round: 1, runDir: START.runDir, files: 9, treeHash: 'tree', summary: { normalized_mae: 0.2 } };

  it('given the run evaluated, when its tree is written, then report.generated (with the report stage key) and experiment.completed', () => {
    const event = evaluation();
    expect(types(when({ type: 'report', event, by: BY }, given(...fullRunPlanned())))).toEqual(['need:report']);
    const events = eventsOf(when({ type: 'report', event, by: BY, built }, given(...fullRunPlanned())));
    expect(events.map((e) => e.type)).toEqual(['report.generated', 'experiment.completed']);
    expect(events[0].data).toMatchObject({ treeHash: 'tree', stageKey: stagesOf(START).find((s) => s.kind === 'report')!.key });
  });

  it('given the attempt was cancelled while it was evaluated, when the run evaluation comes, then nothing (no tree is built)', () => {
    const cancelled = eventsOf(when({ type: 'cancel', identity: IDENTITY, reason: 'stop', requestedBy: { host: 'h', user: 'u' }, by: BY }, given(...fullRunPlanned())));
    expect(types(when({ type: 'report', event: evaluation(), by: BY }, given(...fullRunPlanned(), ...cancelled)))).toEqual([]);
  });

  it('given a failed attempt, when a re-evaluation round completes, then it is reported all the same', () => {
    const event = evaluation({ requestId: REQUEST_ID, reason: 'parser fix', requestedBy: { host: 'h', user: 'u' } });
    expect(types(when({ type: 'report', event, by: BY }, given(...fullRunPlanned(), failed(1, 'inference'))))).toEqual(['need:report']);
  });
});

describe('experiment decider: give up', () => {
  const giveUp = (event: AssayEvent, state: ExperimentState) => when({ type: 'give_up', event, reason: 'crashed 5 times', by: { producer: 'evaluator', codeVersion: 'abc12345' } }, state);

  it.each([
    ['inference.batch.requested', () => batchRequested(1, 'full', 'e1'), 'inference'],
    ['inference.completed', () => answered(1, 'full', 'e1'), 'evaluation'],
    ['evaluation.smoke.checked', () => smokeChecked(1, true), 'smoke'],
  ] as const)('given a running attempt, when a service gives up on %s, then the attempt fails at %s', (_, event, stage) => {
    const e = event();
    const events = eventsOf(giveUp(e, given(...fullRunPlanned())));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'experiment.failed', data: { stage, error: `evaluator gave up on ${e.type} ${e.id}: crashed 5 times` } });
  });

  it('given the report stage, when the reporter gives up on evaluation.completed, then the attempt fails at report', () => {
    const evaluation = createEvent('evaluation.completed', { identity: IDENTITY, attempt: 1, round: 1, evaluatorVersion: 'v', reevaluation: null, result: {}, cache: { promptTokens: 0, cachedTokens: 0, hitRate: null, idealHitRate: null } }, ctx);
    expect(eventsOf(giveUp(evaluation, given(...fullRunPlanned())))[0]).toMatchObject({ data: { stage: 'report' } });
  });

  it('given a running attempt, when a service gives up on inference.failed, then the attempt fails at evaluation', () => {
    const e = createEvent('inference.failed', { identity: IDENTITY, attempt: 1, phase: 'full', batchId: 'full:e1', entityId: 'e1', worker: 'w1', error: 'server gone' }, ctx);
    expect(eventsOf(giveUp(e, given(...fullRunPlanned())))[0]).toMatchObject({ type: 'experiment.failed', data: { stage: 'evaluation' } });
  });

  it('given a running attempt, when a service gives up on a message that stops no run (experiment.completed, kept for projections), then nothing', () => {
    expect(types(giveUp(completed(1), given(...fullRunPlanned())))).toEqual([]);
  });

  it('given an attempt that already ended, when a service gives up on one of its messages, then nothing', () => {
    expect(types(giveUp(answered(1, 'full', 'e1'), given(...fullRunPlanned(), completed(1))))).toEqual([]);
  });
});

describe('experiment decider: cancel', () => {
  it('given a running attempt, when cancelled, then experiment.cancelled for it, in its correlation', () => {
    const events = eventsOf(when({ type: 'cancel', identity: IDENTITY, reason: 'wrong model', requestedBy: { host: 'h', user: 'u' }, by: BY }, given(started(1))));
    expect(events[0]).toMatchObject({ type: 'experiment.cancelled', data: { attempt: 1, kind: 'cancel', reason: 'wrong model' }, metadata: { correlationId: REQUEST_ID } });
  });

  it('given a completed attempt, when cancelled, then refused: not running', () => {
    expect(types(when({ type: 'cancel', identity: IDENTITY, reason: 'x', requestedBy: { host: 'h', user: 'u' }, by: BY }, given(started(1), completed(1))))).toEqual(['refuse:not_running']);
  });

  it('given no stream, when cancelled, then refused: unknown', () => {
    expect(types(when({ type: 'cancel', identity: IDENTITY, reason: 'x', requestedBy: { host: 'h', user: 'u' }, by: BY }, given()))).toEqual(['refuse:unknown']);
  });
});

describe('experiment state', () => {
  it('given events, when folded, then the version counts them and an attempt keeps its stage keys', () => {
    const state = given(...fullRunPlanned());
    expect(state.version).toBe(BigInt(fullRunPlanned().length));
    expect(state.attempts.get(1)!.stages.map((s) => s.key)).toEqual(stagesOf(START).map((s) => s.key));
  });

  it('given a stage parameter changes, when keyed, then that stage and every stage reading it get new keys, and a stage it does not read keeps its key', () => {
    const before = stagesOf(START);
    const after = stagesOf({ ...START, config: { ...CONFIG, labels: { mode: 'binary' } } });
    const changed = before.filter((s, i) => s.key !== after[i].key).map((s) => s.name);
    expect(changed).toEqual(['smoke_inference', 'inference', 'scoring', 'report']);
    const smokeOnlyChange = stagesOf({ ...START, config: { ...CONFIG, smoke: { enabled: true, examples: 3 } } });
    expect(before.filter((s, i) => s.key !== smokeOnlyChange[i].key).map((s) => s.name)).toEqual(['smoke_inference']);
  });
});

describe('experiment decider: re-evaluate', () => {
  const EVAL_REQUEST_ID = '00000000-0000-4000-8000-000000000002';
  const REQUEST_STREAM = `request-${EVAL_REQUEST_ID}`;
  const CACHE = { promptTokens: 0, cachedTokens: 0, hitRate: null, idealHitRate: null };
  const evaluationRequested = () =>
    createEvent('evaluation.requested', { requestId: EVAL_REQUEST_ID, identity: IDENTITY, attempt: null, reason: 'parser fix', requestedBy: { host: 'h', user: 'u' } }, { ...ctx, stream: REQUEST_STREAM });
  const runEvaluated = () => createEvent('evaluation.completed', { identity: IDENTITY, attempt: 1, round: 1, evaluatorVersion: 'v', reevaluation: null, result: {}, cache: CACHE }, ctx);
  /** A run whose full phase was answered, evaluated (round 1) and completed. */
  const completedRun = () => [...fullRunPlanned(), answered(1, 'full', 'e1'), answered(1, 'full', 'e2'), runEvaluated(), completed(1)];
  const reevaluate = (stream: AssayEvent[], over: Partial<Extract<ExperimentCommand, { type: 'reevaluate' }>> = {}, event = evaluationRequested()) =>
    when({ type: 'reevaluate', event, by: BY, inputs: { events: stream, givenUp: new Set() }, ...over }, given(...stream));

  it('given a completed run, when re-evaluation is requested, then the decider asks for the log, then whether the data changed, then the evaluation of the re-scored predictions', () => {
    const stream = completedRun();
    expect(types(when({ type: 'reevaluate', event: evaluationRequested(), by: BY }, given(...stream)))).toEqual(['need:reevaluation_inputs']);
    expect(types(reevaluate(stream))).toEqual(['need:data_changed']);
    const asked = reevaluate(stream, { dataChanged: null });
    expect(asked.kind === 'need' && asked.need.input === 'evaluation' && [asked.need.predictions.length, asked.need.items, asked.need.earlier]).toEqual([4, ITEMS, null]);
  });

  it('given a completed run and its evaluation, when re-evaluation is accepted, then round 2: every full batch re-scored and evaluation.completed naming the request', () => {
    const decision = reevaluate(completedRun(), { dataChanged: null, evaluation: { result: { method: {} }, cache: CACHE } });
    const events = eventsOf(decision);
    expect(events.map((e) => [e.type, e.stream])).toEqual([
      ['evaluation.batch.scored', STREAM],
      ['evaluation.batch.scored', STREAM],
      ['evaluation.completed', STREAM],
    ]);
    expect(events.map((e) => e.data)).toMatchObject([
      { round: 2, phase: 'full', batchId: 'full:e1' },
      { round: 2, phase: 'full', batchId: 'full:e2' },
      { attempt: 1, round: 2, reevaluation: { requestId: EVAL_REQUEST_ID, reason: 'parser fix', requestedBy: { host: 'h', user: 'u' } } },
    ]);
    expect(decision.kind === 'append' && decision.said).toEqual([expect.stringMatching(/^evaluation round 2 of attempt 1 .*re-scored 2 batches from the log, no model calls; 0 parse failures$/)]);
  });

  it('given a run still being evaluated (inference done, no round 1, no end), when re-evaluation is requested, then refused in the request stream', () => {
    const events = eventsOf(reevaluate([...fullRunPlanned(), answered(1, 'full', 'e1'), answered(1, 'full', 'e2')]));
    expect(events.map((e) => [e.type, e.stream])).toEqual([['evaluation.rejected', REQUEST_STREAM]]);
    expect(events[0].data).toMatchObject({ requestId: EVAL_REQUEST_ID, attempt: 1, reason: expect.stringContaining('still being evaluated') });
  });

  it('given no experiment of that identity, when re-evaluation is requested, then refused: unknown', () => {
    const events = eventsOf(reevaluate([]));
    expect(events[0]).toMatchObject({ type: 'evaluation.rejected', data: { attempt: null, reason: expect.stringContaining('no experiment with identity') } });
  });

  it('given data files changed since the start, when re-evaluation is requested, then refused with what changed (baselines would use other data)', () => {
    const events = eventsOf(reevaluate(completedRun(), { dataChanged: 'responses.csv changed' }));
    expect(events[0]).toMatchObject({ type: 'evaluation.rejected', data: { attempt: 1, reason: 'responses.csv changed' } });
  });

  it('given the round was already appended, when the same request is redelivered, then nothing new', () => {
    const request = evaluationRequested();
    const round = eventsOf(reevaluate(completedRun(), { dataChanged: null, evaluation: { result: { method: {} }, cache: CACHE } }, request));
    const stream = [...completedRun(), ...round];
    expect(types(reevaluate(stream, {}, request))).toEqual([]);
  });
});
