import { EVENT_COLUMNS, toStoredEvent, type EventRow, type StoredEvent } from './stored-event';
import type { Sql } from './sql';

/**
 * A stream's events in order, optionally only some types, from a position on, at most `limit` of
 * them (stream reads see committed rows only).
 */
export async function readStream(sql: Sql, stream: string, opts: { types?: string[]; fromPosition?: bigint; limit?: number } = {}): Promise<StoredEvent[]> {
  const rows = await sql.query<EventRow>(
    `SELECT ${EVENT_COLUMNS} FROM events
      WHERE stream = $1 AND stream_position >= $2 AND ($3::text[] IS NULL OR type = ANY($3::text[]))
      ORDER BY stream_position
      LIMIT $4`,
    [stream, (opts.fromPosition ?? 0n).toString(), opts.types ?? null, opts.limit ?? null],
  );
  return rows.map(toStoredEvent);
}

/**
 * Every event of some types, across streams, in log order (e.g. the registry's events); with
 * `before`, only those logged before that global position (the registry as it stood then).
 */
export async function readEventsOfTypes(sql: Sql, types: readonly string[], opts: { before?: bigint } = {}): Promise<StoredEvent[]> {
  const rows =
    opts.before === undefined
      ? await sql.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM events WHERE type = ANY($1::text[]) ORDER BY global_position`, [types])
      : await sql.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM events WHERE type = ANY($1::text[]) AND global_position < $2 ORDER BY global_position`, [types, opts.before.toString()]);
  return rows.map(toStoredEvent);
}

/** The last position of a stream (0 when it does not exist). */
export async function streamVersion(sql: Sql, stream: string): Promise<bigint> {
  const [{ version }] = await sql.query<{ version: string }>('SELECT coalesce(max(stream_position), 0) AS version FROM events WHERE stream = $1', [stream]);
  return BigInt(version);
}

/** Fields of `data` that lookups may match on; each has an expression index with stream and type. */
export interface DataMatch {
  attempt?: number;
  phase?: string;
  batchId?: string;
  /** Evaluation round: events logged before rounds existed have none and count as round 1. */
  round?: number;
}

/** The indexed expression of each field (migrations' expression indexes must use the same text). */
const MATCH_EXPRESSIONS: Record<keyof DataMatch, string> = {
  attempt: `(data->>'attempt')`,
  phase: `(data->>'phase')`,
  batchId: `(data->>'batchId')`,
  round: `coalesce(data->>'round', '1')`,
};

/**
 * A batch's events are found by one key, `<stream> <type> <batchId>`, through an expression index
 * of their own (events_batch_key; the migration's text is BATCH_KEY's, verbatim), in a subquery of
 * their own (batchRows); the other conditions (attempt, phase) are checked on the rows it found.
 * Written as one WHERE of stream, type, batchId, attempt and phase, Postgres without fresh
 * statistics (autovacuum off, or a stream grown since its last ANALYZE) rated the (stream, type,
 * attempt, phase, round) index as good as the batch one, took it, and read every event of the
 * phase for each batch looked up: 98 ms per lookup at 4,712 batches, so the reporter's per-batch
 * reads grew with the square of the run and it fell minutes behind. Streams and types have no
 * spaces, so the key is unambiguous.
 */
const BATCH_KEY = `(stream || ' ' || type || ' ' || (data->>'batchId'))`;

function batchKey(stream: string, type: string, batchId: string): string {
  if (stream.includes(' ') || type.includes(' ')) throw new Error(`batch key: stream ${JSON.stringify(stream)} and type ${JSON.stringify(type)} must have no spaces`);
  return `${stream} ${type} ${batchId}`;
}

/**
 * The events whose batch key is `keyCondition` (e.g. `= $1`), as a FROM item named `events`. OFFSET 0
 * keeps Postgres from merging the subquery into the outer query, where it could again pick an index
 * by the outer conditions and scan the whole phase.
 */
function batchRows(keyCondition: string): string {
  return `(SELECT * FROM events WHERE ${BATCH_KEY} ${keyCondition} OFFSET 0) AS events`;
}

/**
 * Where a stream's events of one type whose data matches are read from (`from`) and chosen
 * (`where`), with parameters numbered from `firstParam`: by the batch key when `match` names a
 * batch, else by stream and type.
 */
function selection(stream: string, type: string, match: DataMatch, firstParam: number): { from: string; where: string; params: string[] } {
  if (match.batchId !== undefined) {
    const { clause, params } = matchClause({ ...match, batchId: undefined }, firstParam + 1);
    return { from: batchRows(`= $${firstParam}`), where: `TRUE${clause}`, params: [batchKey(stream, type, match.batchId), ...params] };
  }
  const { clause, params } = matchClause(match, firstParam + 2);
  return { from: 'events', where: `stream = $${firstParam} AND type = $${firstParam + 1}${clause}`, params: [stream, type, ...params] };
}

function matchClause(match: DataMatch, firstParam: number): { clause: string; params: string[] } {
  const entries = (Object.entries(match) as Array<[keyof DataMatch, unknown]>).filter(([, v]) => v !== undefined);
  for (const [k] of entries) if (!(k in MATCH_EXPRESSIONS)) throw new Error(`cannot match events on data.${String(k)}: not an indexed field`);
  return {
    clause: entries.map(([k], i) => ` AND ${MATCH_EXPRESSIONS[k]} = $${firstParam + i}`).join(''),
    params: entries.map(([, v]) => String(v)),
  };
}

/** Events of one type in a stream whose data matches, in stream order. */
export async function findInStream(sql: Sql, stream: string, type: string, match: DataMatch): Promise<StoredEvent[]> {
  const { from, where, params } = selection(stream, type, match, 1);
  const rows = await sql.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM ${from} WHERE ${where} ORDER BY stream_position`, params);
  return rows.map(toStoredEvent);
}

/** One page of findInStream: at most `limit` events after stream position `afterPosition`. */
export async function findPageInStream(sql: Sql, stream: string, type: string, match: DataMatch, afterPosition: bigint, limit: number): Promise<StoredEvent[]> {
  const { from, where, params } = selection(stream, type, match, 3);
  const rows = await sql.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM ${from} WHERE stream_position > $1 AND ${where} ORDER BY stream_position LIMIT $2`, [
    afterPosition.toString(),
    String(limit),
    ...params,
  ]);
  return rows.map(toStoredEvent);
}

export async function countInStream(sql: Sql, stream: string, type: string, match: DataMatch): Promise<number> {
  const { from, where, params } = selection(stream, type, match, 1);
  const [{ n }] = await sql.query<{ n: string }>(`SELECT count(*) AS n FROM ${from} WHERE ${where}`, params);
  return Number(n);
}

/**
 * Prompts of one attempt and phase whose outcome is committed: every result of an
 * inference.completed, every prompt of the batch behind an inference.failed. Counted once per
 * batch, so the number can never pass the plan's total (what an attaching CLI starts from).
 */
export async function committedPromptCount(sql: Sql, stream: string, attempt: number, phase: string): Promise<number> {
  const [{ n }] = await sql.query<{ n: string }>(
    `WITH outcomes AS (
       SELECT DISTINCT ON (data->>'batchId') type, data->>'batchId' AS batch_id, data->'results' AS results
         FROM events
        WHERE stream = $1 AND type IN ('inference.completed', 'inference.failed') AND (data->>'attempt') = $2 AND (data->>'phase') = $3
        ORDER BY data->>'batchId', stream_position)
     SELECT coalesce(sum(CASE WHEN o.type = 'inference.completed' THEN jsonb_array_length(o.results) ELSE jsonb_array_length(r.data->'prompts') END), 0) AS n
       FROM outcomes o
       LEFT JOIN events r ON r.stream = $1 AND r.type = 'inference.batch.requested' AND (r.data->>'attempt') = $2 AND (r.data->>'phase') = $3 AND (r.data->>'batchId') = o.batch_id`,
    [stream, String(attempt), phase],
  );
  return Number(n);
}

/**
 * How many elements of the array `data.<array>` of matching events have `<field>` equal to
 * `value` (e.g. the predictions of a phase's scored batches that are inference failures),
 * counted by Postgres without shipping the events.
 */
export async function countElementsInStream(sql: Sql, stream: string, type: string, match: DataMatch, element: { array: string; field: string; value: string }): Promise<number> {
  const { from, where, params } = selection(stream, type, match, 4);
  const [{ n }] = await sql.query<{ n: string }>(
    `SELECT count(*) AS n FROM ${from} CROSS JOIN LATERAL jsonb_array_elements(data->$1) AS element
      WHERE element->>$2 = $3 AND ${where}`,
    [element.array, element.field, element.value, ...params],
  );
  return Number(n);
}

/** Identities of experiments (ever started) that begin with `prefix`, sorted; for resolving a short id. */
export async function identitiesStartingWith(sql: Sql, prefix: string): Promise<string[]> {
  const rows = await sql.query<{ identity: string }>(
    `SELECT DISTINCT data->>'identity' AS identity FROM events
      WHERE type IN ('experiment.started', 'experiment.skipped') AND starts_with(data->>'identity', $1)
      ORDER BY 1`,
    [prefix],
  );
  return rows.map((r) => r.identity);
}

/**
 * Seconds since the stream's last event was recorded, by the database's clock (the services and the
 * CLI may run on hosts whose clocks differ); null when the stream is empty.
 */
export async function secondsSinceLastEvent(sql: Sql, stream: string): Promise<number | null> {
  const [{ idle }] = await sql.query<{ idle: string | number | null }>('SELECT extract(epoch FROM now() - max(recorded_at)) AS idle FROM events WHERE stream = $1', [stream]);
  return idle === null ? null : Math.max(0, Number(idle));
}

/**
 * The stage cache's lookup: one entity batch's request and outcome events in every other
 * experiment whose plan (experiment.planned) has this stage key, oldest first. The plan's index is
 * events_planned_stage_key (its expression is the migration's, verbatim); the batch's events are
 * found by their batch keys (BATCH_KEY).
 */
export async function findStageBatchRows(sql: Sql, stageKey: string, batchId: string, opts: { exceptStream: string }): Promise<StoredEvent[]> {
  const rows = await sql.query<EventRow>(
    `WITH plans AS (
       SELECT stream, data->>'attempt' AS attempt, data->>'phase' AS phase FROM events
        WHERE type = 'experiment.planned' AND (data->>'stageKey') = $1 AND stream <> $3)
     SELECT ${EVENT_COLUMNS.split(',').map((c) => `e.${c.trim()}`).join(', ')} FROM plans p
       CROSS JOIN LATERAL (SELECT * FROM events WHERE ${BATCH_KEY} IN (p.stream || ' inference.batch.requested ' || $2, p.stream || ' inference.completed ' || $2) OFFSET 0) AS e
      WHERE (e.data->>'attempt') = p.attempt AND (e.data->>'phase') = p.phase
      ORDER BY e.global_position`,
    [stageKey, batchId, opts.exceptStream],
  );
  return rows.map(toStoredEvent);
}

/**
 * Which elements of an array in an event's data to keep: those whose `field` is one of `values`
 * (e.g. a batch's predictions that are inference failures). The typed read
 * (forEachEventPageKeeping) skips events left with no element.
 */
export interface ElementFilter {
  array: string;
  field: string;
  values: readonly string[];
}

/**
 * The data column with `keep.array` cut down to the kept elements (their order kept), and the
 * parameters it takes from `firstParam` on. The values go in as the keys of one jsonb object, so
 * each element is looked up by a binary search, not compared with every value.
 */
function keptDataColumn(keep: ElementFilter, firstParam: number): { column: string; params: string[] } {
  const [array, field, values] = [firstParam, firstParam + 1, firstParam + 2].map((n) => `$${n}`);
  return {
    column: `jsonb_set(data, ARRAY[${array}::text], coalesce(
       (SELECT jsonb_agg(element ORDER BY n) FROM jsonb_array_elements(data->${array}::text) WITH ORDINALITY AS kept(element, n)
         WHERE ${values}::jsonb ? (element->>${field}::text)), '[]'::jsonb)) AS data`,
    params: [keep.array, keep.field, JSON.stringify(Object.fromEntries(keep.values.map((v) => [v, 1])))],
  };
}

const COLUMNS_BUT_DATA = EVENT_COLUMNS.split(',').map((c) => c.trim()).filter((c) => c !== 'data');

/**
 * One page of findInStream with its arrays cut down (see ElementFilter): the `limit` events after
 * stream position `afterPosition`, each with only its kept elements (possibly none: see
 * hasKeptElements). Postgres cuts the arrays, so a reader that needs one slice of every event (one
 * item group's prompts) neither ships nor parses the rest. The page is chosen before anything is
 * cut: choosing it among cut events would make Postgres cut every later event of the stream for
 * each page, a cost that grows with the square of the run.
 */
export async function findPageInStreamKeeping(
  sql: Sql,
  stream: string,
  type: string,
  match: DataMatch,
  keep: ElementFilter,
  afterPosition: bigint,
  limit: number,
): Promise<StoredEvent[]> {
  const kept = keptDataColumn(keep, 3);
  const { from, where, params } = selection(stream, type, match, 6);
  const rows = await sql.query<EventRow>(
    `SELECT ${COLUMNS_BUT_DATA.join(', ')}, ${kept.column} FROM (
       SELECT ${EVENT_COLUMNS} FROM ${from}
        WHERE stream_position > $1 AND ${where}
        ORDER BY stream_position LIMIT $2) AS page
      ORDER BY stream_position`,
    [afterPosition.toString(), String(limit), ...kept.params, ...params],
  );
  return rows.map(toStoredEvent);
}

/** Whether an event read with an ElementFilter kept any element of its array. */
export function hasKeptElements(event: StoredEvent, keep: ElementFilter): boolean {
  const array = (event.data as Record<string, unknown>)[keep.array];
  return Array.isArray(array) && array.length > 0;
}

/** Events of one type in a stream whose data matches and whose batchId is one of `batchIds`, in stream order (found by their batch keys). */
export async function findBatchesInStream(sql: Sql, stream: string, type: string, match: DataMatch, batchIds: readonly string[]): Promise<StoredEvent[]> {
  if (match.batchId !== undefined) throw new Error(`findBatchesInStream takes the batches in batchIds, not in match (got batchId ${match.batchId})`);
  const { clause, params } = matchClause(match, 2);
  // One lookup per key (a LATERAL subquery of each): with a page of keys in one `= ANY(...)`,
  // Postgres rated a scan of the table cheaper (its rows are small, their data is toasted) and
  // detoasted every event's data to compare batch ids: 310 ms a page of 200 on a 10x run, 14 ms so.
  const rows = await sql.query<EventRow>(
    `SELECT ${EVENT_COLUMNS} FROM unnest($1::text[]) AS wanted(key) CROSS JOIN LATERAL ${batchRows('= wanted.key')} WHERE TRUE${clause} ORDER BY stream_position`,
    [[...new Set(batchIds)].map((id) => batchKey(stream, type, id)), ...params],
  );
  return rows.map(toStoredEvent);
}

/** The ids and batch ids of a stream's events of one type whose data matches, in stream order, without their data (e.g. which scored event stands for each batch). */
export async function findBatchIdsInStream(sql: Sql, stream: string, type: string, match: DataMatch): Promise<Array<{ id: string; batchId: string }>> {
  const { from, where, params } = selection(stream, type, match, 1);
  const rows = await sql.query<{ id: string; batch_id: string | null }>(`SELECT message_id AS id, data->>'batchId' AS batch_id FROM ${from} WHERE ${where} ORDER BY stream_position`, params);
  return rows.map((r) => {
    if (r.batch_id === null) throw new Error(`${type} ${r.id} in ${stream} has no batchId`);
    return { id: r.id, batchId: r.batch_id };
  });
}
