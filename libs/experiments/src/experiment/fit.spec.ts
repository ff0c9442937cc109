import { createEvent, experimentStream, type AssayEvent, type EventContext, type ItemDef } from '@assay/contracts';
import { decide, type FitCommand, type FitResult, type RequestCommand } from './decide';
import { fold } from './state';
import { stagesOf } from './stages';

/*
 * Given/when/then on the decider's fit command: a baseline's experiment.started, handled by the
 * evaluator, becomes its fit stage's plan, its scored batches and its evaluation in one decision.
 */

const IDENTITY = 'bbbb2222_abc12345';
const STREAM = experimentStream(IDENTITY);
const REQUEST_ID = '00000000-0000-4000-8000-000000000002';
const BY = { producer: 'test', codeVersion: 'abc12345' };
const ctx: EventContext = { stream: STREAM, correlationId: REQUEST_ID, causationId: null, producer: 'test', codeVersion: 'abc12345' };
const ITEMS: ItemDef[] = [{ group: 'g', item: 'q1', question: 'q1?', min: 1, max: 5, kind: 'ordinal' }];
const CONFIG = { name: 'knn', method: 'baseline_knn', baseline_knn: { k: 3, metric: 'euclidean' }, labels: { mode: 'raw' } };
const START = {
  requestId: REQUEST_ID,
  identity: IDENTITY,
  method: 'baseline_knn',
  config: CONFIG,
  configHash: 'ffff',
  identityAlgorithm: 'v1',
  dataHashes: { profiles: 'p', responses: 'r', items: 'i', split: 's' },
  codeVersion: 'abc12345',
  runDir: `/out/baseline_knn/experiments/${IDENTITY}`,
  warnings: [],
  forced: false,
  smokeOnly: false,
  host: 'h',
};
const requested = createEvent(
  'experiment.requested',
  { requestId: REQUEST_ID, configPath: 'knn.yaml', config: CONFIG, warnings: [], force: false, smokeOnly: false, requestedBy: { host: 'h', user: 'u' } },
  { ...ctx, stream: `request-${REQUEST_ID}` },
);
// Caused by the request, as the planner appends it.
const started = createEvent('experiment.started', { ...START, attempt: 1, previousFailure: null, stages: stagesOf(START).map(({ name, kind, key, reads, phase }) => ({ name, kind, key, reads, phase })) }, { ...ctx, causationId: requested.id });
const prediction = (entityId: string) => ({ entityId, group: 'g', item: 'q1', method: 'baseline_knn', predicted: 3, parseStatus: 'ok' as const, outlier: false, metadata: { k: 3, neighbours: ['a', 'b', 'c'] }, promptId: `fit-${entityId}`, actual: 4 });
const FITTED: FitResult = {
  planned: { batches: 2, prompts: 2, items: ITEMS, split: { path: 's.json', sha256: 's', seed: 1, testFraction: 0.2, train: 3, test: 2, created: false }, entities: 2, groups: ['g'], idealCachedTokens: null, totalPromptTokens: null, preflightWarnings: [] },
  batches: [
    { batchId: 'fit:x', predictions: [prediction('x')] },
    { batchId: 'fit:y', predictions: [prediction('y')] },
  ],
};
const EVALUATION = { result: { method: {} }, cache: { promptTokens: 0, cachedTokens: 0, hitRate: null, idealHitRate: null } };
const fit = (over: Partial<FitCommand> = {}): FitCommand => ({ type: 'fit', event: started, by: BY, ...over });
const appended = (events: AssayEvent[], command: FitCommand) => {
  const d = decide(command, fold(events));
  if (d.kind !== 'append') throw new Error(`expected an append, got ${JSON.stringify(d)}`);
  return d.events;
};

describe('decide: a baseline\'s fit stage', () => {
  it('given a baseline config, then its stages are fit, scoring and report, and the fit stage carries the full phase', () => {
    expect(stagesOf(START).map((s) => [s.name, s.kind, s.phase])).toEqual([
      ['fit', 'fit', 'full'],
      ['scoring', 'scoring', null],
      ['report', 'report', null],
    ]);
  });

  it('given a request for a baseline, when the pre-flight passed, then it starts the attempt and plans no model stage', () => {
    const command: RequestCommand = { type: 'request', request: requested, start: START, idleS: 0, by: BY, preflight: { ok: true, plan: () => { throw new Error('no model stage to plan'); } } };
    const d = decide(command, fold([]));
    expect(d.kind === 'append' && d.events.map((e) => e.type)).toEqual(['experiment.started']);
  });

  it('given a started baseline attempt, when fitted, then it asks for the fit, then the evaluation, then appends plan, batches and evaluation with the stage keys', () => {
    const state = fold([started]);
    const first = decide(fit(), state);
    expect(first).toMatchObject({ kind: 'need', need: { input: 'fit', stage: { name: 'fit', kind: 'fit' } } });
    const second = decide(fit({ fitted: FITTED }), state);
    expect(second).toMatchObject({ kind: 'need', need: { input: 'evaluation', items: ITEMS, earlier: null } });
    expect(second.kind === 'need' && second.need.input === 'evaluation' && second.need.predictions).toHaveLength(2);
    const events = appended([started], fit({ fitted: FITTED, evaluation: EVALUATION }));
    expect(events.map((e) => e.type)).toEqual(['experiment.planned', 'evaluation.batch.scored', 'evaluation.batch.scored', 'evaluation.completed']);
    const stages = stagesOf(START);
    expect(events[0].data).toMatchObject({ phase: 'full', batches: 2, stageKey: stages[0].key });
    expect(events[1].data).toMatchObject({ phase: 'full', round: 1, batchId: 'fit:x' });
    expect(events[3].data).toMatchObject({ round: 1, reevaluation: null, stageKey: stages[1].key });
    expect(events.every((e) => e.metadata.causationId === started.id)).toBe(true);
  });

  it('given the fit already appended (a redelivered experiment.started), when fitted again, then nothing is decided', () => {
    const events = appended([started], fit({ fitted: FITTED, evaluation: EVALUATION }));
    expect(decide(fit(), fold([started, ...events]))).toEqual({ kind: 'append', events: [], said: [] });
  });

  it('given an attempt that ended before its fit (cancelled), when fitted, then nothing is decided', () => {
    const cancelled = createEvent('experiment.cancelled', { identity: IDENTITY, attempt: 1, reason: 'stop', kind: 'cancel', by: { host: 'h', user: 'u' }, requestId: null }, ctx);
    expect(decide(fit(), fold([started, cancelled]))).toEqual({ kind: 'append', events: [], said: [] });
  });

  it('given a model method\'s attempt, when its experiment.started reaches the fit consumer, then nothing is decided', () => {
    const llmStart = { ...START, method: 'llm_zero_shot', config: { ...CONFIG, method: 'llm_zero_shot', smoke: { enabled: false } } };
    const llm = createEvent('experiment.started', { ...llmStart, attempt: 1, previousFailure: null }, { ...ctx, causationId: requested.id });
    expect(decide(fit({ event: llm }), fold([llm]))).toEqual({ kind: 'append', events: [], said: [] });
  });

  it('given a dead letter on a baseline\'s experiment.started (the fit failed), when given up, then the attempt fails at evaluation with the reason', () => {
    const d = decide({ type: 'give_up', event: started, reason: 'baseline_knn fit failed: no usable feature', by: BY }, fold([started]));
    expect(d.kind === 'append' && d.events.map((e) => [e.type, (e.data as { stage?: string }).stage])).toEqual([['experiment.failed', 'evaluation']]);
    expect(d.kind === 'append' && (d.events[0].data as { error: string }).error).toMatch(/test gave up on experiment\.started .*: baseline_knn fit failed: no usable feature/);
  });
});
