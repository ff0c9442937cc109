import { createHash } from 'node:crypto';
import type { AnyEnvelope } from '@assay/contracts';
import { isProcessed, type EventStore, type ExpectedVersion } from '@assay/event-store';
import { eventPages, type EventPages } from './plan-pages';

/**
 * Chunk sizes when a full plan is appended: the first chunk is small, so the first batches reach
 * the workers at once, and each next one doubles, so the whole plan takes few transactions
 * (each takes the experiment stream's lock, which the workers' appends also need). A full-size
 * batch request is ~30 KB of JSON: the largest chunk is ~2 MB. Each chunk is made, copied,
 * serialized and published while it is appended, so a larger one grows the planner's heap
 * (256 batches added ~100 MB to its peak at 3x the bench's entities; 64 added nothing visible).
 */
export const PLAN_CHUNKS = { first: 16, max: 64 };

/** Whether the message was handled before, and how many events this call stored (not the events: a plan's are dropped chunk by chunk). */
export interface ChunkedAppend {
  duplicate: boolean;
  appended: number;
}

/** [start, end) of each chunk: sizes first, 2 x first, ... up to max. Depends only on the count. */
export function chunkBounds(count: number, sizes: { first: number; max: number }): Array<[number, number]> {
  for (const [name, v] of Object.entries(sizes)) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`chunk size ${name} must be a positive integer, got ${v}`);
  }
  if (sizes.max < sizes.first) throw new Error(`chunk size max (${sizes.max}) is below first (${sizes.first})`);
  const bounds: Array<[number, number]> = [];
  for (let start = 0, size = sizes.first; start < count; start += size, size = Math.min(size * 2, sizes.max)) {
    bounds.push([start, Math.min(start + size, count)]);
  }
  return bounds;
}

/** A UUID (version-5 layout) derived from `seed`: the same seed gives the same id on every delivery. */
export function derivedEventId(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * Appends the events one message produces in chunks (chunkBounds), each chunk its own
 * transaction, published as soon as it commits; the message is recorded as handled with the
 * last chunk. Crash and redelivery safe, each event stored exactly once:
 *  - every event gets an id derived from (consumer, message id, position), so the same message
 *    handled again produces the same ids, and the event store skips a chunk whose ids are all
 *    stored already (its idempotent re-append); chunk boundaries depend only on the position;
 *  - the processed-message record commits with the last chunk: a planner killed midway has not
 *    recorded the message, so its redelivery appends exactly the chunks that are missing;
 *  - a message already recorded as handled appends nothing (as EventStore.handle).
 * The caller must produce the same events, in the same order, on every delivery of a message
 * (a deterministic plan from the same inputs). Given pages, a chunk's events are made when it is
 * appended and dropped after, so only one chunk is in memory at a time.
 *
 * `firstExpected` is the stream version the events were decided on: the first chunk is appended
 * only if the stream is still there (VersionConflictError otherwise: decide again). Later chunks
 * are appended at any version, because the workers' answers to the first chunks land in between;
 * those answers cannot change the decision already committed with the first chunk.
 */
export async function appendInChunks(
  store: EventStore,
  consumer: string,
  messageId: string,
  stream: string,
  events: readonly AnyEnvelope[] | EventPages<AnyEnvelope>,
  sizes = PLAN_CHUNKS,
  firstExpected: ExpectedVersion = 'any',
): Promise<ChunkedAppend> {
  // A plan too long to hold at once comes as pages: each chunk's events are made only when it is appended.
  const pages = 'page' in events ? events : eventPages(events);
  if (pages.count === 0) throw new Error(`appendInChunks: no events for '${stream}'`);
  const bounds = chunkBounds(pages.count, sizes);
  if (await store.read((sql) => isProcessed(sql, consumer, messageId))) return { duplicate: true, appended: 0 };
  const chunkOf = (start: number, end: number): AnyEnvelope[] =>
    pages.page(start, end).map((e, i) => ({ ...e, id: derivedEventId(JSON.stringify([consumer, messageId, start + i])) }) as AnyEnvelope);
  let appended = 0;
  const [lastStart, lastEnd] = bounds[bounds.length - 1];
  const expectedFor = (start: number): ExpectedVersion => (start === 0 ? firstExpected : 'any');
  for (const [start, end] of bounds.slice(0, -1)) {
    const chunk = chunkOf(start, end);
    const [result] = await store.append([{ stream, expected: expectedFor(start), events: chunk }]);
    if (!result.alreadyAppended) appended += chunk.length;
  }
  const last = await store.handle(consumer, messageId, async () => [{ stream, expected: expectedFor(lastStart), events: chunkOf(lastStart, lastEnd) }]);
  return { duplicate: last.duplicate, appended: appended + last.appended.length };
}
