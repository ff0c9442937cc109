import { requireModelSection } from '@assay/config';
import { createEvent, itemKey, type AssayEvent, type EventContext, type ExperimentStarted, type InferenceBatchRequested } from '@assay/contracts';
import { planScope, prefixDigest } from '@assay/prompting';
import { methodCatalog } from '@assay/methods/registry';
import { errorMessage } from '@assay/contracts';
import { sharedWithOthers } from '@assay/inference';
import { modelCallSettings } from './model-settings';
import type { Entity } from '@assay/data';
import { chatTemplateOf, planBatches, planSource, StageError, type PlannedBatch, type PlanSource, type PreparedExperiment } from './prepare';

/**
 * Entity-input stages (a persona summary): one model call per entity whose answer the prediction
 * prompts read. Their batches are `inference.batch.requested` with phase 'summary' and one prompt
 * whose suffix is empty (the whole prompt is the prefix). Such a batch is never scored: its
 * prompt's group is '' and its `actual` 0 only because the batch contract requires them.
 */

/** The method's entity-input stage, or null for a method without one. */
export function entityInputOf(prepared: Pick<PreparedExperiment, 'config'>) {
  return methodCatalog().get(prepared.config.method).entityInput ?? null;
}

/** One batch per planned test entity (plan order), each the entity's one entity-input call. */
export function planEntityInputBatches(prepared: PreparedExperiment): PlannedBatch[] {
  const { dataset, split } = prepared;
  const config = requireModelSection(prepared.config);
  const catalog = methodCatalog();
  const method = catalog.get(config.method);
  const input = method.entityInput;
  if (input === undefined) throw new Error(`method '${method.name}' has no entity-input stage`);
  let prompts: Array<{ entityId: string; prompt: string }>;
  try {
    const settings = catalog.settingsOf(config);
    const scope = planScope(dataset.entities, dataset.items, split.test, { maxEntities: config.sample.max_entities, groups: config.sample.groups });
    prompts = input.buildPrompts({ config, settings, dataset, split, profileView: prepared.profileView, chat: chatTemplateOf(config), ...scope });
  } catch (error) {
    if (error instanceof StageError) throw error;
    throw new StageError('preflight', `${method.name}.template: ${errorMessage(error)}`);
  }
  // Entities with nothing to predict (no observed response among the planned items) need no input either.
  const predicted = new Set(streamedPlanTotals(prepared, prompts.map((p) => p.entityId)).map((b) => b.entityId));
  const batches = prompts
    .filter((p) => predicted.has(p.entityId))
    .map((p) => ({ batchId: `${input.stage}:${p.entityId}`, entityId: p.entityId, prefix: p.prompt, prompts: [{ promptId: `${input.stage}:${p.entityId}`, group: '', item: input.stage, suffix: '', actual: 0 }] }));
  if (batches.length === 0) throw new StageError('preflight', 'nothing to predict: no test entity has an observed response (check the split and sample settings)');
  return batches;
}

/** experiment.planned + one request per entity for the entity-input stage, with the stage's own sampling. */
export function entityInputPlanEvents(
  ctx: EventContext,
  started: Pick<ExperimentStarted['data'], 'identity' | 'attempt'>,
  prepared: PreparedExperiment,
  batches: PlannedBatch[],
  preflightWarnings: string[],
  stageKey: string,
): AssayEvent[] {
  const config = requireModelSection(prepared.config);
  const input = entityInputOf(prepared);
  if (input === null) throw new Error(`method '${config.method}' has no entity-input stage`);
  const sampling = input.sampling(methodCatalog().settingsOf(config));
  // Guided JSON is for numeric answers; a summary is free text.
  const model = { ...modelCallSettings(config), temperature: sampling.temperature, maxTokens: sampling.maxTokens, seed: sampling.seed, stop: sampling.stop, guidedJson: false };
  const planned = createEvent(
    'experiment.planned',
    {
      identity: started.identity,
      attempt: started.attempt,
      phase: 'summary',
      batches: batches.length,
      prompts: batches.length,
      items: [],
      split: prepared.splitInfo,
      entities: batches.length,
      groups: [],
      idealCachedTokens: null,
      totalPromptTokens: null,
      preflightWarnings,
      stageKey,
    },
    ctx,
  );
  // For the ideal hit rate: how much of each summary prompt another entity's shares (see planEvents).
  const prefixShared = sharedWithOthers(batches.map((b) => b.prefix));
  const requests = batches.map((b, index) =>
    createEvent(
      'inference.batch.requested',
      { identity: started.identity, attempt: started.attempt, phase: 'summary', batchId: b.batchId, entityId: b.entityId, index, prefix: b.prefix, prompts: b.prompts, prefixSharedChars: prefixShared[index], model, stageKey },
      ctx,
    ),
  );
  return [planned, ...requests];
}

/** The prediction batches of a stage that reads entity inputs, for counting (texts stand in for the inputs). */
export function streamedPlanTotals(prepared: PreparedExperiment, entityIds: string[]): PlannedBatch[] {
  const stand = new Map(entityIds.map((id) => [id, `input of ${id}`]));
  return planBatches(prepared, { entityInputs: stand, only: new Set(entityIds) });
}

/**
 * What an attempt's streamed prediction batches are made from, set up once: every entity's batch
 * (stand-in inputs) for the stage's counts and each entity's place, and the source that makes an
 * entity's batch from its input (set up once, not once per entity: the ground truth and the
 * method's setup read the whole dataset).
 */
export interface StreamedPlan {
  totals: PlannedBatch[];
  /** Entity id -> its batch's index in `totals`. */
  index: ReadonlyMap<string, number>;
  source: PlanSource;
  entities: ReadonlyMap<string, Entity>;
}

export function streamedPlan(prepared: PreparedExperiment, entityIds: string[]): StreamedPlan {
  const totals = streamedPlanTotals(prepared, entityIds);
  const source = planSource(prepared, { only: new Set(totals.map((b) => b.entityId)) });
  return { totals, index: new Map(totals.map((b, i) => [b.entityId, i])), source, entities: new Map(source.entities.map((e) => [e.entityId, e])) };
}

/**
 * One entity's prediction batch from its entity input (its summary), plus the stage's
 * experiment.planned when it is the stage's first batch (`totals`: every entity's batch, for the
 * counts; `index`: the entity's place in plan order).
 */
export function streamedBatchEvents(args: {
  ctx: EventContext;
  started: Pick<ExperimentStarted['data'], 'identity' | 'attempt'>;
  prepared: PreparedExperiment;
  entityId: string;
  input: string;
  withPlanned: boolean;
  plan: StreamedPlan;
  stageKey: string;
  /** prefixDigest of every prefix this stage requested earlier in the attempt. */
  earlierPrefixes: ReadonlySet<string>;
}): AssayEvent[] {
  const { ctx, started, prepared, entityId, plan } = args;
  const { totals } = plan;
  const index = plan.index.get(entityId);
  const entity = plan.entities.get(entityId);
  if (index === undefined || entity === undefined) throw new Error(`entity ${JSON.stringify(entityId)} answered an entity-input call but has no planned prediction batch`);
  const [batch] = plan.source.batchesOf([entity], new Map([[entityId, args.input]]));
  if (batch === undefined) throw new Error(`entity ${JSON.stringify(entityId)} has a planned prediction batch, but its input made none`);
  const events: AssayEvent[] = [];
  if (args.withPlanned) {
    const itemsAsked = new Set(totals.flatMap((b) => b.prompts.map((p) => itemKey(p.group, p.item))));
    events.push(
      createEvent(
        'experiment.planned',
        {
          identity: started.identity,
          attempt: started.attempt,
          phase: 'full',
          batches: totals.length,
          prompts: totals.reduce((n, b) => n + b.prompts.length, 0),
          items: prepared.dataset.items.filter((i) => itemsAsked.has(itemKey(i.group, i.item))),
          split: prepared.splitInfo,
          entities: totals.length,
          groups: [...new Set(totals.flatMap((b) => b.prompts.map((p) => p.group)))].sort(),
          idealCachedTokens: null,
          totalPromptTokens: null,
          preflightWarnings: [],
          stageKey: args.stageKey,
        },
        ctx,
      ),
    );
  }
  const request: InferenceBatchRequested['data'] = {
    identity: started.identity,
    attempt: started.attempt,
    phase: 'full',
    batchId: batch.batchId,
    entityId,
    index,
    prefix: batch.prefix,
    prompts: batch.prompts,
    // For the ideal hit rate, which must stay an upper bound. The other entities' prefixes are
    // not known yet (their summaries are still coming), so the head another entity shares is
    // unknown: no deduction for the entity's first prompt. But an entity whose prefix repeats one
    // requested earlier (two identical summaries) may find that entity's prompts whole, as twin
    // prefixes of a whole plan may (planEvents): say so. Of two twins, the later one is marked;
    // whichever the server sees second gets the hits, and the twins' prompts are the same.
    ...(args.earlierPrefixes.has(prefixDigest(batch.prefix)) ? { prefixSharedChars: batch.prefix.length } : {}),
    model: modelCallSettings(requireModelSection(prepared.config)),
    // The stage cache finds this entity's answers by it when a later experiment has the same key.
    stageKey: args.stageKey,
  };
  events.push(createEvent('inference.batch.requested', request, ctx));
  return events;
}
