import { createHash } from 'node:crypto';
import { z } from 'zod';
import { compareCodeUnits } from '@assay/contracts';
import { mulberry32, shuffleInPlace, viewedFeatures, type Entity, type ProfileView } from '@assay/data';
import { encodedEntities, type FeatureRow } from '@assay/evaluation';

/**
 * Example selection for few-shot prompts: for each test entity, k worked examples drawn from the
 * train split only, `random` (seeded) or `nearest` (by profile distance over the viewed features).
 * Pure functions of their inputs, so the same config and data give the same examples everywhere.
 */

/** The method's config section (`llm_few_shot:`), strict like every other section. */
export const FewShotSection = z.strictObject({
  k: z.int().min(1),
  selection: z.enum(['random', 'nearest']).default('random'),
  /** For `random`: the same seed gives every entity the same examples on every machine. */
  seed: z.int().min(0).max(0xffffffff).default(0),
});
export type FewShotSettings = z.infer<typeof FewShotSection>;

/** Where the settings sit in the config, for error messages. */
export const SECTION_KEY = 'llm_few_shot';

export class ExampleSelectionError extends Error {
  override name = 'ExampleSelectionError';
}

/**
 * Per test entity (in the given order), the ids of its k examples, in prompt order. Errors name
 * the key: k larger than the train split, a test id that is also a train id, an entity without a
 * profile.
 */
export function selectExamples(args: {
  testIds: string[];
  trainIds: string[];
  entities: Entity[];
  view: ProfileView | null;
  settings: FewShotSettings;
}): Map<string, string[]> {
  const { testIds, settings } = args;
  const trainIds = [...new Set(args.trainIds)].sort(compareCodeUnits);
  if (!Number.isInteger(settings.k) || settings.k < 1) throw new ExampleSelectionError(`${SECTION_KEY}.k: must be a positive integer, got ${settings.k}`);
  if (settings.k > trainIds.length) {
    throw new ExampleSelectionError(`${SECTION_KEY}.k: ${settings.k} examples asked for, but the train split has only ${trainIds.length} entit${trainIds.length === 1 ? 'y' : 'ies'} to draw them from`);
  }
  const train = new Set(trainIds);
  const inBoth = testIds.filter((id) => train.has(id));
  if (inBoth.length > 0) {
    throw new ExampleSelectionError(`${inBoth.length} test entit(y/ies) are also in the train split, so they could be their own example: ${inBoth.slice(0, 5).map((id) => JSON.stringify(id)).join(', ')}`);
  }
  const pick = settings.selection === 'random' ? randomPicker(trainIds, settings) : memoizedNearestPicker(trainIds, args.entities, args.view, settings.k);
  const out = new Map<string, string[]>();
  for (const id of testIds) out.set(id, pick(id));
  assertExamplesFromTrain(out, { train: trainIds, test: testIds });
  return out;
}

/**
 * An entity's own seed, from the config seed and its id: its examples do not depend on which
 * other entities are planned (sample.max_entities, groups), so a stage that selected them can be
 * reused by a run over more entities.
 */
function entitySeed(seed: number, entityId: string): number {
  return createHash('sha256').update(`${seed}\u0000${entityId}`).digest().readUInt32BE(0);
}

function randomPicker(trainIds: string[], settings: FewShotSettings): (entityId: string) => string[] {
  return (entityId) => shuffleInPlace([...trainIds], mulberry32(entitySeed(settings.seed, entityId))).slice(0, settings.k);
}

/** The view's key when there is none (a WeakMap needs an object). */
const NO_VIEW = {};
const nearestPickers = new WeakMap<Entity[], WeakMap<object, Map<string, (entityId: string) => string[]>>>();

/**
 * nearestPicker, encoded once per entity list, view, train split and k: a plan made a page of
 * entities at a time selects examples once per page, and the encoding reads every entity.
 */
function memoizedNearestPicker(trainIds: string[], entities: Entity[], view: ProfileView | null, k: number): (entityId: string) => string[] {
  let byView = nearestPickers.get(entities);
  if (byView === undefined) nearestPickers.set(entities, (byView = new WeakMap()));
  let byKey = byView.get(view ?? NO_VIEW);
  if (byKey === undefined) byView.set(view ?? NO_VIEW, (byKey = new Map()));
  const key = JSON.stringify([k, trainIds]);
  let pick = byKey.get(key);
  if (pick === undefined) byKey.set(key, (pick = nearestPicker(trainIds, entities, view, k)));
  return pick;
}

/**
 * Nearest train entities by Euclidean distance on the same train-learnt encoding the kNN baseline
 * uses (numeric columns z-scored, few-valued text one-hot), over the columns the profile view
 * shows: the examples resemble what the model is shown. Ties go to the smaller id.
 */
function nearestPicker(trainIds: string[], entities: Entity[], view: ProfileView | null, k: number): (entityId: string) => string[] {
  // Without a view an entity is its own feature row; with one, the shown columns' names once and each entity's shown values.
  const viewNames = view === null ? [] : view.columns.map((c) => c.name);
  const features = new Map<string, FeatureRow>(
    entities.map((e) => [e.entityId, view === null ? e : { featureNames: viewNames, values: viewedFeatures(e, view).map(([, value]) => value) }]),
  );
  const { vectorOf } = encodedEntities(features, trainIds, `${SECTION_KEY}.selection nearest`);
  return (entityId) => {
    const v = vectorOf(entityId);
    return trainIds
      .map((id) => {
        const u = vectorOf(id);
        let d = 0;
        for (let i = 0; i < v.length; i++) d += (v[i] - u[i]) ** 2;
        return { id, d };
      })
      .sort((a, b) => a.d - b.d || compareCodeUnits(a.id, b.id))
      .slice(0, k)
      .map((x) => x.id);
  };
}

/**
 * The leakage check a run makes on the examples it is about to use (and the log records): every
 * example is a train entity, none is a test entity, none is the entity itself, none repeats.
 * Throws naming the first offending entity and example.
 */
export function assertExamplesFromTrain(examples: Map<string, string[]>, split: { train: string[]; test: string[] }): void {
  const train = new Set(split.train);
  const test = new Set(split.test);
  for (const [entityId, ids] of examples) {
    const seen = new Set<string>();
    for (const id of ids) {
      const problem =
        id === entityId
          ? 'is the entity itself'
          : test.has(id)
            ? 'is a test entity (its answers are what the run is scored on)'
            : !train.has(id)
              ? 'is not in the train split'
              : seen.has(id)
                ? 'is given twice'
                : null;
      if (problem !== null) throw new ExampleSelectionError(`few-shot leakage check: example ${JSON.stringify(id)} for entity ${JSON.stringify(entityId)} ${problem}`);
      seen.add(id);
    }
  }
}
