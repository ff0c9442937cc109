import { computeIdentity, requireModelSection, type AnyExperimentConfig, type ExperimentConfig, type Identity } from '@assay/config';
import type { FailureStage, ItemDef, SplitInfo } from '@assay/contracts';
import { checkDataset, datasetHash, ensureSplit, hashFile, loadDataset, loadProfileView, observationPositionsByEntity, type Dataset, type Entity, type Observation, type ProfileView, type SplitFile } from '@assay/data';
import { loadChatTemplate, planScope, type ChatTemplate } from '@assay/prompting';
import { promptsOf, type MethodEntityPrompts } from '@assay/methods/core';
import { assertExamplesFromTrain, ExampleSelectionError } from '@assay/methods/llm-few-shot';
import { methodCatalog } from '@assay/methods/registry';
import { applyLabels, LabelError } from './labels';
import { errorMessage, itemKey } from '@assay/contracts';


/** A failure with the stage it belongs to; its message is the one line a user needs to fix it. */
export class StageError extends Error {
  constructor(
    readonly stage: FailureStage,
    message: string,
    readonly details: string[] = [],
  ) {
    super(message);
    this.name = 'StageError';
  }
}

export interface PreparedExperiment {
  /** A baseline's has no model section (see requireModelSection). */
  config: AnyExperimentConfig;
  /** With the run's labels applied (labels.mode): what prompts ask and what predictions are scored against. */
  dataset: Dataset;
  warnings: string[];
  dataHashes: { profiles: string; responses: string; items: string; split: string };
  split: SplitFile;
  splitInfo: SplitInfo;
  identity: Identity;
  /** The config's `profile` section checked against the data; null without one. */
  profileView: ProfileView | null;
}

async function hashOrFail(role: string, path: string): Promise<string> {
  try {
    return await hashFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new StageError('preflight', `data.${role}: file not found: ${path}`);
    if (code === 'EISDIR') throw new StageError('preflight', `data.${role}: ${path} is a directory, not a file`);
    throw new StageError('preflight', `data.${role}: cannot read ${path} (${code ?? errorMessage(error)})`);
  }
}

/**
 * Cheap checks and everything the identity depends on: files exist and parse, the dataset is
 * consistent, the split exists (created once, seeded) and matches the data.
 */
export async function prepareExperiment(config: AnyExperimentConfig, codeVersion: string): Promise<PreparedExperiment> {
  const files = { profiles: config.data.profiles, responses: config.data.responses, items: config.data.items };
  const [profiles, responses, items] = await Promise.all([
    hashOrFail('profiles', files.profiles),
    hashOrFail('responses', files.responses),
    hashOrFail('items', files.items),
  ]);
  let dataset: Dataset;
  try {
    dataset = await loadDataset(files);
  } catch (error) {
    throw new StageError('preflight', errorMessage(error));
  }
  const check = checkDataset(dataset);
  if (check.errors.length > 0) throw new StageError('preflight', check.errors[0], check.errors.slice(1));
  let profileView: ProfileView | null;
  try {
    profileView = await loadProfileView(config.profile, dataset.featureNames, files.profiles);
  } catch (error) {
    throw new StageError('preflight', errorMessage(error));
  }
  const entityIds = dataset.entities.map((e) => e.entityId);
  let split: { split: SplitFile; created: boolean; hash: string; warnings: string[] };
  try {
    split = await ensureSplit(config.data.split, entityIds, {
      seed: config.split.seed,
      testFraction: config.split.test_fraction,
      dataHash: datasetHash(profiles, responses),
    });
  } catch (error) {
    throw new StageError('preflight', errorMessage(error));
  }
  const dataHashes = { profiles, responses, items, split: split.hash };
  let labelled: Dataset;
  try {
    labelled = applyLabels(config.labels.mode, dataset, split.split);
  } catch (error) {
    if (error instanceof LabelError) throw new StageError('preflight', error.message);
    throw error;
  }
  return {
    config,
    dataset: labelled,
    warnings: [...check.warnings, ...split.warnings],
    dataHashes,
    split: split.split,
    splitInfo: {
      path: config.data.split,
      sha256: split.hash,
      seed: split.split.seed,
      testFraction: split.split.test_fraction,
      train: split.split.train.length,
      test: split.split.test.length,
      created: split.created,
    },
    identity: computeIdentity({ config, dataHashes, codeVersion }),
    profileView,
  };
}

/**
 * Why `prepared` no longer describes the files on disk (the names of the changed data files), or
 * null when every data file, split included, still has the hash it was prepared from. Hashing
 * only: it lets a plan made earlier be reused without loading and planning the data again.
 */
export async function dataChangedSince(prepared: Pick<PreparedExperiment, 'config' | 'dataHashes'>): Promise<string | null> {
  const data = prepared.config.data;
  const paths = { profiles: data.profiles, responses: data.responses, items: data.items, split: data.split };
  const roles = Object.keys(paths) as Array<keyof typeof paths>;
  const now = await Promise.all(roles.map((role) => hashOrFail(role, paths[role])));
  const changed = roles.filter((role, i) => now[i] !== prepared.dataHashes[role]);
  return changed.length === 0 ? null : `the data files changed since the run started (${changed.map((r) => `data.${r}`).join(', ')})`;
}

/** The config's chat template, or a preflight failure naming the key. */
export function chatTemplateOf(config: ExperimentConfig): ChatTemplate {
  try {
    return loadChatTemplate(config.model.chat_template);
  } catch (error) {
    throw new StageError('preflight', `model.chat_template: ${errorMessage(error)}`);
  }
}

export interface PlannedPrompt {
  promptId: string;
  group: string;
  item: string;
  suffix: string;
  actual: number;
}

export interface PlannedBatch {
  batchId: string;
  entityId: string;
  prefix: string;
  prompts: PlannedPrompt[];
  /** The train entities shown as worked examples in the prefix (few-shot methods). */
  examples?: string[];
}

/** Makes a plan's batches for any run of its entities, so a long plan can be made a page at a time. */
export interface PlanSource {
  /** The entities planned, in plan order (each gets a batch unless none of its cells is observed). */
  readonly entities: readonly Entity[];
  /**
   * The batches of these entities (a run of `entities`, in their order): the batches planBatches
   * makes for them; `entityInputs` in place of the source's own (an entity's summary as it comes).
   */
  batchesOf(entities: readonly Entity[], entityInputs?: ReadonlyMap<string, string>): PlannedBatch[];
}

/**
 * The plan's batches, entity by entity: the scope, the method and the ground truth are set up
 * once, the prompts made only for the entities asked for. An entity's prompts depend on that
 * entity alone (its examples too), so pages of entities give the same batches as one whole plan.
 */
export function planSource(
  prepared: PreparedExperiment,
  /** For a method whose prompts read entity inputs (a persona summary): those texts, and the entities to plan (default: all). */
  options: { entityInputs?: ReadonlyMap<string, string>; only?: ReadonlySet<string> } = {},
): PlanSource {
  const { dataset, split } = prepared;
  let build: (entities: Entity[], entityInputs: ReadonlyMap<string, string> | undefined) => MethodEntityPrompts[];
  let entities: Entity[];
  try {
    const config = requireModelSection(prepared.config);
    const chat = chatTemplateOf(config);
    const catalog = methodCatalog();
    const method = catalog.get(config.method);
    const settings = catalog.settingsOf(config);
    try {
      const scope = planScope(dataset.entities, dataset.items, split.test, { maxEntities: config.sample.max_entities, groups: config.sample.groups });
      entities = options.only === undefined ? scope.entities : scope.entities.filter((e) => options.only!.has(e.entityId));
      const prompts = promptsOf(method);
      build = (some, entityInputs) => prompts({ config, settings, dataset, split, profileView: prepared.profileView, chat, ...scope, entities: some, ...(entityInputs === undefined ? {} : { entityInputs }) });
    } catch (error) {
      throw new Error(`prompt: ${errorMessage(error)}`);
    }
  } catch (error) {
    throw new StageError('preflight', errorMessage(error));
  }
  // Each entity's observations (their positions in the dataset's list), looked up when its batch
  // is made: a map of every cell's key, or every observation as an object, would hold the whole
  // dataset's cells again for as long as the plan is written.
  const observed = observationPositionsByEntity(dataset.observations);
  const batchesOf = (some: readonly Entity[], entityInputs = options.entityInputs): PlannedBatch[] => {
    let entityPrompts: MethodEntityPrompts[];
    try {
      try {
        entityPrompts = build([...some], entityInputs);
      } catch (error) {
        // Selection errors name their own key; the rest come from the templates or the sample settings.
        throw error instanceof ExampleSelectionError ? error : new Error(`prompt: ${errorMessage(error)}`);
      }
      assertExamplesFromTrain(new Map(entityPrompts.flatMap((ep) => (ep.examples === undefined ? [] : [[ep.entityId, ep.examples]]))), split);
    } catch (error) {
      throw new StageError('preflight', errorMessage(error));
    }
    const batches: PlannedBatch[] = [];
    for (const ep of entityPrompts) {
      const truth = new Map((observed.get(ep.entityId) ?? []).map((at) => {
        const o = dataset.observations.at(at) as Observation;
        return [itemKey(o.group, o.item), o.value];
      }));
      const prompts: PlannedPrompt[] = [];
      for (const p of ep.prompts) {
        const actual = truth.get(itemKey(p.group, p.item));
        if (actual !== undefined) prompts.push({ ...p, actual });
      }
      if (prompts.length > 0) batches.push({ batchId: prompts[0].promptId, entityId: ep.entityId, prefix: ep.prefix, prompts, ...(ep.examples === undefined ? {} : { examples: ep.examples }) });
    }
    return batches;
  };
  return { entities, batchesOf };
}

export const NOTHING_TO_PREDICT = 'nothing to predict: no test entity has an observed response (check the split and sample settings)';

/**
 * One batch per test entity, in entity order, each prompt carrying its ground truth; cells
 * without an observation are not asked (there is nothing to score them against). The prompts are
 * the config's method's; examples it shows must come from the train split (the leakage check).
 */
export function planBatches(
  prepared: PreparedExperiment,
  /** For a method whose prompts read entity inputs (a persona summary): those texts, and the entities to plan (default: all). */
  options: { entityInputs?: ReadonlyMap<string, string>; only?: ReadonlySet<string> } = {},
): PlannedBatch[] {
  const source = planSource(prepared, options);
  const batches = source.batchesOf(source.entities);
  if (batches.length === 0) throw new StageError('preflight', NOTHING_TO_PREDICT);
  return batches;
}
