import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Log readers resume from a (transaction id, global position) pair: a transaction can commit a
 * lower position after another committed a higher one, so a bare position skips it. Checkpoints
 * keep the pair. A checkpoint stored as a bare position cannot be turned into a pair without
 * skipping or repeating events, so the migration refuses to guess (no assay code wrote one).
 */
export class CheckpointTransaction1764200000000 implements MigrationInterface {
  name = 'CheckpointTransaction1764200000000';

  async up(q: QueryRunner): Promise<void> {
    const [{ n }] = (await q.query('SELECT count(*)::int AS n FROM checkpoints')) as Array<{ n: number }>;
    if (n > 0) {
      throw new Error(
        `checkpoints holds ${n} row(s) stored as bare global positions, which cannot be converted to the (transaction id, position) ` +
          'a reader now resumes from without skipping or repeating events; delete them (their readers then start from the beginning) and migrate again',
      );
    }
    await q.query(`ALTER TABLE checkpoints ADD COLUMN transaction_id xid8 NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE checkpoints DROP COLUMN transaction_id`);
  }
}
