import type { AnyEnvelope } from '@assay/contracts';
import { EVENT_COLUMNS, envelopeOf, toStoredEvent, type EventRow } from './stored-event';
import type { Sql } from './sql';

/** Sends an event to the broker; the broker de-duplicates on the envelope id. */
export interface EventPublisher {
  publish(subject: string, event: AnyEnvelope): Promise<void>;
}

export async function markPublished(sql: Sql, positions: bigint[]): Promise<void> {
  if (positions.length === 0) return;
  await sql.query('UPDATE outbox SET published_at = now() WHERE global_position = ANY($1::bigint[]) AND published_at IS NULL', [positions.map(String)]);
}

/**
 * Publishes outbox rows that the writer did not get to publish (it crashed after commit, or the
 * broker was down). Rows are locked while we publish, so several relays never send one twice
 * at once; a duplicate after a crash here is dropped by JetStream's id window and by consumers'
 * processed-message records.
 */
export async function claimAndPublish(sql: Sql, publisher: EventPublisher, opts: { olderThanMs: number; limit: number }): Promise<number> {
  const rows = await sql.query<EventRow & { subject: string }>(
    `SELECT o.subject, ${EVENT_COLUMNS.split(', ').map((c) => `e.${c}`).join(', ')}
       FROM outbox o JOIN events e ON e.global_position = o.global_position
      WHERE o.published_at IS NULL AND o.created_at < now() - ($1::int * interval '1 millisecond')
      ORDER BY o.global_position
      LIMIT $2
      FOR UPDATE OF o SKIP LOCKED`,
    [opts.olderThanMs, opts.limit],
  );
  for (const row of rows) {
    await publisher.publish(row.subject, envelopeOf(toStoredEvent(row)));
  }
  await markPublished(sql, rows.map((r) => BigInt(r.global_position)));
  return rows.length;
}
