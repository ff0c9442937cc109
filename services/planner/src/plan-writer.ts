import { Injectable } from '@nestjs/common';
import { ExperimentConfig } from '@assay/config';
import { causedBy, experimentStream, type AnyEnvelope, type AssayEvent, type EventContext, type ExperimentStarted } from '@assay/contracts';
import { entityInputPlanEvents, planEvents, type PlannedBatch, type PreparedExperiment, type Stage } from '@assay/experiments';
import { ServiceInfo } from '@assay/messaging/nest';

/** Turns a plan into its events (planEvents), caused by the message being handled. */
@Injectable()
export class PlanWriter {
  constructor(private readonly info: ServiceInfo) {}

  planEvents(
    cause: AnyEnvelope,
    started: Pick<ExperimentStarted['data'], 'identity' | 'attempt'>,
    prepared: PreparedExperiment,
    plan: PlannedBatch[],
    phase: 'smoke' | 'full',
    preflightWarnings: string[],
  ): AnyEnvelope[] {
    const ctx = causedBy(cause, experimentStream(started.identity), 'planner', this.info.codeVersion);
    return planEvents(ctx, started, prepared, plan, phase, preflightWarnings);
  }

  /** One model stage's plan events, stamped with the stage's key. */
  planStage(
    ctx: EventContext,
    started: Pick<ExperimentStarted['data'], 'identity' | 'attempt'>,
    prepared: PreparedExperiment,
    plan: PlannedBatch[],
    stage: Stage,
    preflightWarnings: string[],
  ): AssayEvent[] {
    if (stage.phase === null) throw new Error(`stage '${stage.name}' (${stage.kind}) has no phase: the planner plans model stages only`);
    // An entity-input stage (a persona summary) was checked by the pre-flight: `plan` is its batches.
    if (stage.kind === 'llm_input') return entityInputPlanEvents(ctx, started, prepared, plan, preflightWarnings, stage.key);
    if (stage.phase === 'summary') throw new Error(`stage '${stage.name}' (${stage.kind}) has phase 'summary', which only entity-input stages use`);
    return planEvents(ctx, started, prepared, plan, stage.phase, preflightWarnings, stage.key);
  }

  static configOf(started: ExperimentStarted): ExperimentConfig {
    return ExperimentConfig.parse(started.data.config);
  }
}
