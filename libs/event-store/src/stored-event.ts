import type { AnyEnvelope } from '@assay/contracts';

/** An envelope as the log keeps it, with its positions. */
export interface StoredEvent extends AnyEnvelope {
  globalPosition: bigint;
  streamPosition: bigint;
  recordedAt: string;
}

export interface EventRow {
  global_position: string;
  stream: string;
  stream_position: string;
  message_id: string;
  type: string;
  schema_version: number;
  data: unknown;
  metadata: AnyEnvelope['metadata'];
  occurred_at: Date;
  recorded_at: Date;
}

export const EVENT_COLUMNS =
  'global_position, stream, stream_position, message_id, type, schema_version, data, metadata, occurred_at, recorded_at';

export function toStoredEvent(row: EventRow): StoredEvent {
  return {
    id: row.message_id,
    type: row.type,
    schemaVersion: row.schema_version,
    stream: row.stream,
    occurredAt: row.occurred_at.toISOString(),
    data: row.data,
    metadata: row.metadata,
    globalPosition: BigInt(row.global_position),
    streamPosition: BigInt(row.stream_position),
    recordedAt: row.recorded_at.toISOString(),
  };
}

/** The envelope alone (what goes on the wire), without the log's positions. */
export function envelopeOf(event: StoredEvent): AnyEnvelope {
  const { id, type, schemaVersion, stream, occurredAt, data, metadata } = event;
  return { id, type, schemaVersion, stream, occurredAt, data, metadata };
}
