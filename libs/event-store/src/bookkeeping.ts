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
