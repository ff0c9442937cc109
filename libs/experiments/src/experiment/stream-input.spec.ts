import { randomUUID } from 'node:crypto';
import { createEvent, experimentStream, type AssayEvent, type EventContext, type ItemDef, type Phase } from '@assay/contracts';
import { prefixDigest } from '@assay/prompting';
import { decide, type Decision, type PlanMaker, type StreamPlanMaker } from './decide';
import { allEvents, eventPages } from '../plan/plan-pages';
import { fold, progressOf, type ExperimentState } from './state';
import { stagesOf } from './stages';

/*
 * Given/when/then on the decider's branches for a method with an entity-input stage (the
 * two-stage persona): the summaries are planned first, each entity's predictions start as soon
 * as its own summary is answered, the evaluator ignores summary answers, and an empty or failed
 * summary fails the run naming the entity.
 */

const IDENTITY = 'bbbb2222_persona1';
const REQUEST_ID = '00000000-0000-4000-8000-000000000002';
const BY = { producer: 'test', codeVersion: 'abc12345' };
const ctx: EventContext = { stream: experimentStream(IDENTITY), correlationId: REQUEST_ID, causationId: null, producer: 'test', codeVersion: 'abc12345' };
const ITEMS: ItemDef[] = [
  { group: 'g', item: 'q1', question: 'q1?', min: 1, max: 5, kind: 'ordinal' },
  { group: 'g', item: 'q2', question: 'q2?', min: 0, max: 1, kind: 'binary' },
];
const CONFIG = { name: 'persona', method: 'llm_persona_two_stage', model: { id: 'm', max_failure_share: 0.25 }, smoke: { enabled: true, examples: 2 }, labels: { mode: 'raw' }, llm_persona_two_stage: { max_tokens: 64 } };
const ENTITIES = ['e1', 'e2', 'e3'];
const MODEL = { id: 'm', baseUrl: 'http://sim/v1', apiKeyEnv: null, temperature: 0, maxTokens: 8, seed: 0, stop: [], guidedJson: false, loraAdapter: null, requestTimeoutS: 60, maxRetries: 0, concurrency: 1 };

const START = {
  requestId: REQUEST_ID,
  identity: IDENTITY,
  method: 'llm_persona_two_stage',
  config: CONFIG,
  configHash: 'ffff',
  identityAlgorithm: 'v1',
  dataHashes: { profiles: 'p', responses: 'r', items: 'i', split: 's' },
  codeVersion: 'abc12345',
  runDir: `/out/llm_persona_two_stage/experiments/${IDENTITY}`,
  warnings: [],
  forced: false,
  smokeOnly: false,
  host: 'h',
};
const requested = (smokeOnly = false) =>
  createEvent(
    'experiment.requested',
    { requestId: REQUEST_ID, configPath: 'p.yaml', config: CONFIG, warnings: [], force: false, smokeOnly, requestedBy: { host: 'h', user: 'u' } },
    { ...ctx, stream: `request-${REQUEST_ID}` },
  );
const started = () => createEvent('experiment.started', { ...START, attempt: 1, previousFailure: null }, ctx);
const planned = (phase: Phase, batches: number, items: ItemDef[]) =>
  createEvent(
    'experiment.planned',
    {
      identity: IDENTITY, attempt: 1, phase, batches, prompts: batches * Math.max(1, items.length), items,
      split: { path: 's.json', sha256: 's', seed: 1, testFraction: 0.2, train: 1, test: 3, created: false },
      entities: batches, groups: [], idealCachedTokens: null, totalPromptTokens: null, preflightWarnings: [],
    },
    ctx,
  );
const summaryRequested = (entity: string) =>
  createEvent(
    'inference.batch.requested',
    { identity: IDENTITY, attempt: 1, phase: 'summary', batchId: `summary:${entity}`, entityId: entity, index: 0, prefix: `summarize ${entity}`, prompts: [{ promptId: `summary:${entity}`, group: '', item: 'summary', suffix: '', actual: 0 }], model: MODEL },
    ctx,
  );
const predictionRequested = (entity: string) =>
  createEvent(
    'inference.batch.requested',
    { identity: IDENTITY, attempt: 1, phase: 'full', batchId: `full:${entity}`, entityId: entity, index: 0, prefix: `persona of ${entity}`, prompts: ITEMS.map((i) => ({ promptId: `full:${entity}:${i.item}`, group: i.group, item: i.item, suffix: `${i.item}?`, actual: 1 })), model: MODEL },
    ctx,
  );
const summaryAnswered = (entity: string, output: string | null) =>
  createEvent(
    'inference.completed',
    {
      identity: IDENTITY, attempt: 1, phase: 'summary', batchId: `summary:${entity}`, entityId: entity, worker: 'w1', prefixTokens: null,
      results: [{ promptId: `summary:${entity}`, status: output === null ? ('error' as const) : ('ok' as const), outputText: output, error: output === null ? 'server gone' : null, finishReason: 'stop', promptTokens: 9, completionTokens: 4, cachedTokens: 0, latencyMs: 1, attempts: 1 }],
    },
    workerCtx(),
  );

/** Like the planner's: the stage's experiment.planned (first batch only), then the entity's prediction batch. */
const streamPlan: StreamPlanMaker = ({ entityId, input, withPlanned, stage }) => [
  ...(withPlanned ? [{ ...planned('full', ENTITIES.length, ITEMS), data: { ...planned('full', ENTITIES.length, ITEMS).data, stageKey: stage.key } }] : []),
  { ...predictionRequested(entityId), data: { ...predictionRequested(entityId).data, prefix: `persona: ${input}` } },
];
const planSummaries: PlanMaker = ({ stage }) => eventPages([{ ...planned('summary', ENTITIES.length, []), data: { ...planned('summary', ENTITIES.length, []).data, stageKey: stage.key } }, ...ENTITIES.map(summaryRequested)]);

/** A worker's answer is caused by its batch request (not by itself, as an event without a cause would be). */
function workerCtx(): EventContext {
  return { ...ctx, causationId: randomUUID() };
}

const given = (...events: AssayEvent[]): ExperimentState => fold(events);
const summariesPlanned = () => [started(), ...allEvents(planSummaries({ ctx, identity: IDENTITY, attempt: 1, stage: stagesOf(START)[0] }))];
const types = (d: Decision) => (d.kind === 'append' ? d.events.map((e) => e.type) : d.kind === 'need' ? [`need:${d.need.input}`] : [`refuse:${d.problem}`]);
const streamInput = (event: ReturnType<typeof summaryAnswered>, withPlan = true) => ({ type: 'stream_input' as const, event, by: BY, ...(withPlan ? { streamPlan: { ok: true as const, plan: streamPlan } } : {}) });

describe('experiment decider: a method whose predictions read a per-entity summary', () => {
  it('given the method, then its stages are the summary (an entity-input stage), the predictions reading it, scoring and report: no smoke gate', () => {
    expect(stagesOf(START).map((s) => [s.name, s.kind, s.phase, s.reads])).toEqual([
      ['summary', 'llm_input', 'summary', []],
      ['inference', 'llm_inference', 'full', ['summary']],
      ['scoring', 'scoring', null, ['inference']],
      ['report', 'report', null, ['scoring']],
    ]);
  });

  it('given no stream, when requested, then the run starts with the summaries planned and no prediction batch yet', () => {
    const decision = decide({ type: 'request', request: requested(), start: START, idleS: 0, by: BY, preflight: { ok: true, plan: planSummaries } }, given());
    expect(types(decision)).toEqual(['experiment.started', 'experiment.planned', ...ENTITIES.map(() => 'inference.batch.requested')]);
    const events = decision.kind === 'append' ? decision.events : [];
    expect(events.slice(1).map((e) => (e.data as { phase: string }).phase)).toEqual(ENTITIES.map(() => 'summary').concat('summary'));
  });

  it('given a --smoke-only request, when decided, then the attempt fails at once saying the method has no smoke test (it would otherwise wait forever)', () => {
    const decision = decide({ type: 'request', request: requested(true), start: { ...START, smokeOnly: true }, idleS: 0, by: BY, preflight: { ok: true, plan: planSummaries } }, given());
    expect(types(decision)).toEqual(['experiment.started', 'experiment.failed']);
    const failed = decision.kind === 'append' ? decision.events[1] : undefined;
    expect(failed?.type === 'experiment.failed' && failed.data.error).toMatch(/no stage to run with --smoke-only/);
  });

  it('given the summaries planned, when the first summary is answered, then the stage reading it is planned and that entity\'s batch requested, with the other summaries still out', () => {
    const answer = summaryAnswered('e2', 'A cautious retired teacher.');
    const state = given(...summariesPlanned(), answer);
    expect(types(decide(streamInput(answer, false), state))).toEqual(['need:stream_plan']);
    const decision = decide(streamInput(answer), state);
    expect(types(decision)).toEqual(['experiment.planned', 'inference.batch.requested']);
    const [plannedEvent, batch] = decision.kind === 'append' ? decision.events : [];
    expect(plannedEvent.type === 'experiment.planned' && plannedEvent.data).toMatchObject({ phase: 'full', batches: 3, stageKey: stagesOf(START)[1].key });
    expect(batch.type === 'inference.batch.requested' && batch.data).toMatchObject({ entityId: 'e2', phase: 'full', prefix: 'persona: A cautious retired teacher.' });
  });

  it('given one entity\'s predictions already streaming, when another summary is answered, then only that entity\'s batch is requested (the stage is planned once)', () => {
    const first = summaryAnswered('e2', 'persona two');
    const second = summaryAnswered('e1', 'persona one');
    const state = given(...summariesPlanned(), first, ...streamPlan({ ctx, identity: IDENTITY, attempt: 1, stage: stagesOf(START)[1], entityId: 'e2', input: 'persona two', withPlanned: true, earlierPrefixes: new Set() }), second);
    expect(types(decide(streamInput(second), state))).toEqual(['inference.batch.requested']);
  });

  it('given an entity whose summary repeats an earlier entity\'s, when its batch is planned, then the maker is told the earlier prefixes (the ideal then counts its prompts as maybe cached whole)', () => {
    const first = summaryAnswered('e2', 'same persona');
    const second = summaryAnswered('e1', 'same persona');
    const seen: Array<ReadonlySet<string>> = [];
    const recording: StreamPlanMaker = (args) => (seen.push(args.earlierPrefixes), streamPlan(args));
    const state = given(...summariesPlanned(), first, ...streamPlan({ ctx, identity: IDENTITY, attempt: 1, stage: stagesOf(START)[1], entityId: 'e2', input: 'same persona', withPlanned: true, earlierPrefixes: new Set() }), second);
    decide({ type: 'stream_input', event: second, by: BY, streamPlan: { ok: true, plan: recording } }, state);
    expect(seen.map((s) => [...s])).toEqual([[prefixDigest('persona: same persona')]]);
    // The summary stage's own batches are planned at once: no digests are kept for them.
    expect(progressOf(state.attempts.get(1)!, stagesOf(START)[0]).requestedPrefixes.size).toBe(0);
  });

  it('given an answer handled already, or a second answer of the same batch, then nothing is planned again', () => {
    const answer = summaryAnswered('e1', 'persona one');
    const again = { ...summaryAnswered('e1', 'persona one, again'), id: '00000000-0000-4000-8000-0000000000aa' };
    const handled = given(...summariesPlanned(), answer, ...streamPlan({ ctx, identity: IDENTITY, attempt: 1, stage: stagesOf(START)[1], entityId: 'e1', input: 'persona one', withPlanned: true, earlierPrefixes: new Set() }).map((e) => ({ ...e, metadata: { ...e.metadata, causationId: answer.id } })), again);
    expect(types(decide(streamInput(answer), handled))).toEqual([]);
    expect(types(decide(streamInput(again), handled))).toEqual([]);
  });

  it.each([
    ['empty', summaryAnswered('e3', '  \n '), /stage 'summary' of entity "e3" \(batch summary:e3\) returned an empty output/],
    ['failed', summaryAnswered('e3', null), /stage 'summary' of entity "e3" \(batch summary:e3\) failed: server gone/],
  ])('given a summary that came back %s, when decided, then the run fails at inference naming the entity (no prompt without its persona)', (_, answer, message) => {
    const decision = decide(streamInput(answer), given(...summariesPlanned(), answer));
    expect(types(decision)).toEqual(['experiment.failed']);
    const failed = decision.kind === 'append' ? decision.events[0] : undefined;
    expect(failed?.type === 'experiment.failed' && failed.data.stage).toBe('inference');
    expect(failed?.type === 'experiment.failed' && failed.data.error).toMatch(message);
  });

  it('given a summary answer, when the evaluator scores it, then nothing is scored (it is an input, not a prediction)', () => {
    const answer = summaryAnswered('e1', 'persona one');
    expect(types(decide({ type: 'score_batch', event: answer, by: BY }, given(...summariesPlanned(), answer)))).toEqual([]);
  });

  it('given a prediction answer, when stream_input sees it, then it decides nothing (the evaluator scores it)', () => {
    const summary = summaryAnswered('e1', 'persona one');
    const stream = streamPlan({ ctx, identity: IDENTITY, attempt: 1, stage: stagesOf(START)[1], entityId: 'e1', input: 'persona one', withPlanned: true, earlierPrefixes: new Set() });
    const prediction = createEvent(
      'inference.completed',
      { identity: IDENTITY, attempt: 1, phase: 'full', batchId: 'full:e1', entityId: 'e1', worker: 'w1', prefixTokens: null, results: [{ promptId: 'full:e1:q1', status: 'ok', outputText: '3', error: null, finishReason: 'stop', promptTokens: 3, completionTokens: 1, cachedTokens: 0, latencyMs: 1, attempts: 1 }] },
      ctx,
    );
    expect(types(decide({ type: 'stream_input', event: prediction, by: BY }, given(...summariesPlanned(), summary, ...stream, prediction)))).toEqual([]);
  });

  it('given every prediction batch scored, when the last one is, then the evaluation is asked for (the summaries do not count as batches to score)', () => {
    const summaries = ENTITIES.map((e) => summaryAnswered(e, `persona ${e}`));
    const streamed = ENTITIES.flatMap((e, i) => streamPlan({ ctx, identity: IDENTITY, attempt: 1, stage: stagesOf(START)[1], entityId: e, input: `persona ${e}`, withPlanned: i === 0, earlierPrefixes: new Set() }));
    const answers = ENTITIES.map((e) =>
      createEvent(
        'inference.completed',
        { identity: IDENTITY, attempt: 1, phase: 'full', batchId: `full:${e}`, entityId: e, worker: 'w1', prefixTokens: null, results: ITEMS.map((i) => ({ promptId: `full:${e}:${i.item}`, status: 'ok' as const, outputText: '1', error: null, finishReason: 'stop', promptTokens: 3, completionTokens: 1, cachedTokens: 0, latencyMs: 1, attempts: 1 })) },
        workerCtx(),
      ),
    );
    const scoredBefore = ENTITIES.slice(0, 2).map((e, i) =>
      createEvent('evaluation.batch.scored', { identity: IDENTITY, attempt: 1, round: 1, phase: 'full', batchId: `full:${e}`, evaluatorVersion: 'x', predictions: [] }, { ...ctx, causationId: answers[i].id }),
    );
    const state = given(...summariesPlanned(), ...summaries, ...streamed, ...answers, ...scoredBefore);
    const last = answers[2];
    const decision = decide({ type: 'score_batch', event: last, by: BY, request: predictionRequested('e3') }, state);
    expect(types(decision)).toEqual(['need:evaluation']);
  });
});
