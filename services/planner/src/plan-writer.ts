import { Injectable } from '@nestjs/common';
import { ExperimentConfig } from '@assay/config';
import { causedBy, createEvent, experimentStream, type AnyEnvelope, type ExperimentStarted } from '@assay/contracts';
import { modelCallSettings, smokeBatch, type PlannedBatch, type PreparedExperiment } from '@assay/experiments';
import { ServiceInfo } from '@assay/messaging/nest';

/**
 * Turns a plan into its events: `experiment.planned` and one `inference.batch.requested` per
 * entity. It takes the plan (planBatches, computed once per request) rather than making one, so
 * the pre-flight, the smoke batch and the full run all use the same batches.
 */
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
    const config = prepared.config;
    const batches: PlannedBatch[] = phase === 'smoke' ? [smokeBatch(plan, config.smoke.examples, prepared.dataset.items)] : plan;
    const ctx = causedBy(cause, experimentStream(started.identity), 'planner', this.info.codeVersion);
    const model = modelCallSettings(config);
    const itemsAsked = new Set(batches.flatMap((b) => b.prompts.map((p) => JSON.stringify([p.group, p.item]))));
    const planned = createEvent(
      'experiment.planned',
      {
        identity: started.identity,
        attempt: started.attempt,
        phase,
        batches: batches.length,
        prompts: batches.reduce((n, b) => n + b.prompts.length, 0),
        items: prepared.dataset.items.filter((i) => itemsAsked.has(JSON.stringify([i.group, i.item]))),
        split: prepared.splitInfo,
        entities: batches.length,
        groups: [...new Set(batches.flatMap((b) => b.prompts.map((p) => p.group)))].sort(),
        idealCachedTokens: null,
        totalPromptTokens: null,
        preflightWarnings,
      },
      ctx,
    );
    const requests = batches.map((b, index) =>
      createEvent(
        'inference.batch.requested',
        {
          identity: started.identity,
          attempt: started.attempt,
          phase,
          batchId: b.batchId,
          entityId: b.entityId,
          index,
          prefix: b.prefix,
          prompts: b.prompts,
          model,
        },
        ctx,
      ),
    );
    return [planned, ...requests];
  }

  static configOf(started: ExperimentStarted): ExperimentConfig {
    return ExperimentConfig.parse(started.data.config);
  }
}
