import { Injectable } from '@nestjs/common';
import { ExperimentConfig } from '@assay/config';
import { causedBy, experimentStream, type AnyEnvelope, type ExperimentStarted } from '@assay/contracts';
import { planEvents, type PlannedBatch, type PreparedExperiment } from '@assay/experiments';
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

  static configOf(started: ExperimentStarted): ExperimentConfig {
    return ExperimentConfig.parse(started.data.config);
  }
}
