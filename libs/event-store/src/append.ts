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
  const existing = await sql.query<{ message_id: string; stream: string; global_position: string }>(
    'SELECT message_id, stream, global_position FROM events WHERE message_id = ANY($1::uuid[]) ORDER BY global_position',
    [ids],
  );
  const [{ version }] = await sql.query<{ version: string }>(
    'SELECT coalesce(max(stream_position), 0) AS version FROM events WHERE stream = $1',
    [stream],
  );
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

  const inserted = await sql.query<{ global_position: string }>(
    `INSERT INTO events (stream, stream_position, message_id, type, schema_version, data, metadata, occurred_at)
     SELECT $1, $2::bigint + t.ord, t.message_id, t.type, t.schema_version, t.data, t.metadata, t.occurred_at
       FROM unnest($3::uuid[], $4::text[], $5::int[], $6::jsonb[], $7::jsonb[], $8::timestamptz[])
            WITH ORDINALITY AS t(message_id, type, schema_version, data, metadata, occurred_at, ord)
      ORDER BY t.ord
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
    ],
  );
  const positions = inserted.map((r) => BigInt(r.global_position)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  await sql.query(
    'INSERT INTO outbox (global_position, subject) SELECT * FROM unnest($1::bigint[], $2::text[])',
    [positions.map(String), events.map((e) => subjectOf(e.type, e.schemaVersion))],
  );
  return { nextExpectedVersion: current + BigInt(events.length), globalPositions: positions, alreadyAppended: false };
}
