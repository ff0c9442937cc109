import { requireModelSection } from '@assay/config';
import { createEvent, itemKey, type AssayEvent, type EventContext, type ExperimentStarted } from '@assay/contracts';
import { sharedWithOthers } from '@assay/inference';
import { modelCallSettings } from './model-settings';
import { smokeBatch } from '../smoke/smoke-batch';
import type { PlannedBatch, PreparedExperiment } from './prepare';

/**
 * A plan as events: `experiment.planned` and one `inference.batch.requested` per entity batch
 * (smoke phase: the smoke batch alone). It takes the plan (planBatches, made once per request)
 * rather than making one, so the pre-flight, the smoke batch and the full run use the same batches.
 */
export function planEvents(
  ctx: EventContext,
  started: Pick<ExperimentStarted['data'], 'identity' | 'attempt'>,
  prepared: PreparedExperiment,
  plan: PlannedBatch[],
  phase: 'smoke' | 'full',
  preflightWarnings: string[],
  /** Key of the stage this plan runs (recorded in experiment.planned). */
  stageKey?: string,
): AssayEvent[] {
  const config = prepared.config;
  const batches: PlannedBatch[] = phase === 'smoke' ? [smokeBatch(plan, config.smoke.examples, prepared.dataset.items)] : plan;
  const model = modelCallSettings(requireModelSection(config));
  const itemsAsked = new Set(batches.flatMap((b) => b.prompts.map((p) => itemKey(p.group, p.item))));
  const planned = createEvent(
    'experiment.planned',
    {
      identity: started.identity,
      attempt: started.attempt,
      phase,
      batches: batches.length,
      prompts: batches.reduce((n, b) => n + b.prompts.length, 0),
      items: prepared.dataset.items.filter((i) => itemsAsked.has(itemKey(i.group, i.item))),
      split: prepared.splitInfo,
      entities: batches.length,
      groups: [...new Set(batches.flatMap((b) => b.prompts.map((p) => p.group)))].sort(),
      idealCachedTokens: null,
      totalPromptTokens: null,
      preflightWarnings,
      ...(stageKey === undefined ? {} : { stageKey }),
    },
    ctx,
  );
  // For the ideal hit rate: how much of each prefix another entity's prefix shares, and (full
  // phase) which prompts of the first entity the smoke test already sent.
  const prefixShared = sharedWithOthers(batches.map((b) => b.prefix));
  const smokeSent = phase === 'full' && batches.length > 0 ? smokeBatch(plan, config.smoke.examples, prepared.dataset.items).prompts.map((p) => p.promptId) : [];
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
        prefixSharedChars: prefixShared[index],
        ...(index === 0 && smokeSent.length > 0 ? { promptsSentBefore: smokeSent } : {}),
        model,
        ...(b.examples === undefined ? {} : { examples: b.examples }),
        ...(stageKey === undefined ? {} : { stageKey }),
      },
      ctx,
    ),
  );
  return [planned, ...requests];
}
