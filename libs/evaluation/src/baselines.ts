import { mean } from 'simple-statistics';
import { compareCodeUnits, itemKey } from '@assay/contracts';
import type { ItemDef, Prediction, Sample } from '@assay/contracts';
import type { TableBaseline } from './table';
import {
  answerBaseline,
  encodedEntities,
  majority,
  runBaseline,
  trainByItem,
  trainEntityIds,
  type BaselineFitter,
  type BaselineRunArgs,
  type FeatureTable,
} from './baseline-fit';
import { fitLinear, LINEAR_METHOD } from './baseline-linear';

export { assertTrainTestDisjoint, learnEncoding, MAX_CATEGORIES, predictAll, runBaseline } from './baseline-fit';
export type { BaselineAnswer, BaselineFitter, BaselinePredictor, BaselineRunArgs, BaselineTrainingData, FeatureRow, FeatureTable } from './baseline-fit';
export { fitLinear, fitLinearYielding, LINEAR_METHOD, RIDGE_LAMBDA } from './baseline-linear';

/**
 * Non-LLM baselines, so a reader can tell whether the ranking makes sense (an LLM that does not
 * beat the train mean has learnt nothing useful). Each is a pure fitter (see baseline-fit.ts) that
 * learns only from the train split; runBaseline predicts every test sample with it.
 */

export const TRAIN_MEAN_METHOD = 'baseline_train_mean';
export const KNN_METHOD = 'baseline_knn';
export const MAJORITY_METHOD = 'baseline_majority';

/** Per item, one value learnt from its train answers; `describe` gives the value and its metadata. */
function perItemConstant(missing: (item: ItemDef) => string, describe: (item: ItemDef, sortedValues: number[]) => { value: number; metadata: Record<string, unknown> }): BaselineFitter {
  return ({ trainSamples, items }) => {
    const byKey = new Map(items.map((it) => [itemKey(it.group, it.item), it]));
    const fitted = new Map<string, { value: number; metadata: Record<string, unknown> }>();
    for (const [key, list] of trainByItem(trainSamples)) {
      const item = byKey.get(key);
      if (item === undefined) throw new Error(`no item definition for ${key}`);
      // Values sorted so the floating-point sum, hence a mean, does not depend on input order.
      fitted.set(key, describe(item, list.map((t) => t.actual).sort((a, b) => a - b)));
    }
    return {
      predict: (_entityId, item) => fitted.get(itemKey(item.group, item.item)) ?? { error: missing(item) },
    };
  };
}

/**
 * Per item: the train mean (ordinal, continuous; the mean, not rounded, as it is the constant
 * with the lowest squared error) or the majority class (binary).
 */
export const fitTrainMean: BaselineFitter = perItemConstant(
  (item) => `no train samples for item ${JSON.stringify(item.item)} in group ${JSON.stringify(item.group)}`,
  (item, values) => ({ value: item.kind === 'binary' ? majority(values).value : mean(values), metadata: { nTrain: values.length, statistic: item.kind === 'binary' ? 'majority' : 'mean' } }),
);

/**
 * Per item: the most frequent train answer, whatever the kind (a tie goes to the smaller value):
 * what "always give the usual answer" scores, the constant with the most exact hits.
 */
export const fitMajority: BaselineFitter = perItemConstant(
  (item) => `no train samples for item ${JSON.stringify(item.item)} in group ${JSON.stringify(item.group)}`,
  (_item, values) => {
    const { value, count } = majority(values);
    return { value, metadata: { nTrain: values.length, votes: count } };
  },
);

/**
 * k nearest train entities (Euclidean distance on the train-learnt encoding; equal distances
 * broken by entity id) among those that answered the item; prediction = mean of their answers
 * (for a binary item, the share of yes among neighbours). Fewer than k candidates -> all of them.
 * metadata: k, the neighbour ids used, the number of feature dimensions.
 */
/** How kNN measures profile distance on the encoded (z-scored) features. */
export type KnnMetric = 'euclidean' | 'manhattan';
export const KNN_METRICS: readonly KnnMetric[] = ['euclidean', 'manhattan'];

export function knnFitter(k = 5, metric: KnnMetric = 'euclidean'): BaselineFitter {
  if (!Number.isInteger(k) || k < 1) throw new Error(`k must be a positive integer, got ${k}`);
  const distance = metric === 'euclidean' ? euclidean : manhattan;
  return ({ trainSamples, features }) => {
    const trainIds = trainEntityIds(trainSamples);
    const { dims, vectorOf } = encodedEntities(features, trainIds, 'kNN baseline');
    // Per item: who answered it in train, and what.
    const answers = new Map<string, Map<string, number>>();
    for (const [key, list] of trainByItem(trainSamples)) answers.set(key, new Map(list.map((t) => [t.entityId, t.actual])));
    // Per test entity: every train entity (its position in trainIds), nearest first (ties by id),
    // computed once and reused for all its items; positions in a typed array, as there are test x train of them.
    const rankings = new Map<string, Int32Array>();
    const rankingOf = (entityId: string): Int32Array => {
      const cached = rankings.get(entityId);
      if (cached) return cached;
      const v = vectorOf(entityId);
      const ranked = Int32Array.from(
        trainIds
          .map((id, position) => ({ id, position, d: distance(v, vectorOf(id)) }))
          .sort((a, b) => a.d - b.d || compareCodeUnits(a.id, b.id))
          .map((x) => x.position),
      );
      rankings.set(entityId, ranked);
      return ranked;
    };
    return {
      predict(entityId, item) {
        const answered = answers.get(itemKey(item.group, item.item));
        if (answered === undefined) return { error: `no train entity answered item ${JSON.stringify(item.item)} in group ${JSON.stringify(item.group)}` };
        const neighbours: string[] = [];
        for (const position of rankingOf(entityId)) {
          const id = trainIds[position];
          if (!answered.has(id)) continue;
          neighbours.push(id);
          if (neighbours.length === k) break;
        }
        const neighbourAnswers = neighbours.map((id) => answered.get(id) as number);
        // Sorted values: the mean must not depend on which neighbour came first.
        const value = mean([...neighbourAnswers].sort((a, b) => a - b));
        return { value, metadata: { k, metric, neighbours, neighbourAnswers, dimensions: dims.length } };
      },
    };
  };
}

function euclidean(a: number[], b: number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s);
}

function manhattan(a: number[], b: number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s;
}

export function trainMeanBaseline(args: { trainSamples: Sample[]; testSamples: Sample[]; items: ItemDef[] }): Prediction[] {
  return runBaseline(TRAIN_MEAN_METHOD, fitTrainMean, { ...args, features: new Map() });
}

export function majorityBaseline(args: { trainSamples: Sample[]; testSamples: Sample[]; items: ItemDef[] }): Prediction[] {
  return runBaseline(MAJORITY_METHOD, fitMajority, { ...args, features: new Map() });
}

export function nearestNeighbourBaseline(args: BaselineRunArgs & { k?: number }): Prediction[] {
  const { k, ...rest } = args;
  return runBaseline(KNN_METHOD, knnFitter(k), rest);
}

export function linearBaseline(args: BaselineRunArgs): Prediction[] {
  return runBaseline(LINEAR_METHOD, fitLinear, args);
}

/**
 * The baselines shown beside every LLM run, in a fixed order: train mean, majority, kNN. Each is
 * also a fitter of its own (fitTrainMean, fitMajority, knnFitter), ready to run as a method with
 * its own identity. The learned linear baseline (fitLinear, linearBaseline) is not among them yet:
 * its logistic fits cost n*p^2 per Newton step, about 20-30 s of CPU at 589 entities x 250
 * features x 24 binary items on this machine, which would block the evaluator's event loop past
 * its 15 s ack wait; it is meant to run as a method of its own (off the evaluator's loop).
 */
export function standardBaselines(args: { trainSamples: Sample[]; testSamples: Sample[]; items: ItemDef[]; features: FeatureTable }): Prediction[][] {
  return standardBaselineRuns(args).map((b) => b.predict());
}

/** A baseline by name, predicting only when asked: a caller can score one and let its predictions go before the next. */
export interface BaselineRun {
  method: string;
  predict: () => Prediction[];
}

/** standardBaselines answering a table's rows into columns (same baselines, same order, same values; no per-answer metadata). */
export function standardTableBaselines(train: { trainSamples: Sample[]; items: ItemDef[]; features: FeatureTable }): TableBaseline[] {
  const constant = { ...train, features: new Map() };
  return [
    { method: TRAIN_MEAN_METHOD, answer: (table) => answerBaseline(TRAIN_MEAN_METHOD, fitTrainMean, constant, table) },
    { method: MAJORITY_METHOD, answer: (table) => answerBaseline(MAJORITY_METHOD, fitMajority, constant, table) },
    { method: KNN_METHOD, answer: (table) => answerBaseline(KNN_METHOD, knnFitter(), train, table) },
  ];
}

/** standardBaselines, one at a time (same baselines, same order). */
export function standardBaselineRuns(args: { trainSamples: Sample[]; testSamples: Sample[]; items: ItemDef[]; features: FeatureTable }): BaselineRun[] {
  return [
    { method: TRAIN_MEAN_METHOD, predict: () => trainMeanBaseline(args) },
    { method: MAJORITY_METHOD, predict: () => majorityBaseline(args) },
    { method: KNN_METHOD, predict: () => nearestNeighbourBaseline(args) },
  ];
}
