import { Injectable } from '@nestjs/common';
import { ExperimentConfig } from '@assay/config';
import { type EventContext, type ExperimentStarted } from '@assay/contracts';
import { entityInputPlanEvents, eventPages, planEventPages, planEvents, type EventPages, type PagedPlan, type PlannedBatch, type PreparedExperiment, type Stage } from '@assay/experiments';

/**
 * A run's plan as the planner holds it: a prediction plan read through once and made again a
 * page at a time (PagedPlan), or an entity-input stage's batches (one short prompt per entity).
 */
export type HeldPlan = { paged: PagedPlan } | { batches: PlannedBatch[] };

/** Turns a plan into its events (planEvents), caused by the message being handled. */
@Injectable()
export class PlanWriter {
  /** One model stage's plan events, stamped with the stage's key. */
  planStage(
    ctx: EventContext,
    started: Pick<ExperimentStarted['data'], 'identity' | 'attempt'>,
    prepared: PreparedExperiment,
    plan: HeldPlan,
    stage: Stage,
    preflightWarnings: string[],
  ): EventPages {
    if (stage.phase === null) throw new Error(`stage '${stage.name}' (${stage.kind}) has no phase: the planner plans model stages only`);
    if (stage.kind === 'llm_input') {
      // An entity-input stage (a persona summary) was checked by the pre-flight: `plan` is its batches.
      if (!('batches' in plan)) throw new Error(`stage '${stage.name}' (${stage.kind}) is planned from its entity-input batches, but the planner holds a prediction plan`);
      return eventPages(entityInputPlanEvents(ctx, started, prepared, plan.batches, preflightWarnings, stage.key));
    }
    if (stage.phase === 'summary') throw new Error(`stage '${stage.name}' (${stage.kind}) has phase 'summary', which only entity-input stages use`);
    if ('batches' in plan) return eventPages(planEvents(ctx, started, prepared, plan.batches, stage.phase, preflightWarnings, stage.key));
    // The smoke test asks the first batch only; the full phase is made a page at a time as it is appended.
    if (stage.phase === 'smoke') return eventPages(planEvents(ctx, started, prepared, [plan.paged.outline.first], 'smoke', preflightWarnings, stage.key));
    return planEventPages(ctx, started, prepared, plan.paged, preflightWarnings, stage.key);
  }

  static configOf(started: ExperimentStarted): ExperimentConfig {
    return ExperimentConfig.parse(started.data.config);
  }
}
