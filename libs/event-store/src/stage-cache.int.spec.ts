import { createEvent, experimentStream, type AnyEnvelope, type PromptResult } from '@assay/contracts';
import { createTestDatabase } from '../../testing/src/fixtures/database';
import { EventStore } from './event-store';
import { findStageBatchOutputs } from './typed-read';

const model = { id: 'm', baseUrl: 'http://x/v1', apiKeyEnv: null, temperature: 0, maxTokens: 8, seed: 0, stop: [], guidedJson: false, loraAdapter: null, requestTimeoutS: 60, maxRetries: 0, concurrency: 1 };
const split = { path: 'split.json', sha256: 's', seed: 1, testFraction: 0.2, train: 8, test: 2, created: false };
const answer = (promptId: string): PromptResult => ({ promptId, status: 'ok', outputText: '3', error: null, finishReason: 'stop', promptTokens: 10, completionTokens: 1, cachedTokens: 0, latencyMs: 1, attempts: 1 });

/** One experiment's stage: its plan with a stage key, one batch per entity, and the answers of those listed in `answered`. */
function stageEvents(identity: string, stageKey: string, entities: string[], answered: string[]): AnyEnvelope[] {
  const ctx = { stream: experimentStream(identity), correlationId: 'c', causationId: null, producer: 'test', codeVersion: 'test' };
  const planned = createEvent(
    'experiment.planned',
    { identity, attempt: 1, phase: 'full', batches: entities.length, prompts: entities.length, items: [], split, entities: entities.length, groups: ['g'], idealCachedTokens: null, totalPromptTokens: null, preflightWarnings: [], stageKey },
    ctx,
  );
  const events: AnyEnvelope[] = [planned];
  entities.forEach((entityId, index) => {
    const batchId = `${entityId}/g/q1`;
    events.push(createEvent('inference.batch.requested', { identity, attempt: 1, phase: 'full', batchId, entityId, index, prefix: 'P', prompts: [{ promptId: batchId, group: 'g', item: 'q1', suffix: 'q1?', actual: 3 }], model, stageKey }, ctx));
    if (answered.includes(entityId)) events.push(createEvent('inference.completed', { identity, attempt: 1, phase: 'full', batchId, entityId, worker: 'w', prefixTokens: 5, results: [answer(batchId)] }, ctx));
  });
  return events;
}

describe('findStageBatchOutputs (real Postgres)', () => {
  let db: { url: string; drop: () => Promise<void> };
  let store: EventStore;
  beforeAll(async () => {
    db = await createTestDatabase();
    store = await EventStore.open({ url: db.url, publisher: { publish: async () => undefined } });
    const append = (identity: string, events: AnyEnvelope[]) => store.append([{ stream: experimentStream(identity), expected: 'any', events }]);
    await append('aaaa0001_t', stageEvents('aaaa0001_t', 'key-1', ['e1', 'e2'], ['e1', 'e2']));
    await append('bbbb0002_t', stageEvents('bbbb0002_t', 'key-1', ['e1'], []));
    await append('cccc0003_t', stageEvents('cccc0003_t', 'key-2', ['e1'], ['e1']));
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it('given experiments with the same and another stage key, when one looks up a batch, then it gets that batch of every other experiment of its key, with or without answers', async () => {
    const found = await store.read((sql) => findStageBatchOutputs(sql, 'key-1', 'e1/g/q1', { exceptStream: experimentStream('dddd0004_t') }));
    expect(found.map((f) => [f.identity, f.attempt, f.request.data.entityId, f.completions.length])).toEqual([
      ['aaaa0001_t', 1, 'e1', 1],
      ['bbbb0002_t', 1, 'e1', 0],
    ]);
  });

  it('given the asking experiment is one of them, then its own stream is left out', async () => {
    const found = await store.read((sql) => findStageBatchOutputs(sql, 'key-1', 'e2/g/q1', { exceptStream: experimentStream('aaaa0001_t') }));
    expect(found).toEqual([]);
  });

  it('given the migration, then the plans are looked up by an index on their stage key', async () => {
    const rows = await store.read((sql) => sql.query<{ indexdef: string }>(`SELECT indexdef FROM pg_indexes WHERE indexname = 'events_planned_stage_key'`));
    expect(rows[0]?.indexdef).toMatch(/\(data ->> 'stageKey'::text\)\)\) WHERE \(type = 'experiment\.planned'::text\)/);
  });
});
