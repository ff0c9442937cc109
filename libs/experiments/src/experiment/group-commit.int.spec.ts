import { createEvent, experimentStream, type AssayEvent, type EventContext, type ItemDef, type Phase } from '@assay/contracts';
import { EventStore, readTypedStream, type EventPublisher } from '@assay/event-store';
import { randomUUID } from 'node:crypto';
import { createTestDatabase } from '../../../testing/src/fixtures/database';
import { allEvents, eventPages } from '../plan/plan-pages';
import type { PlanMaker, ScoreBatchCommand } from './decide';
import { ExperimentStates, handleExperimentCommands, LOAD_PAGE, loadExperiment, type GroupedCommand, type Provide } from './load';
import { evolve, initialState } from './state';
import { stagesOf } from './stages';

const BY = { producer: 'test', codeVersion: 'abc12345' };
const ITEMS: ItemDef[] = [{ group: 'g', item: 'q1', question: 'q1?', min: 1, max: 5, kind: 'ordinal' }];
const CONFIG = { name: 'demo', method: 'llm_zero_shot', model: { id: 'm', max_failure_share: 0.25 }, smoke: { enabled: true, examples: 1 }, labels: { mode: 'raw' } };
const REQUEST_ID = '00000000-0000-4000-8000-000000000001';

/** A running experiment whose full stage has three batches (e1, e2, e3), all answered by a worker and none scored yet. */
function runningExperiment() {
  const identity = `${randomUUID().slice(0, 8)}_abc12345`;
  const ctx: EventContext = { stream: experimentStream(identity), correlationId: REQUEST_ID, causationId: null, producer: 'test', codeVersion: 'abc12345' };
  const start = {
    requestId: REQUEST_ID, identity, method: 'llm_zero_shot', config: CONFIG, configHash: 'ffff', identityAlgorithm: 'v1',
    dataHashes: { profiles: 'p', responses: 'r', items: 'i', split: 's' }, codeVersion: 'abc12345', runDir: `/out/${identity}`, warnings: [], forced: false, smokeOnly: false, host: 'h',
  };
  const batchRequested = (phase: Phase, entity: string) =>
    createEvent('inference.batch.requested', {
      identity, attempt: 1, phase, batchId: `${phase}:${entity}`, entityId: entity, index: 0, prefix: `profile ${entity}`,
      prompts: ITEMS.map((i) => ({ promptId: `${phase}:${entity}:${i.item}`, group: i.group, item: i.item, suffix: `${i.item}?`, actual: 1 })),
      model: { id: 'm', baseUrl: 'http://sim/v1', apiKeyEnv: null, temperature: 0, maxTokens: 8, seed: 0, stop: [], guidedJson: false, loraAdapter: null, requestTimeoutS: 60, maxRetries: 0, concurrency: 1 },
    }, ctx);
  // Caused by another message, as a worker's answer is: the state counts the cause of every event as handled.
  const answered = (phase: Phase, entity: string) =>
    createEvent('inference.completed', {
      identity, attempt: 1, phase, batchId: `${phase}:${entity}`, entityId: entity, worker: 'w1', prefixTokens: null,
      results: ITEMS.map((i) => ({ promptId: `${phase}:${entity}:${i.item}`, status: 'ok' as const, outputText: '1', error: null, finishReason: 'stop', promptTokens: 3, completionTokens: 1, cachedTokens: 0, latencyMs: 1, attempts: 1 })),
    }, { ...ctx, causationId: randomUUID() });
  const plan: PlanMaker = ({ attempt, stage }) => {
    const phase = stage.phase!;
    const entities = phase === 'smoke' ? ['e1'] : ['e1', 'e2', 'e3'];
    const planned = createEvent('experiment.planned', {
      identity, attempt, phase, batches: entities.length, prompts: entities.length, items: ITEMS,
      split: { path: 's.json', sha256: 's', seed: 1, testFraction: 0.2, train: 1, test: 1, created: false },
      entities: entities.length, groups: ['g'], idealCachedTokens: null, totalPromptTokens: null, preflightWarnings: [], stageKey: stage.key,
    }, ctx);
    return eventPages([planned, ...entities.map((e) => batchRequested(phase, e))]);
  };
  const stages = stagesOf(start);
  const smokeChecked = createEvent('evaluation.smoke.checked', { identity, attempt: 1, passed: true, checks: [{ check: 'parses', passed: true, detail: 'ok' }], examples: [] }, ctx);
  const answers = { e1: answered('full', 'e1'), e2: answered('full', 'e2'), e3: answered('full', 'e3') };
  const events: AssayEvent[] = [
    createEvent('experiment.started', { ...start, attempt: 1, previousFailure: null }, ctx),
    ...allEvents(plan({ ctx, identity, attempt: 1, stage: stages[0] })),
    smokeChecked,
    ...allEvents(plan({ ctx, identity, attempt: 1, stage: stages[1] })),
    answers.e1, answers.e2, answers.e3,
  ];
  const score = (entity: keyof typeof answers): ScoreBatchCommand => ({ type: 'score_batch', event: answers[entity], by: BY, request: batchRequested('full', entity) });
  return { identity, stream: ctx.stream, events, answers, score };
}

describe('handleExperimentCommands: a group of scored batches in one transaction (real Postgres)', () => {
  let db: { url: string; drop: () => Promise<void> };
  let store: EventStore;
  const publisher: EventPublisher = { publish: async () => undefined };
  const LOCK = 'test: the group decides on the stream as it is';

  beforeAll(async () => {
    db = await createTestDatabase();
    store = await EventStore.open({ url: db.url, publisher });
  }, 60_000);
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  /** Supplies a fixed evaluation of the batch's predictions and the earlier ones read from the deciding transaction (how many: `evaluated`); counts what it was asked. */
  function provider(stream: string, asked: string[], evaluated: number[] = []): Provide<ScoreBatchCommand> {
    return async (need, command, _state, sql) => {
      asked.push(need.input);
      if (need.input === 'evaluation') {
        if (!sql) throw new Error('a locked decision supplies its inputs from its transaction');
        const earlier = need.earlier ? (await readTypedStream(sql, stream, 0n)).filter((e) => e.type === 'evaluation.batch.scored').flatMap((e) => (e.type === 'evaluation.batch.scored' ? e.data.predictions : [])) : [];
        const predictions = earlier.length + need.predictions.length;
        evaluated.push(predictions);
        return { ...command, evaluation: { result: { method: {} }, cache: { promptTokens: 0, cachedTokens: 0, hitRate: null, idealHitRate: null }, predictions } };
      }
      throw new Error(`unexpected need ${need.input}`);
    };
  }
  const typesIn = async (stream: string) => (await store.read((sql) => readTypedStream(sql, stream, 0n))).map((e) => e.type);
  const grouped = (messages: GroupedCommand<ScoreBatchCommand>[], identity: string, states = new ExperimentStates()) =>
    handleExperimentCommands({ store, states, consumer: 'evaluator', identity, messages, lock: LOCK });

  it('given a stream of more than two pages, when its state is loaded from nothing or from part of it, then it is the fold of every event', async () => {
    const x = runningExperiment();
    // Redelivered answers (each a new event) make the stream span several pages of LOAD_PAGE.
    const redelivered = Array.from({ length: 2 * LOAD_PAGE + 7 }, () => ({ ...x.answers.e2, id: randomUUID() }));
    await store.append([{ stream: x.stream, expected: 'no_stream', events: [...x.events, ...redelivered] }]);
    const everything = await store.read((sql) => readTypedStream(sql, x.stream, 0n));
    expect(everything.length).toBeGreaterThan(2 * LOAD_PAGE);
    const folded = everything.reduce(evolve, initialState());
    expect(await store.read((sql) => loadExperiment(sql, x.identity))).toEqual(folded);
    const partial = everything.slice(0, LOAD_PAGE + 3).reduce(evolve, initialState());
    expect(await store.read((sql) => loadExperiment(sql, x.identity, partial))).toEqual(folded);
  });

  it('given the three batches of a stage in one group, when decided, then each decision sees the scores before it and the last completes the evaluation with all three', async () => {
    const x = runningExperiment();
    await store.append([{ stream: x.stream, expected: 'no_stream', events: x.events }]);
    const asked: string[] = [];
    const evaluated: number[] = [];
    const provide = provider(x.stream, asked, evaluated);
    const results = await grouped((['e1', 'e2', 'e3'] as const).map((e) => ({ messageId: randomUUID(), command: x.score(e), provide })), x.identity);
    expect(results.map((r) => r.handled.duplicate)).toEqual([false, false, false]);
    expect(results.map((r) => (r.decision.kind === 'append' ? r.decision.events.map((e) => e.type) : []))).toEqual([
      ['evaluation.batch.scored'],
      ['evaluation.batch.scored'],
      ['evaluation.batch.scored', 'evaluation.completed'],
    ]);
    // Each decision's state is the one the decisions before it left.
    expect(results[1].state.version).toBe(results[0].state.version + 1n);
    expect(results[2].state.version).toBe(results[1].state.version + 1n);
    expect(asked).toEqual(['evaluation']);
    expect(evaluated).toEqual([3]);
    const completed = (await store.read((sql) => readTypedStream(sql, x.stream, 0n))).find((e) => e.type === 'evaluation.completed');
    expect(completed).toBeDefined();
    expect((await typesIn(x.stream)).filter((t) => t === 'evaluation.batch.scored')).toHaveLength(3);
  });

  it('given a group with a message handled before and one that comes twice, when decided, then each duplicate decides nothing and the others are scored once', async () => {
    const x = runningExperiment();
    await store.append([{ stream: x.stream, expected: 'no_stream', events: x.events }]);
    const provide = provider(x.stream, []);
    const first = { messageId: randomUUID(), command: x.score('e1'), provide };
    await grouped([first], x.identity);
    const twice = { messageId: randomUUID(), command: x.score('e2'), provide };
    const results = await grouped([first, twice, twice], x.identity);
    expect(results.map((r) => r.handled.duplicate)).toEqual([true, false, true]);
    expect(results.map((r) => (r.decision.kind === 'append' ? r.decision.events.length : -1))).toEqual([0, 1, 0]);
    expect((await typesIn(x.stream)).filter((t) => t === 'evaluation.batch.scored')).toHaveLength(2);
  });

  it('given a group where one decision throws, when decided, then nothing of any message is stored, and redelivered they are all decided again', async () => {
    const x = runningExperiment();
    await store.append([{ stream: x.stream, expected: 'no_stream', events: x.events }]);
    const before = await typesIn(x.stream);
    const states = new ExperimentStates();
    const failing: Provide<ScoreBatchCommand> = async (need) => {
      throw new Error(`supplying ${need.input} failed`);
    };
    const messages = (['e1', 'e2', 'e3'] as const).map((e) => ({ messageId: randomUUID(), command: x.score(e), provide: failing }));
    await expect(grouped(messages, x.identity, states)).rejects.toThrow('supplying evaluation failed');
    expect(await typesIn(x.stream)).toEqual(before);
    // The states kept for later loads hold nothing of the rolled-back group.
    expect(states.cached(x.identity)?.version).toBe(BigInt(before.length));
    const provide = provider(x.stream, []);
    const again = await grouped(messages.map((m) => ({ ...m, provide })), x.identity, states);
    expect(again.map((r) => r.handled.duplicate)).toEqual([false, false, false]);
    expect((await typesIn(x.stream)).slice(before.length)).toEqual(['evaluation.batch.scored', 'evaluation.batch.scored', 'evaluation.batch.scored', 'evaluation.completed']);
  });

  it('given another writer appended after the states were kept, when a group is decided, then it decides on the stream as it is under the lock (no version conflict)', async () => {
    const x = runningExperiment();
    const states = new ExperimentStates();
    const [head, ...rest] = [x.events.slice(0, -3), ...x.events.slice(-3)] as [AssayEvent[], ...AssayEvent[]];
    await store.append([{ stream: x.stream, expected: 'no_stream', events: head }]);
    await states.load(store, x.identity);
    // The worker's answers land after the evaluator last looked.
    await store.append([{ stream: x.stream, expected: 'any', events: rest }]);
    const provide = provider(x.stream, []);
    const results = await grouped([{ messageId: randomUUID(), command: x.score('e1'), provide }, { messageId: randomUUID(), command: x.score('e2'), provide }], x.identity, states);
    expect(results[0].state.version).toBe(BigInt(x.events.length));
    expect((await typesIn(x.stream)).slice(x.events.length)).toEqual(['evaluation.batch.scored', 'evaluation.batch.scored']);
    expect(states.cached(x.identity)?.version).toBe(BigInt(x.events.length + 2));
  });
});
