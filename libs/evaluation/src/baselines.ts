import { mean, standardDeviation } from 'simple-statistics';
import { compareCodeUnits, itemKey, sampleKey } from '@assay/contracts';
import type { ItemDef, Prediction, Sample } from '@assay/contracts';
import { indexItems, itemOf } from './evaluate';
import { assertAllFinite } from './guard';

/**
 * Non-LLM baselines, so a reader can tell whether the ranking makes sense (an LLM that does not
 * beat the train mean has learnt nothing useful). Both learn only from the train
 * split and predict every test sample; an item they cannot predict becomes an inference
 * failure with a reason, exactly like a failed LLM call, so evaluate() treats them the same.
 */

export const TRAIN_MEAN_METHOD = 'baseline_train_mean';
export const KNN_METHOD = 'baseline_knn';

/** Split hygiene: an entity in both splits would leak its own answers into its baseline. */
function assertDisjoint(trainSamples: Sample[], testSamples: Sample[]): void {
  const train = new Set(trainSamples.map((s) => s.entityId));
  const leaked = [...new Set(testSamples.map((s) => s.entityId))].filter((e) => train.has(e)).sort(compareCodeUnits);
  if (leaked.length > 0) {
    throw new Error(`entities in both train and test samples: ${leaked.slice(0, 5).map((e) => JSON.stringify(e)).join(', ')}${leaked.length > 5 ? ', ...' : ''} (${leaked.length})`);
  }
}

function sortedTest(testSamples: Sample[]): Sample[] {
  return [...testSamples].sort(
    (a, b) => compareCodeUnits(a.group, b.group) || compareCodeUnits(a.item, b.item) || compareCodeUnits(a.entityId, b.entityId),
  );
}

function predicted(s: Sample, item: ItemDef, method: string, value: number, metadata: Record<string, unknown>): Prediction {
  return {
    entityId: s.entityId,
    group: s.group,
    item: s.item,
    method,
    predicted: value,
    parseStatus: 'ok',
    outlier: value < item.min || value > item.max,
    metadata,
  };
}

function failed(s: Sample, method: string, reason: string): Prediction {
  return { entityId: s.entityId, group: s.group, item: s.item, method, predicted: null, parseStatus: 'inference_failure', parseError: reason, outlier: false, metadata: {} };
}

/** Most frequent value; a tie goes to the smaller value so the result never depends on input order. */
function majority(values: number[]): number {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best = values[0];
  let bestCount = 0;
  for (const [v, c] of counts) {
    if (c > bestCount || (c === bestCount && v < best)) {
      best = v;
      bestCount = c;
    }
  }
  return best;
}

function trainByItem(trainSamples: Sample[]): Map<string, Sample[]> {
  const out = new Map<string, Sample[]>();
  const seen = new Set<string>();
  for (const s of trainSamples) {
    const key = sampleKey(s);
    if (seen.has(key)) throw new Error(`duplicate train sample ${key}`);
    seen.add(key);
    if (!Number.isFinite(s.actual)) throw new Error(`train sample ${key} has a non-finite actual value ${s.actual}`);
    const k = itemKey(s.group, s.item);
    const list = out.get(k);
    if (list) list.push(s);
    else out.set(k, [s]);
  }
  return out;
}

/**
 * Per item: the train mean (ordinal, continuous; the mean, not rounded, as it is the constant
 * with the lowest squared error) or the majority class (binary). Output sorted by group, item, entity.
 */
export function trainMeanBaseline(args: { trainSamples: Sample[]; testSamples: Sample[]; items: ItemDef[] }): Prediction[] {
  const { trainSamples, testSamples, items } = args;
  assertDisjoint(trainSamples, testSamples);
  const byItem = indexItems(items);
  const train = trainByItem(trainSamples);
  const fitted = new Map<string, { value: number; nTrain: number }>();
  for (const [key, list] of train) {
    const item = itemOf(byItem, list[0]);
    // Values sorted so the floating-point sum, hence the mean, does not depend on input order.
    const values = list.map((t) => t.actual).sort((a, b) => a - b);
    fitted.set(key, { value: item.kind === 'binary' ? majority(values) : mean(values), nTrain: values.length });
  }
  const out = sortedTest(testSamples).map((s) => {
    const item = itemOf(byItem, s);
    const fit = fitted.get(itemKey(s.group, s.item));
    if (fit === undefined) return failed(s, TRAIN_MEAN_METHOD, `no train samples for item ${JSON.stringify(s.item)} in group ${JSON.stringify(s.group)}`);
    return predicted(s, item, TRAIN_MEAN_METHOD, fit.value, { nTrain: fit.nTrain });
  });
  assertAllFinite(out, TRAIN_MEAN_METHOD);
  return out;
}

/** Above this many distinct train values a text feature is treated as free text or an id and ignored. */
export const MAX_CATEGORIES = 20;
const MISSING = new Set(['', 'na', 'n/a', 'nan', 'null', 'none']);
const NUMERIC_RE = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/u;

/** An entity's features with missing values (blank, NA, null, ...) left out and the rest trimmed. */
function featureMap(features: Map<string, Array<[string, string]>>, entityId: string): Map<string, string> {
  const list = features.get(entityId);
  if (list === undefined) throw new Error(`no features for entity ${JSON.stringify(entityId)}`);
  const seen = new Set<string>();
  const m = new Map<string, string>();
  for (const [name, value] of list) {
    if (seen.has(name)) throw new Error(`entity ${JSON.stringify(entityId)} has feature ${JSON.stringify(name)} twice`);
    seen.add(name);
    const t = value.trim();
    if (!MISSING.has(t.toLowerCase())) m.set(name, t);
  }
  return m;
}

function asNumber(v: string | undefined): number | null {
  if (v === undefined || !NUMERIC_RE.test(v)) return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/** One encoded dimension: raw value from an entity's features, then z-scored with train statistics. */
interface Dimension {
  name: string;
  raw: (m: Map<string, string>) => number;
  mu: number;
  sigma: number;
}

/**
 * Learns the feature encoding from train entities only:
 * - numeric column (every non-missing train value is a plain number): the value, a missing or
 *   non-numeric value imputed with the train mean (so its z-score is 0);
 * - text column with at most MAX_CATEGORIES distinct train values: one 0/1 dimension per value
 *   (missing or unseen -> all 0); more distinct values means ids or free text: ignored, since
 *   one-hot codes of unique strings only add noise to distances;
 * - every dimension z-scored on train (population std); a constant dimension is dropped.
 */
export function learnEncoding(trainEntities: Array<Map<string, string>>): Dimension[] {
  const names = [...new Set(trainEntities.flatMap((m) => [...m.keys()]))].sort(compareCodeUnits);
  const candidates: Array<{ name: string; raw: (m: Map<string, string>) => number }> = [];
  for (const name of names) {
    const present: string[] = [];
    for (const m of trainEntities) {
      const v = m.get(name);
      if (v !== undefined) present.push(v);
    }
    const numbers = present.map(asNumber);
    if (numbers.every((n) => n !== null)) {
      const fill = mean(numbers as number[]);
      candidates.push({ name, raw: (m) => asNumber(m.get(name)) ?? fill });
      continue;
    }
    const categories = [...new Set(present)].sort(compareCodeUnits);
    if (categories.length > MAX_CATEGORIES) continue;
    for (const c of categories) candidates.push({ name: `${name}=${c}`, raw: (m) => (m.get(name) === c ? 1 : 0) });
  }
  const dims: Dimension[] = [];
  for (const c of candidates) {
    const values = trainEntities.map(c.raw);
    if (values.every((v) => v === values[0])) continue;
    dims.push({ ...c, mu: mean(values), sigma: standardDeviation(values) });
  }
  return dims;
}

function encode(dims: Dimension[], m: Map<string, string>): number[] {
  return dims.map((d) => (d.raw(m) - d.mu) / d.sigma);
}

function distance(a: number[], b: number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s);
}

/**
 * k nearest train entities (Euclidean distance on the encoding above; equal distances broken by
 * entity id) among those that answered the item; prediction = mean of their answers (for a
 * binary item, the share of yes among neighbours). Fewer than k candidates -> all of them.
 * metadata: k, the neighbour ids used, the number of feature dimensions.
 */
export function nearestNeighbourBaseline(args: {
  trainSamples: Sample[];
  testSamples: Sample[];
  items: ItemDef[];
  features: Map<string, Array<[string, string]>>;
  k?: number;
}): Prediction[] {
  const { trainSamples, testSamples, items, features } = args;
  const k = args.k ?? 5;
  if (!Number.isInteger(k) || k < 1) throw new Error(`k must be a positive integer, got ${k}`);
  assertDisjoint(trainSamples, testSamples);
  const byItem = indexItems(items);

  const trainIds = [...new Set(trainSamples.map((s) => s.entityId))].sort(compareCodeUnits);
  const trainFeatures = trainIds.map((id) => featureMap(features, id));
  const dims = learnEncoding(trainFeatures);
  if (dims.length === 0) throw new Error('kNN baseline: no usable feature (all constant, empty or free text) among train entities');
  const trainVectors = new Map<string, number[]>();
  trainIds.forEach((id, i) => trainVectors.set(id, encode(dims, trainFeatures[i])));

  // Per item: who answered it in train, and what.
  const answers = new Map<string, Map<string, number>>();
  for (const [key, list] of trainByItem(trainSamples)) answers.set(key, new Map(list.map((t) => [t.entityId, t.actual])));
  // Per test entity: every train entity, nearest first (ties by id), computed once and reused for all its items.
  const rankings = new Map<string, string[]>();
  const rankingOf = (entityId: string): string[] => {
    const cached = rankings.get(entityId);
    if (cached) return cached;
    const v = encode(dims, featureMap(features, entityId));
    const ranked = trainIds
      .map((id) => ({ id, d: distance(v, trainVectors.get(id) as number[]) }))
      .sort((a, b) => a.d - b.d || compareCodeUnits(a.id, b.id))
      .map((x) => x.id);
    rankings.set(entityId, ranked);
    return ranked;
  };

  const out = sortedTest(testSamples).map((s) => {
    const item = itemOf(byItem, s);
    const answered = answers.get(itemKey(s.group, s.item));
    if (answered === undefined) return failed(s, KNN_METHOD, `no train entity answered item ${JSON.stringify(s.item)} in group ${JSON.stringify(s.group)}`);
    const neighbours: string[] = [];
    for (const id of rankingOf(s.entityId)) {
      if (!answered.has(id)) continue;
      neighbours.push(id);
      if (neighbours.length === k) break;
    }
    // Sorted values: the mean must not depend on which neighbour came first.
    const value = mean(neighbours.map((id) => answered.get(id) as number).sort((a, b) => a - b));
    return predicted(s, item, KNN_METHOD, value, { k, neighbours, dimensions: dims.length });
  });
  assertAllFinite(out, KNN_METHOD);
  return out;
}
