import { createEvent, experimentStream, type AnyEnvelope } from '@assay/contracts';
import { EventStore, isProcessed, readTypedEvents, type EventPublisher } from '@assay/event-store';
import { randomUUID } from 'node:crypto';
import { createTestDatabase } from '../../../testing/src/fixtures/database';
import { appendInChunks } from './plan-append';

/** A message's output, made afresh (new random ids) as a redelivered consumer would. */
function output(stream: string, count: number): AnyEnvelope[] {
  return Array.from({ length: count }, (_, i) =>
    createEvent(
      'experiment.failed',
      { requestId: null, identity: null, attempt: null, stage: 'config', error: `event ${i}`, details: [] },
      { stream, correlationId: 'c1', causationId: null, producer: 'test', codeVersion: 'test' },
    ),
  );
}

describe('appendInChunks (real Postgres)', () => {
  let db: { url: string; drop: () => Promise<void> };
  let store: EventStore;
  const published: string[] = [];
  let failAfter = Infinity;
  const publisher: EventPublisher = {
    publish: async (_subject, e) => {
      if (published.length >= failAfter) throw new Error('broker gone (simulated crash)');
      published.push(e.id);
    },
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    store = await EventStore.open({ url: db.url, publisher });
  });
  afterAll(async () => {
    await store.close();
    await db.drop();
  });
  beforeEach(() => {
    published.length = 0;
    failAfter = Infinity;
  });

  const stream = () => experimentStream(`t${randomUUID().slice(0, 8)}_test`);
  const storedErrors = async (s: string) => (await store.read((sql) => readTypedEvents(sql, s, ['experiment.failed']))).map((e) => e.data.error);
  const expected = (n: number) => Array.from({ length: n }, (_, i) => `event ${i}`);

  it('given 70 events and chunks of 8, 16, 32, 14, when appended, then all are stored once in order, published once, and the message is recorded last', async () => {
    const s = stream();
    const message = randomUUID();
    const result = await appendInChunks(store, 'planner', message, s, output(s, 70), { first: 8, max: 32 });
    expect(result.duplicate).toBe(false);
    expect(result.appended).toBe(70);
    expect(await storedErrors(s)).toEqual(expected(70));
    expect(new Set(published).size).toBe(70);
    expect(published).toHaveLength(70);
    expect(await store.read((sql) => isProcessed(sql, 'planner', message))).toBe(true);
  });

  it('given a planner that dies while publishing its second chunk, when the message is redelivered, then every event is stored exactly once, in order', async () => {
    const s = stream();
    const message = randomUUID();
    failAfter = 10; // the second chunk (events 8-23) commits, then publishing it fails: the process "dies" there
    await expect(appendInChunks(store, 'planner', message, s, output(s, 70), { first: 8, max: 32 })).rejects.toThrow('simulated crash');
    expect(await storedErrors(s)).toEqual(expected(24));
    expect(await store.read((sql) => isProcessed(sql, 'planner', message))).toBe(false);

    failAfter = Infinity;
    published.length = 0;
    const again = await appendInChunks(store, 'planner', message, s, output(s, 70), { first: 8, max: 32 });
    expect(again.duplicate).toBe(false);
    expect(again.appended).toBe(46);
    expect(await storedErrors(s)).toEqual(expected(70));
    // The chunks stored before the crash are not sent again by the redelivery (the outbox relay owns them).
    expect(published).toHaveLength(46);
  });

  it('given the events as pages, when appended, then each chunk is made only when it is appended and the stored events are those of the whole array', async () => {
    const s = stream();
    const all = output(s, 70);
    const asked: Array<[number, number]> = [];
    const pages = { count: all.length, page: (start: number, end: number) => (asked.push([start, end]), all.slice(start, end)) };
    const result = await appendInChunks(store, 'planner', randomUUID(), s, pages, { first: 8, max: 32 });
    expect(result).toEqual({ duplicate: false, appended: 70 });
    expect(asked).toEqual([[0, 8], [8, 24], [24, 56], [56, 70]]);
    expect(await storedErrors(s)).toEqual(expected(70));
  });

  it('given a message already handled, when redelivered, then nothing is appended', async () => {
    const s = stream();
    const message = randomUUID();
    await appendInChunks(store, 'planner', message, s, output(s, 5), { first: 2, max: 2 });
    const again = await appendInChunks(store, 'planner', message, s, output(s, 5), { first: 2, max: 2 });
    expect(again).toEqual({ duplicate: true, appended: 0 });
    expect(await storedErrors(s)).toEqual(expected(5));
  });

  it('given bad arguments, when appended, then the error names them', async () => {
    await expect(appendInChunks(store, 'planner', randomUUID(), stream(), [])).rejects.toThrow('appendInChunks: no events for');
    const s = stream();
    await expect(appendInChunks(store, 'planner', randomUUID(), s, output(s, 1), { first: 0, max: 4 })).rejects.toThrow('chunk size first must be a positive integer, got 0');
  });
});
