import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Drops the checkpoints of whole-log readers. No process reads the whole log: the registry, the
 * reporter and the CLI read by named queries (an experiment's stream, the registry's event types),
 * so a checkpointed reader was code and a table that nothing used. A projection that needs to
 * follow the log can bring back a reader and its table with it.
 */
export class DropCheckpoints1764300000000 implements MigrationInterface {
  name = 'DropCheckpoints1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS checkpoints`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE checkpoints (
        subscription   text        PRIMARY KEY,
        position       bigint      NOT NULL,
        updated_at     timestamptz NOT NULL DEFAULT now(),
        transaction_id xid8        NOT NULL
      )`);
  }
}
