import { subjectOf, type AnyEnvelope } from '@assay/contracts';
import type { Sql } from './sql';

/** `no_stream`: the stream must not exist; a number: its current last position; `any`: no check. */
export type ExpectedVersion = 'any' | 'no_stream' | bigint;

/** Below NATS's default 1 MB max_payload, with room for headers. */
export const MAX_EVENT_BYTES = 1_000_000 - 16_384;

export class VersionConflictError extends Error {
  constructor(
    readonly stream: string,
    readonly expected: ExpectedVersion,
    readonly actual: bigint,
  ) {
    super(`version conflict on stream '${stream}': expected ${String(expected)}, found ${actual}`);
    this.name = 'VersionConflictError';
  }
}

export interface AppendResult {
  /** Last position of the stream after the append. */
  nextExpectedVersion: bigint;
  globalPositions: bigint[];
  /** True when these events were already in the log (same message ids): nothing was written. */
  alreadyAppended: boolean;
}

/**
 * Takes, until the end of the caller's transaction, the per-stream lock every append to `stream`
 * takes: a consumer that reads a stream, decides and appends holds it across all three.
 */
export async function lockStream(sql: Sql, stream: string): Promise<void> {
  await sql.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [stream]);
}

/**
 * Appends events to one stream inside the caller's transaction, and queues them in the outbox.
 * A per-stream advisory lock serialises writers of a stream, so the position check and the insert
 * are atomic; a message id that is already stored means the append happened before (idempotent).
 */
export async function appendToStream(sql: Sql, stream: string, events: AnyEnvelope[], expected: ExpectedVersion): Promise<AppendResult> {
  if (events.length === 0) throw new Error(`append to '${stream}' with no events`);
  for (const e of events) {
    if (e.stream !== stream) throw new Error(`event ${e.id} (${e.type}) names stream '${e.stream}' but is appended to '${stream}'`);
    // Stored events are published as they are: one over the broker's limit would sit in the outbox forever.
    const bytes = Buffer.byteLength(JSON.stringify(e));
    if (bytes > MAX_EVENT_BYTES) throw new Error(`event ${e.type} for '${stream}' is ${bytes} bytes, over the ${MAX_EVENT_BYTES}-byte limit (NATS max_payload is 1 MB): store shared text once and reference it`);
  }
  await lockStream(sql, stream);

  const ids = events.map((e) => e.id);
  // One round trip (under the lock, which every writer of the stream waits on): the stream's last
  // position, and the rows of these message ids if they are stored already (row null: none is).
  const rows = await sql.query<{ version: string; message_id: string | null; stream: string | null; global_position: string | null }>(
    `SELECT v.version, e.message_id, e.stream, e.global_position
       FROM (SELECT coalesce(max(stream_position), 0) AS version FROM events WHERE stream = $1) v
       LEFT JOIN events e ON e.message_id = ANY($2::uuid[])
      ORDER BY e.global_position`,
    [stream, ids],
  );
  const version = rows[0].version;
  const existing = rows.flatMap((r) => (r.message_id !== null && r.global_position !== null ? [{ stream: r.stream, global_position: r.global_position }] : []));
  const current = BigInt(version);
  if (existing.length > 0) {
    if (existing.length !== events.length || existing.some((row) => row.stream !== stream)) {
      throw new Error(`append to '${stream}': ${existing.length} of ${events.length} message ids are already stored elsewhere; refusing a partial append`);
    }
    return { nextExpectedVersion: current, globalPositions: existing.map((r) => BigInt(r.global_position)), alreadyAppended: true };
  }
  if (expected === 'no_stream' ? current !== 0n : expected !== 'any' && expected !== current) {
    throw new VersionConflictError(stream, expected, current);
  }

  // The events and their outbox rows in one statement: one round trip fewer under the lock.
  const inserted = await sql.query<{ global_position: string }>(
    `WITH stored AS (
       INSERT INTO events (stream, stream_position, message_id, type, schema_version, data, metadata, occurred_at)
       SELECT $1, $2::bigint + t.ord, t.message_id, t.type, t.schema_version, t.data, t.metadata, t.occurred_at
         FROM unnest($3::uuid[], $4::text[], $5::int[], $6::jsonb[], $7::jsonb[], $8::timestamptz[])
              WITH ORDINALITY AS t(message_id, type, schema_version, data, metadata, occurred_at, ord)
        ORDER BY t.ord
       RETURNING global_position, stream_position
     )
     INSERT INTO outbox (global_position, subject)
     SELECT stored.global_position, s.subject
       FROM stored JOIN unnest($9::text[]) WITH ORDINALITY AS s(subject, ord) ON stored.stream_position = $2::bigint + s.ord
     RETURNING global_position`,
    [
      stream,
      current.toString(),
      ids,
      events.map((e) => e.type),
      events.map((e) => e.schemaVersion),
      events.map((e) => JSON.stringify(e.data)),
      events.map((e) => JSON.stringify(e.metadata)),
      events.map((e) => e.occurredAt),
      events.map((e) => subjectOf(e.type, e.schemaVersion)),
    ],
  );
  const positions = inserted.map((r) => BigInt(r.global_position)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return { nextExpectedVersion: current + BigInt(events.length), globalPositions: positions, alreadyAppended: false };
}
