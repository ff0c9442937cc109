import { mean } from 'simple-statistics';
import { itemKey } from '@assay/contracts';
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
  return ({ trainSamples, features }) => {
    const trainIds = trainEntityIds(trainSamples);
    const { dims, vectorOf } = encodedEntities(features, trainIds, 'kNN baseline');
    const nearest = neighbourRanking(trainIds.map(vectorOf), metric);
    const positionOf = new Map(trainIds.map((id, position) => [id, position]));
    // Per item: each train entity's answer by its position in trainIds, NaN where it gave none
    // (train answers are finite: trainByItem checks), so a neighbour walk does no string lookup.
    const answers = new Map<string, Float64Array>();
    for (const [key, list] of trainByItem(trainSamples)) {
      const byPosition = new Float64Array(trainIds.length).fill(Number.NaN);
      for (const t of list) byPosition[positionOf.get(t.entityId) as number] = t.actual;
      answers.set(key, byPosition);
    }
    // Per test entity, computed once and reused for all its items: its nearest train positions,
    // nearest first. Only the first few at first (a walk rarely skips many non-answering
    // neighbours); every train entity once an item needs more.
    const prefix = KNN_RANKING_PREFIX * k;
    const rankings = new Map<string, Int32Array>();
    const rankingOf = (entityId: string, all: boolean): Int32Array => {
      let ranked = rankings.get(entityId);
      if (ranked === undefined || (all && ranked.length < trainIds.length)) {
        ranked = nearest(vectorOf(entityId), all ? trainIds.length : prefix);
        rankings.set(entityId, ranked);
      }
      return ranked;
    };
    const walk = (ranked: Int32Array, answered: Float64Array, neighbours: number[]): void => {
      for (const position of ranked) {
        if (Number.isNaN(answered[position])) continue;
        neighbours.push(position);
        if (neighbours.length === k) return;
      }
    };
    return {
      predict(entityId, item) {
        const answered = answers.get(itemKey(item.group, item.item));
        if (answered === undefined) return { error: `no train entity answered item ${JSON.stringify(item.item)} in group ${JSON.stringify(item.group)}` };
        const positions: number[] = [];
        const ranked = rankingOf(entityId, false);
        walk(ranked, answered, positions);
        // Fewer than k answered among the first few: the whole ranking decides.
        if (positions.length < k && ranked.length < trainIds.length) {
          positions.length = 0;
          walk(rankingOf(entityId, true), answered, positions);
        }
        const neighbours = positions.map((position) => trainIds[position]);
        const neighbourAnswers = positions.map((position) => answered[position]);
        // Sorted values: the mean must not depend on which neighbour came first.
        const value = mean([...neighbourAnswers].sort((a, b) => a - b));
        return { value, metadata: { k, metric, neighbours, neighbourAnswers, dimensions: dims.length } };
      },
    };
  };
}

/** A kNN ranking first holds this many times k nearest train entities (more on demand). */
export const KNN_RANKING_PREFIX = 4;

/**
 * The ranking kNN walks: given a vector, the positions of the `count` nearest `train` vectors
 * (all of them when count >= their number), nearest first, equal distances by position (train ids
 * come sorted, so that is by id); the first `count` of the full ranking, as it is a total order.
 * The train vectors sit in one row-major Float64Array; four train rows are summed side by side
 * (four independent additions in flight rather than one chain), each still adding its terms in
 * dimension order, so every distance is the same double a per-pair loop gives.
 */
export function neighbourRanking(train: readonly (readonly number[])[], metric: KnnMetric): (v: readonly number[], count: number) => Int32Array {
  const n = train.length;
  const p = n === 0 ? 0 : train[0].length;
  const matrix = new Float64Array(n * p);
  train.forEach((row, t) => {
    if (row.length !== p) throw new Error(`neighbourRanking: train vector ${t} has ${row.length} dimensions, expected ${p}`);
    matrix.set(row, t * p);
  });
  const distances = new Float64Array(n);
  const fill = metric === 'euclidean' ? euclideanDistances : manhattanDistances;
  const before = (a: number, b: number): boolean => distances[a] < distances[b] || (distances[a] === distances[b] && a < b);
  return (v, count) => {
    if (v.length !== p) throw new Error(`neighbourRanking: vector has ${v.length} dimensions, expected ${p}`);
    fill(Float64Array.from(v), matrix, n, p, distances);
    if (count >= n) {
      const ranked = new Int32Array(n);
      for (let t = 0; t < n; t++) ranked[t] = t;
      return ranked.sort((a, b) => distances[a] - distances[b] || a - b);
    }
    // The `count` nearest so far, in order: positions come ascending, so one that only ties the last loses.
    const ranked = new Int32Array(count);
    let size = 0;
    for (let t = 0; t < n; t++) {
      if (size === count && !before(t, ranked[size - 1])) continue;
      let at = size === count ? size - 1 : size++;
      while (at > 0 && before(t, ranked[at - 1])) {
        ranked[at] = ranked[at - 1];
        at--;
      }
      ranked[at] = t;
    }
    return ranked;
  };
}

function euclideanDistances(v: Float64Array, matrix: Float64Array, n: number, p: number, out: Float64Array): void {
  let t = 0;
  for (; t + 4 <= n; t += 4) {
    const a = t * p;
    const b = a + p;
    const c = b + p;
    const d = c + p;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let i = 0; i < p; i++) {
      const x = v[i];
      s0 += (x - matrix[a + i]) ** 2;
      s1 += (x - matrix[b + i]) ** 2;
      s2 += (x - matrix[c + i]) ** 2;
      s3 += (x - matrix[d + i]) ** 2;
    }
    out[t] = Math.sqrt(s0);
    out[t + 1] = Math.sqrt(s1);
    out[t + 2] = Math.sqrt(s2);
    out[t + 3] = Math.sqrt(s3);
  }
  for (; t < n; t++) {
    const a = t * p;
    let s = 0;
    for (let i = 0; i < p; i++) s += (v[i] - matrix[a + i]) ** 2;
    out[t] = Math.sqrt(s);
  }
}

function manhattanDistances(v: Float64Array, matrix: Float64Array, n: number, p: number, out: Float64Array): void {
  let t = 0;
  for (; t + 4 <= n; t += 4) {
    const a = t * p;
    const b = a + p;
    const c = b + p;
    const d = c + p;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let i = 0; i < p; i++) {
      const x = v[i];
      s0 += Math.abs(x - matrix[a + i]);
      s1 += Math.abs(x - matrix[b + i]);
      s2 += Math.abs(x - matrix[c + i]);
      s3 += Math.abs(x - matrix[d + i]);
    }
    out[t] = s0;
    out[t + 1] = s1;
    out[t + 2] = s2;
    out[t + 3] = s3;
  }
  for (; t < n; t++) {
    const a = t * p;
    let s = 0;
    for (let i = 0; i < p; i++) s += Math.abs(v[i] - matrix[a + i]);
    out[t] = s;
  }
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
