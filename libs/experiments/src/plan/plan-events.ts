import { requireModelSection } from '@assay/config';
import { createEvent, itemKey, type AssayEvent, type EventContext, type ExperimentStarted, type ModelCallSettings } from '@assay/contracts';
import { sharedWithOthers } from '@assay/inference';
import { modelCallSettings } from './model-settings';
import { smokeBatch } from '../smoke/smoke-batch';
import type { PlannedBatch, PreparedExperiment } from './prepare';

/** What experiment.planned says of a model stage's batches. */
export interface PlanTotals {
  batches: number;
  prompts: number;
  /** itemKey of every item some batch asks. */
  itemsAsked: ReadonlySet<string>;
  /** Groups some batch asks, sorted. */
  groups: string[];
}

/** The totals of these batches (the whole plan, or the smoke batch). */
export function planTotals(batches: readonly PlannedBatch[]): PlanTotals {
  return {
    batches: batches.length,
    prompts: batches.reduce((n, b) => n + b.prompts.length, 0),
    itemsAsked: new Set(batches.flatMap((b) => b.prompts.map((p) => itemKey(p.group, p.item)))),
    groups: [...new Set(batches.flatMap((b) => b.prompts.map((p) => p.group)))].sort(),
  };
}

/** A model stage's experiment.planned. */
export function plannedEvent(
  ctx: EventContext,
  started: Pick<ExperimentStarted['data'], 'identity' | 'attempt'>,
  prepared: PreparedExperiment,
  phase: 'smoke' | 'full',
  totals: PlanTotals,
  preflightWarnings: string[],
  stageKey: string | undefined,
): AssayEvent {
  return createEvent(
    'experiment.planned',
    {
      identity: started.identity,
      attempt: started.attempt,
      phase,
      batches: totals.batches,
      prompts: totals.prompts,
      items: prepared.dataset.items.filter((i) => totals.itemsAsked.has(itemKey(i.group, i.item))),
      split: prepared.splitInfo,
      entities: totals.batches,
      groups: totals.groups,
      idealCachedTokens: null,
      totalPromptTokens: null,
      preflightWarnings,
      ...(stageKey === undefined ? {} : { stageKey }),
    },
    ctx,
  );
}

/** The batch request of the plan's batch at `index`. */
export function batchRequestEvent(
  ctx: EventContext,
  started: Pick<ExperimentStarted['data'], 'identity' | 'attempt'>,
  phase: 'smoke' | 'full',
  b: PlannedBatch,
  index: number,
  facts: {
    model: ModelCallSettings;
    /** Characters of the batch's prefix another batch's prefix of the plan starts with (sharedWithOthers). */
    prefixSharedChars: number;
    /** Prompts of the plan's first batch the smoke test already sent (full phase; empty otherwise). */
    smokeSent: readonly string[];
  },
  stageKey: string | undefined,
): AssayEvent {
  return createEvent(
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
      prefixSharedChars: facts.prefixSharedChars,
      ...(index === 0 && facts.smokeSent.length > 0 ? { promptsSentBefore: [...facts.smokeSent] } : {}),
      model: facts.model,
      ...(b.examples === undefined ? {} : { examples: b.examples }),
      ...(stageKey === undefined ? {} : { stageKey }),
    },
    ctx,
  );
}

/** Prompts of the plan's first batch the smoke test sends before the full phase. */
export function smokeSentOf(prepared: PreparedExperiment, first: PlannedBatch): string[] {
  return smokeBatch([first], prepared.config.smoke.examples, prepared.dataset.items).prompts.map((p) => p.promptId);
}

/**
 * A plan as events: `experiment.planned` and one `inference.batch.requested` per entity batch
 * (smoke phase: the smoke batch alone). It takes the plan (planBatches, made once per request)
 * rather than making one, so the pre-flight, the smoke batch and the full run use the same batches.
 * A plan too long to hold at once is written a page at a time instead (planEventPages), with the
 * same events.
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
  const planned = plannedEvent(ctx, started, prepared, phase, planTotals(batches), preflightWarnings, stageKey);
  // For the ideal hit rate: how much of each prefix another entity's prefix shares, and (full
  // phase) which prompts of the first entity the smoke test already sent.
  const prefixShared = sharedWithOthers(batches.map((b) => b.prefix));
  const smokeSent = phase === 'full' && batches.length > 0 ? smokeSentOf(prepared, plan[0]) : [];
  const requests = batches.map((b, index) => batchRequestEvent(ctx, started, phase, b, index, { model, prefixSharedChars: prefixShared[index], smokeSent }, stageKey));
  return [planned, ...requests];
}
