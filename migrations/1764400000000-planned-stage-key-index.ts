import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The stage cache: a worker asks for the plans (experiment.planned) of a stage key across every
 * experiment before it calls the model for a batch. Partial on the one type that records keys of
 * model stages, so the index stays small; the expression is findStageBatchOutputs' (read.ts),
 * verbatim.
 */
export class PlannedStageKeyIndex1764400000000 implements MigrationInterface {
  name = 'PlannedStageKeyIndex1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX events_planned_stage_key ON events ((data->>'stageKey')) WHERE type = 'experiment.planned'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX events_planned_stage_key`);
  }
}
