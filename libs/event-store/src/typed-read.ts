import { parseStoredEvent, type AssayEvent, type AssayEventType, type EventOfType, type InferenceBatchRequested, type InferenceCompleted } from '@assay/contracts';
import { findBatchesInStream, findInStream, findPageInStream, findPageInStreamKeeping, findStageBatchRows, hasKeptElements, readStream, type DataMatch, type ElementFilter } from './read';
import type { Sql } from './sql';
import { envelopeOf, type StoredEvent } from './stored-event';

/**
 * Typed reads: every stored row is parsed with the event catalogue's schema, after its older shape
 * is upcast (parseEvent), so code outside this lib never casts a stored event's data. A row that
 * does not parse is an error naming the event, never skipped.
 */
export function parseStored(event: StoredEvent): AssayEvent {
  return parseStoredEvent(envelopeOf(event), `log:${event.stream}#${event.streamPosition}`);
}

/** A typed event with its positions in its stream and in the log. */
export type Positioned<E extends AssayEvent = AssayEvent> = E & { streamPosition: bigint; globalPosition: bigint };
export type PositionedEvent = Positioned;

/** A stream's events after `afterPosition` (0: all), typed, in stream order. */
export async function readTypedStream(sql: Sql, stream: string, afterPosition = 0n, limit?: number): Promise<PositionedEvent[]> {
  const rows = await readStream(sql, stream, { fromPosition: afterPosition + 1n, limit });
  return rows.map((row) => positioned(parseStored(row), row));
}

/** A stream's events of some types, typed, in stream order. */
export async function readTypedEvents<T extends AssayEventType>(sql: Sql, stream: string, types: readonly T[]): Promise<Array<Positioned<EventOfType<T>>>> {
  const rows = await readStream(sql, stream, { types: [...types] });
  return rows.map((row) => positioned(ofType(parseStored(row), types), row));
}

/** Events of one type in a stream whose data matches (indexed fields), typed, in stream order. */
export async function findEvents<T extends AssayEventType>(sql: Sql, stream: string, type: T, match: DataMatch): Promise<Array<Positioned<EventOfType<T>>>> {
  const rows = await findInStream(sql, stream, type, match);
  return rows.map((row) => positioned(ofType(parseStored(row), [type]), row));
}

/**
 * findEvents a page at a time, each page handed to `visit` before the next is read: for a caller
 * that folds a whole run's events (every batch's answers) into something small, so the run's
 * rows, their JSON and their parsed events are never all in memory at once. `visit` may read
 * more before the next page is read (it is awaited).
 */
export async function forEachEventPage<T extends AssayEventType>(
  sql: Sql,
  stream: string,
  type: T,
  match: DataMatch,
  pageSize: number,
  visit: (events: Array<Positioned<EventOfType<T>>>) => Promise<void> | void,
): Promise<void> {
  return visitPages(type, pageSize, (after) => findPageInStream(sql, stream, type, match, after, pageSize), visit);
}

/**
 * forEachEventPage with only some elements of an array kept (see ElementFilter): events left with
 * none are skipped (a page left with none is not visited). `visit` is awaited before the next read.
 */
export async function forEachEventPageKeeping<T extends AssayEventType>(
  sql: Sql,
  stream: string,
  type: T,
  match: DataMatch,
  keep: ElementFilter,
  pageSize: number,
  visit: (events: Array<Positioned<EventOfType<T>>>) => Promise<void> | void,
): Promise<void> {
  return visitPages(type, pageSize, (after) => findPageInStreamKeeping(sql, stream, type, match, keep, after, pageSize), visit, (row) => hasKeptElements(row, keep));
}

/**
 * Reads pages after a stream position (`fetch`) until one comes back short, each typed and visited
 * (and awaited) before the next read; with `visitRow`, only the rows it accepts are typed and
 * visited (a page left with none is not).
 */
async function visitPages<T extends AssayEventType>(
  type: T,
  pageSize: number,
  fetch: (after: bigint) => Promise<StoredEvent[]>,
  visit: (events: Array<Positioned<EventOfType<T>>>) => Promise<void> | void,
  visitRow: (row: StoredEvent) => boolean = () => true,
): Promise<void> {
  for (let after = 0n; ; ) {
    const rows = await fetch(after);
    if (rows.length === 0) return;
    const visited = rows.filter(visitRow);
    if (visited.length > 0) await visit(visited.map((row) => positioned(ofType(parseStored(row), [type]), row)));
    after = rows[rows.length - 1].streamPosition;
    if (rows.length < pageSize) return;
  }
}

/** Events of one type of some batches (by batchId) whose data matches, typed, in stream order. */
export async function findEventsOfBatches<T extends AssayEventType>(sql: Sql, stream: string, type: T, match: DataMatch, batchIds: readonly string[]): Promise<Array<Positioned<EventOfType<T>>>> {
  if (batchIds.length === 0) return [];
  const rows = await findBatchesInStream(sql, stream, type, match, batchIds);
  return rows.map((row) => positioned(ofType(parseStored(row), [type]), row));
}

/** The one event of a type matching, or an error naming what is missing. */
export async function findOneEvent<T extends AssayEventType>(sql: Sql, stream: string, type: T, match: DataMatch): Promise<EventOfType<T>> {
  const [event] = await findEvents(sql, stream, type, match);
  if (!event) throw new Error(`no ${type} matching ${JSON.stringify(match)} in ${stream}`);
  return event;
}

/** One entity batch of a stage in another experiment: its request and the outcomes recorded for it. */
export interface StageBatchOutput {
  identity: string;
  attempt: number;
  request: InferenceBatchRequested;
  completions: InferenceCompleted[];
}

/**
 * Outputs of one entity batch of a stage (by stage key) logged by other experiments than
 * `exceptStream`'s, oldest first: the stage cache's candidates. A batch whose request has no
 * completion (not answered yet, or failed) comes with none.
 */
export async function findStageBatchOutputs(sql: Sql, stageKey: string, batchId: string, opts: { exceptStream: string }): Promise<StageBatchOutput[]> {
  const rows = await findStageBatchRows(sql, stageKey, batchId, opts);
  const byAttempt = new Map<string, StageBatchOutput>();
  const events = rows.map((row) => ofType(parseStored(row), ['inference.batch.requested', 'inference.completed']));
  for (const e of events) {
    if (e.type !== 'inference.batch.requested') continue;
    const at = JSON.stringify([e.data.identity, e.data.attempt, e.data.phase]);
    if (!byAttempt.has(at)) byAttempt.set(at, { identity: e.data.identity, attempt: e.data.attempt, request: e, completions: [] });
  }
  for (const e of events) {
    if (e.type !== 'inference.completed') continue;
    byAttempt.get(JSON.stringify([e.data.identity, e.data.attempt, e.data.phase]))?.completions.push(e);
  }
  return [...byAttempt.values()];
}

function positioned<E extends AssayEvent>(event: E, row: StoredEvent): Positioned<E> {
  return Object.assign(event, { streamPosition: row.streamPosition, globalPosition: row.globalPosition });
}

function ofType<T extends AssayEventType>(event: AssayEvent, types: readonly T[]): EventOfType<T> {
  if (!(types as readonly string[]).includes(event.type)) throw new Error(`read ${event.type} ${event.id} where only ${types.join(', ')} were asked for`);
  return event as EventOfType<T>;
}
