import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A batch's events are looked up by one key, `<stream> <type> <batchId>` (read.ts, BATCH_KEY: the
 * expression below, verbatim), instead of (stream, type, batchId). With the old index, a lookup
 * named stream and type, and Postgres without fresh statistics (autovacuum off, or a stream grown
 * since its last ANALYZE) took the (stream, type, attempt, phase, round) index instead, reading
 * every event of the phase for each batch: a cost that grew with the square of the run. The
 * lookups now read this index in a subquery of their own (read.ts, batchRows), where no other
 * index can serve.
 */
export class BatchKeyIndex1764500000000 implements MigrationInterface {
  name = 'BatchKeyIndex1764500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX events_batch_key ON events ((stream || ' ' || type || ' ' || (data->>'batchId')))`);
    await q.query(`DROP INDEX events_stream_batch`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX events_stream_batch ON events (stream, type, (data->>'batchId'))`);
    await q.query(`DROP INDEX events_batch_key`);
  }
}
