import { createEvent, experimentStream, type AnyEnvelope, type PromptResult } from '@assay/contracts';
import { createTestDatabase } from '../../testing/src/fixtures/database';
import { EventStore } from './event-store';
import { countInStream, findBatchIdsInStream } from './read';
import type { Sql } from './sql';
import { findEvents, findEventsOfBatches, findStageBatchOutputs } from './typed-read';

jest.setTimeout(120000);

const model = { id: 'm', baseUrl: 'http://x/v1', apiKeyEnv: null, temperature: 0, maxTokens: 8, seed: 0, stop: [], guidedJson: false, loraAdapter: null, requestTimeoutS: 60, maxRetries: 0, concurrency: 1 };
const split = { path: 'split.json', sha256: 's', seed: 1, testFraction: 0.2, train: 8, test: 2, created: false };
const answer = (promptId: string): PromptResult => ({ promptId, status: 'ok', outputText: '3', error: null, finishReason: 'stop', promptTokens: 10, completionTokens: 1, cachedTokens: 0, latencyMs: 1, attempts: 1 });
const BATCHES = 2000;
const identity = 'aaaa0001_t';
const stream = experimentStream(identity);
const batchIdOf = (i: number): string => `e${i}/g`;

/** A run's full phase: its plan, then each entity's request (a 1.5 KB prefix) and answer. */
function runEvents(): AnyEnvelope[] {
  const ctx = { stream, correlationId: 'c', causationId: null, producer: 'test', codeVersion: 'test' };
  const events: AnyEnvelope[] = [
    createEvent(
      'experiment.planned',
      { identity, attempt: 1, phase: 'full', batches: BATCHES, prompts: BATCHES, items: [], split, entities: BATCHES, groups: ['g'], idealCachedTokens: null, totalPromptTokens: null, preflightWarnings: [], stageKey: 'key-1' },
      ctx,
    ),
  ];
  for (let index = 0; index < BATCHES; index++) {
    const batchId = batchIdOf(index);
    const prefix = `profile of e${index}: ${'x'.repeat(1500)}`;
    events.push(createEvent('inference.batch.requested', { identity, attempt: 1, phase: 'full', batchId, entityId: `e${index}`, index, prefix, prompts: [{ promptId: batchId, group: 'g', item: 'q1', suffix: 'q1?', actual: 3 }], model, stageKey: 'key-1' }, ctx));
    events.push(createEvent('inference.completed', { identity, attempt: 1, phase: 'full', batchId, entityId: `e${index}`, worker: 'w', prefixTokens: 5, results: [answer(batchId)] }, ctx));
  }
  return events;
}

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

/** `sql`, but each statement is explained first: the indexes its plan reads (or 'Seq Scan'). */
function explaining(sql: Sql, scans: string[]): Sql {
  const visit = (node: PlanNode): void => {
    // The index of an index or bitmap scan; a sequential scan reads the whole table.
    if (node['Index Name'] !== undefined) scans.push(node['Index Name']);
    else if (node['Node Type'] === 'Seq Scan') scans.push('Seq Scan');
    node.Plans?.forEach(visit);
  };
  return {
    async query<T>(text: string, params?: unknown[]): Promise<T[]> {
      const [{ 'QUERY PLAN': plan }] = await sql.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (FORMAT JSON) ${text}`, params);
      visit(plan[0].Plan);
      return sql.query<T>(text, params);
    },
  };
}

describe('batch lookups (real Postgres, a run of 2,000 batches, no statistics gathered)', () => {
  let db: { url: string; drop: () => Promise<void> };
  let store: EventStore;
  beforeAll(async () => {
    db = await createTestDatabase();
    store = await EventStore.open({ url: db.url, publisher: { publish: async () => undefined } });
    const events = runEvents();
    for (let at = 0; at < events.length; at += 500) await store.append([{ stream, expected: 'any', events: events.slice(at, at + 500) }]);
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it('given a batch late in the run, when its request and answers are looked up, then they are found by the batch key alone, not by scanning the phase', async () => {
    const scans: string[] = [];
    const last = batchIdOf(BATCHES - 1);
    const { requests, completions, counted, ofPage } = await store.read(async (raw) => {
      const sql = explaining(raw, scans);
      return {
        requests: await findEvents(sql, stream, 'inference.batch.requested', { attempt: 1, phase: 'full', batchId: last }),
        completions: await findEvents(sql, stream, 'inference.completed', { attempt: 1, phase: 'full', batchId: last }),
        counted: await countInStream(sql, stream, 'inference.completed', { attempt: 1, phase: 'full', batchId: last }),
        ofPage: await findEventsOfBatches(sql, stream, 'inference.completed', { attempt: 1, phase: 'full' }, [batchIdOf(7), last, 'no-such-batch']),
      };
    });
    expect(requests.map((e) => e.data.batchId)).toEqual([last]);
    expect(completions.map((e) => e.data.batchId)).toEqual([last]);
    expect(counted).toBe(1);
    expect(ofPage.map((e) => e.data.batchId)).toEqual([batchIdOf(7), last]);
    expect(scans).toEqual(['events_batch_key', 'events_batch_key', 'events_batch_key', 'events_batch_key']);
  });

  it("given a page of batches (the reporter's 200 at a time), when their answers are looked up at once, then each is found by its batch key, not by reading every event of the stream", async () => {
    // Many keys in one `= ANY(...)` made Postgres scan the table (each row's data detoasted for its batch id): 310 ms a page on a 10x run.
    const scans: string[] = [];
    const page = Array.from({ length: 200 }, (_, i) => batchIdOf(BATCHES - 1 - i * 3));
    const found = await store.read((raw) => findEventsOfBatches(explaining(raw, scans), stream, 'inference.completed', { attempt: 1, phase: 'full' }, [...page, page[0], 'no-such-batch']));
    // Once each, in stream order.
    expect(found.map((e) => e.data.batchId)).toEqual([...page].reverse());
    expect(scans).toEqual(['events_batch_key']);
  });

  it('given another attempt or phase, then a batch lookup finds nothing', async () => {
    const found = await store.read(async (sql) => [
      ...(await findEvents(sql, stream, 'inference.completed', { attempt: 2, phase: 'full', batchId: batchIdOf(3) })),
      ...(await findEvents(sql, stream, 'inference.completed', { attempt: 1, phase: 'summary', batchId: batchIdOf(3) })),
      ...(await findEvents(sql, stream, 'inference.batch.requested', { attempt: 1, phase: 'full', batchId: `${batchIdOf(3)} ` })),
    ]);
    expect(found).toEqual([]);
  });

  it("given the stage cache's lookup from another experiment, then the batch's events are found by the batch key", async () => {
    const scans: string[] = [];
    const found = await store.read((raw) => findStageBatchOutputs(explaining(raw, scans), 'key-1', batchIdOf(BATCHES - 1), { exceptStream: experimentStream('bbbb0002_t') }));
    expect(found.map((f) => [f.identity, f.request.data.batchId, f.completions.length])).toEqual([[identity, batchIdOf(BATCHES - 1), 1]]);
    expect(scans).toContain('events_batch_key');
    expect(scans).not.toContain('events_stream_attempt_phase_round');
  });

  it('given a lookup of the phase without a batch, then every batch id comes, in stream order', async () => {
    const ids = await store.read((sql) => findBatchIdsInStream(sql, stream, 'inference.completed', { attempt: 1, phase: 'full' }));
    expect(ids.map((i) => i.batchId)).toEqual(Array.from({ length: BATCHES }, (_, i) => batchIdOf(i)));
  });

  it('given a stream name with a space, then a batch lookup refuses it rather than build an ambiguous key', async () => {
    await expect(store.read((sql) => findEvents(sql, 'experiment-a b', 'inference.completed', { batchId: 'x' }))).rejects.toThrow(/must have no spaces/);
  });
});
