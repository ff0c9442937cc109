import { createHash } from 'node:crypto';
import { AnyExperimentConfig } from '@assay/config';
import { compareCodeUnits, errorMessage, itemKey, sampleKey, type ExperimentStarted, type Sample } from '@assay/contracts';
import { loadDataset, loadSplit, observationsWhere } from '@assay/data';
import { assertTrainTestDisjoint, predictAll } from '@assay/evaluation';
import { methodCatalog } from '@assay/methods/registry';
import { planScope } from '@assay/prompting';
import type { FitResult } from '../experiment';
import { applyLabels } from '../plan/labels';
import { dataChangedSince } from '../plan/prepare';

/**
 * A fit stage cannot run (data files changed since the run started, a bad section, no usable
 * feature, ...): retrying gives the same answer, so the attempt fails with this message.
 */
export class FitError extends Error {
  override name = 'FitError';
}

/** A fitted prediction's id: stable per (entity, item), like a model call's prompt id, so the run directory keys it the same way. */
export function fitPromptId(cell: { entityId: string; group: string; item: string }): string {
  return `fit-${createHash('sha256').update(sampleKey(cell)).digest('hex').slice(0, 16)}`;
}

/**
 * Runs a fitted (non-LLM) method's fit stage for one attempt: the same data, split, labels and
 * sample scope as a model run of the same config would plan, the method's fit on the train
 * split's answers to the planned items, and its prediction for every observed test cell, one
 * batch per test entity (so no event outgrows a message). The items and train samples are chosen
 * exactly as for the baselines shown beside an LLM run, so both give the same numbers.
 */
export async function runFitStage(started: ExperimentStarted): Promise<FitResult> {
  const { identity, method: methodName, dataHashes } = started.data;
  const parsed = AnyExperimentConfig.safeParse(started.data.config);
  if (!parsed.success) throw new FitError(`${identity}: the started config is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const config = parsed.data;
  const changed = await dataChangedSince({ config, dataHashes });
  if (changed) throw new FitError(`${identity}: ${changed}: the fit would use other data`);
  const catalog = methodCatalog();
  const method = catalog.get(methodName);
  if (method.fit === undefined) throw new FitError(`${identity}: method '${methodName}' asks a model; it has no fit stage`);
  const settings = catalog.settingsOf(config);

  const raw = await loadDataset({ profiles: config.data.profiles, responses: config.data.responses, items: config.data.items });
  const { split, hash } = await loadSplit(config.data.split, raw.entities.map((e) => e.entityId));
  if (hash !== dataHashes.split) throw new FitError(`${identity}: data.split changed since the run started`);
  const dataset = applyLabels(config.labels.mode, raw, split);
  const scope = planScope(dataset.entities, dataset.items, split.test, { maxEntities: config.sample.max_entities, groups: config.sample.groups });
  const scopeItems = new Set(scope.items.map((i) => itemKey(i.group, i.item)));
  const scopeEntities = new Set(scope.entities.map((e) => e.entityId));
  const testSamples: Sample[] = observationsWhere(dataset.observations, (o) => scopeEntities.has(o.entityId) && scopeItems.has(itemKey(o.group, o.item)))
    .map((o) => ({ entityId: o.entityId, group: o.group, item: o.item, actual: o.value }));
  if (testSamples.length === 0) throw new FitError(`${identity}: nothing to predict: no test entity has an observed response (check the split and sample settings)`);
  // The items asked (those with a test observation), as a model run's plan lists them.
  const asked = new Set(testSamples.map((s) => itemKey(s.group, s.item)));
  const items = scope.items.filter((i) => asked.has(itemKey(i.group, i.item)));
  const train = new Set(split.train);
  const trainSamples: Sample[] = observationsWhere(dataset.observations, (o) => train.has(o.entityId) && asked.has(itemKey(o.group, o.item)))
    .map((o) => ({ entityId: o.entityId, group: o.group, item: o.item, actual: o.value }));
  assertTrainTestDisjoint(trainSamples, testSamples);
  const features = new Map(dataset.entities.map((e) => [e.entityId, e]));

  let predictions;
  try {
    const predictor = await method.fit({ settings, trainSamples, items, features });
    predictions = predictAll(methodName, predictor, testSamples, items);
  } catch (error) {
    throw new FitError(`${identity}: ${methodName} fit failed: ${errorMessage(error)}`);
  }
  const actual = new Map(testSamples.map((s) => [sampleKey(s), s.actual]));
  const byEntity = new Map<string, FitResult['batches'][number]['predictions']>();
  for (const p of predictions) {
    const scored = { ...p, promptId: fitPromptId(p), actual: actual.get(sampleKey(p))! };
    const list = byEntity.get(p.entityId);
    if (list) list.push(scored);
    else byEntity.set(p.entityId, [scored]);
  }
  const entityIds = [...byEntity.keys()].sort(compareCodeUnits);
  return {
    planned: {
      batches: entityIds.length,
      prompts: predictions.length,
      items,
      split: {
        path: config.data.split,
        sha256: hash,
        seed: split.seed,
        testFraction: split.test_fraction,
        train: split.train.length,
        test: split.test.length,
        created: false,
      },
      entities: entityIds.length,
      groups: [...new Set(items.map((i) => i.group))].sort(compareCodeUnits),
      idealCachedTokens: null,
      totalPromptTokens: null,
      preflightWarnings: [],
    },
    batches: entityIds.map((entityId) => ({ batchId: `fit:${entityId}`, predictions: byEntity.get(entityId)! })),
  };
}
