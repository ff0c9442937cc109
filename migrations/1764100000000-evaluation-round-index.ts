import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Evaluation rounds (re-evaluation without re-inference): the evaluator counts one round's scored
 * batches of a phase. Matching the round from the index, not from the row, keeps that count from
 * detoasting every scored batch of the stream. The expression is DataMatch's (read.ts), verbatim;
 * the new index also serves every lookup the one it replaces did (same leading columns).
 */
export class EvaluationRoundIndex1764100000000 implements MigrationInterface {
  name = 'EvaluationRoundIndex1764100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX events_stream_attempt_phase_round ON events (stream, type, (data->>'attempt'), (data->>'phase'), (coalesce(data->>'round', '1')))`);
    await q.query(`DROP INDEX events_stream_attempt_phase`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX events_stream_attempt_phase ON events (stream, type, (data->>'attempt'), (data->>'phase'))`);
    await q.query(`DROP INDEX events_stream_attempt_phase_round`);
  }
}
