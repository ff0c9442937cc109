import type { LogPosition } from './read';
import type { Sql } from './sql';

/**
 * Records that a consumer handled a message, in the same transaction as its effects. Returns
 * false when it had already been handled: the caller then does nothing but ack.
 */
export async function markProcessed(sql: Sql, consumer: string, messageId: string): Promise<boolean> {
  const rows = await sql.query(
    'INSERT INTO processed_messages (consumer, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1',
    [consumer, messageId],
  );
  return rows.length === 1;
}

export class CheckpointConflictError extends Error {
  constructor(readonly subscription: string, readonly expected: LogPosition | null) {
    super(`checkpoint of '${subscription}' moved: expected ${expected ? formatLogPosition(expected) : 'none'}, another reader got there first`);
    this.name = 'CheckpointConflictError';
  }
}

function formatLogPosition(p: LogPosition): string {
  return `transaction ${p.transactionId} position ${p.globalPosition}`;
}

/** Where a subscription's reader resumes (pass it to readAll), or null before its first checkpoint. */
export async function readCheckpoint(sql: Sql, subscription: string): Promise<LogPosition | null> {
  const rows = await sql.query<{ transaction_id: string; position: string }>('SELECT transaction_id, position FROM checkpoints WHERE subscription = $1', [subscription]);
  return rows.length ? { transactionId: BigInt(rows[0].transaction_id), globalPosition: BigInt(rows[0].position) } : null;
}

/**
 * Compare-and-set: moves the checkpoint from `expected` to `next` (the logPosition of the last
 * event handled), or throws if someone else moved it.
 */
export async function storeCheckpoint(sql: Sql, subscription: string, expected: LogPosition | null, next: LogPosition): Promise<void> {
  const rows =
    expected === null
      ? await sql.query('INSERT INTO checkpoints (subscription, transaction_id, position) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1', [
          subscription,
          next.transactionId.toString(),
          next.globalPosition.toString(),
        ])
      : await sql.query(
          `UPDATE checkpoints SET transaction_id = $4, position = $5, updated_at = now()
            WHERE subscription = $1 AND transaction_id = $2 AND position = $3 RETURNING 1`,
          [subscription, expected.transactionId.toString(), expected.globalPosition.toString(), next.transactionId.toString(), next.globalPosition.toString()],
        );
  if (rows.length !== 1) throw new CheckpointConflictError(subscription, expected);
}

export async function recordDeadLetter(
  sql: Sql,
  letter: { consumer: string; subject: string; messageId: string | null; reason: string; payload: string },
): Promise<void> {
  await sql.query('INSERT INTO dead_letters (consumer, subject, message_id, reason, payload) VALUES ($1, $2, $3, $4, $5)', [
    letter.consumer,
    letter.subject,
    letter.messageId,
    letter.reason,
    letter.payload,
  ]);
}

/** Whether a consumer already handled a message: lets expensive work (model calls) be skipped on redelivery. */
export async function isProcessed(sql: Sql, consumer: string, messageId: string): Promise<boolean> {
  const rows = await sql.query('SELECT 1 FROM processed_messages WHERE consumer = $1 AND message_id = $2', [consumer, messageId]);
  return rows.length === 1;
}

/** Which of these message ids a consumer gave up on (kept in dead_letters). */
export async function deadLetteredIds(sql: Sql, messageIds: readonly string[]): Promise<Set<string>> {
  if (messageIds.length === 0) return new Set();
  const rows = await sql.query<{ message_id: string }>('SELECT message_id FROM dead_letters WHERE message_id = ANY($1::text[])', [messageIds]);
  return new Set(rows.map((r) => r.message_id));
}
