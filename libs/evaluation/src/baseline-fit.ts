import { mean, standardDeviation } from 'simple-statistics';
import { compareCodeUnits, itemKey, sampleKey } from '@assay/contracts';
import type { ItemDef, Prediction, Sample } from '@assay/contracts';
import { indexItems, itemOf } from './evaluate';
import { assertAllFinite } from './guard';
import { ANSWER_INFERENCE_FAILURE, ANSWER_OK, emptyAnswers, rowKey, type AnswerColumns, type SampleTable } from './table';

/**
 * The shape every non-LLM baseline has: a pure `fit` from the train split to a predictor, and
 * one runner that asks the predictor for every test cell. A baseline is then a fitter and a
 * method name, so it can later run as a method of its own (its own identity and run directory)
 * with the same fitter that shows it beside every LLM run today.
 */

/** One entity's profile: column names and raw cell texts in file order (an @assay/data Entity is one). */
export interface FeatureRow {
  featureNames: readonly string[];
  values: readonly string[];
}

/** Profile features by entity id. */
export type FeatureTable = ReadonlyMap<string, FeatureRow>;

/** A table built in code from each entity's (column, value) pairs in column order. */
export function featureTableOf(entries: Iterable<readonly [string, ReadonlyArray<readonly [string, string]>]>): FeatureTable {
  return new Map([...entries].map(([entityId, pairs]) => [entityId, { featureNames: pairs.map(([name]) => name), values: pairs.map(([, value]) => value) }]));
}

/** What a fit may learn from: train answers only, and the profile features (inputs, never answers). */
export interface BaselineTrainingData {
  trainSamples: Sample[];
  items: ItemDef[];
  features: FeatureTable;
}

/** One test cell's answer: a value with what the method used, or why there is none. */
export type BaselineAnswer = { value: number; metadata: Record<string, unknown> } | { error: string };

export interface BaselinePredictor {
  predict(entityId: string, item: ItemDef): BaselineAnswer;
}

export type BaselineFitter = (train: BaselineTrainingData) => BaselinePredictor;

export interface BaselineRunArgs {
  trainSamples: Sample[];
  testSamples: Sample[];
  items: ItemDef[];
  features: FeatureTable;
}

/** Split hygiene: an entity in both splits would leak its own answers into its baseline. */
function assertDisjoint(trainSamples: Sample[], testSamples: Sample[]): void {
  assertDisjointIds(trainSamples, new Set(testSamples.map((s) => s.entityId)));
}

function assertDisjointIds(trainSamples: Sample[], testEntityIds: Iterable<string>): void {
  const train = new Set(trainSamples.map((s) => s.entityId));
  const leaked = [...testEntityIds].filter((e) => train.has(e)).sort(compareCodeUnits);
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

/**
 * Fits on the train split and predicts every test sample. An item the predictor cannot answer
 * becomes an inference failure with its reason, exactly like a failed LLM call, so evaluate()
 * treats them the same. Output sorted by group, item, entity; never a non-finite number.
 */
export function runBaseline(method: string, fit: BaselineFitter, args: BaselineRunArgs): Prediction[] {
  const { trainSamples, testSamples, items, features } = args;
  assertDisjoint(trainSamples, testSamples);
  return predictAll(method, fit({ trainSamples, items, features }), testSamples, items);
}

/**
 * A fitted predictor's answers to every test sample (runBaseline's second half, for a fit made
 * elsewhere, e.g. asynchronously by a baseline method): same order, same failures, same checks.
 */
export function predictAll(method: string, predictor: BaselinePredictor, testSamples: Sample[], items: ItemDef[]): Prediction[] {
  const byItem = indexItems(items);
  const out = sortedTest(testSamples).map((s) => {
    const item = itemOf(byItem, s);
    const answer = predictor.predict(s.entityId, item);
    return 'error' in answer ? failed(s, method, answer.error) : predicted(s, item, method, answer.value, answer.metadata);
  });
  assertAllFinite(out, method);
  return out;
}

/**
 * runBaseline into a table's columns: fits on the train split and answers every row of the table
 * (the same answers, failures and checks as runBaseline, without an object per answer).
 */
export function answerBaseline(method: string, fit: BaselineFitter, train: BaselineTrainingData, table: SampleTable): AnswerColumns {
  assertDisjointIds(train.trainSamples, table.entityIds);
  return answerTable(method, fit(train), table);
}

/** predictAll into columns: row by row (group, item, entity order), a value with its outlier flag, or an inference failure. */
export function answerTable(method: string, predictor: BaselinePredictor, table: SampleTable): AnswerColumns {
  const answers = emptyAnswers(table, method);
  for (let r = 0; r < table.size; r++) {
    const item = table.items[table.item[r]];
    const answer = predictor.predict(table.entityIds[table.entity[r]], item);
    if ('error' in answer) {
      answers.status[r] = ANSWER_INFERENCE_FAILURE;
      continue;
    }
    const value = answer.value;
    if (!Number.isFinite(value)) throw new Error(`non-finite number ${String(value)} at ${method}: prediction ${rowKey(table, r)}`);
    answers.status[r] = ANSWER_OK;
    answers.predicted[r] = value;
    answers.outlier[r] = value < item.min || value > item.max ? 1 : 0;
  }
  return answers;
}

/** Split hygiene for a fit made elsewhere (see predictAll): no entity on both sides. */
export function assertTrainTestDisjoint(trainSamples: Sample[], testSamples: Sample[]): void {
  assertDisjoint(trainSamples, testSamples);
}

/** Train samples by itemKey, each checked: no cell twice, every answer finite. */
export function trainByItem(trainSamples: Sample[]): Map<string, Sample[]> {
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

/** Most frequent value; a tie goes to the smaller value so the result never depends on input order. */
export function majority(values: number[]): { value: number; count: number } {
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
  return { value: best, count: bestCount };
}

/** The sorted ids of the train entities (those with a train answer). */
export function trainEntityIds(trainSamples: Sample[]): string[] {
  return [...new Set(trainSamples.map((s) => s.entityId))].sort(compareCodeUnits);
}

/** Above this many distinct train values a text feature is treated as free text or an id and ignored. */
export const MAX_CATEGORIES = 20;
const MISSING = new Set(['', 'na', 'n/a', 'nan', 'null', 'none']);
const NUMERIC_RE = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/u;

/** An entity's features with missing values (blank, NA, null, ...) left out and the rest trimmed. */
export function featureMap(features: FeatureTable, entityId: string): Map<string, string> {
  const row = features.get(entityId);
  if (row === undefined) throw new Error(`no features for entity ${JSON.stringify(entityId)}`);
  const seen = new Set<string>();
  const m = new Map<string, string>();
  for (let i = 0; i < row.values.length; i++) {
    const name = row.featureNames[i];
    const value = row.values[i];
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
export interface Dimension {
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

export function encode(dims: Dimension[], m: Map<string, string>): number[] {
  return dims.map((d) => (d.raw(m) - d.mu) / d.sigma);
}

function distance(a: number[], b: number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s);
}


/**
 * The encoding learnt on the train entities, and each entity's vector under it (computed once per
 * entity). `label` names the baseline in the error when no feature is usable.
 */
export function encodedEntities(features: FeatureTable, trainIds: string[], label: string): { dims: Dimension[]; vectorOf: (entityId: string) => number[] } {
  const dims = learnEncoding(trainIds.map((id) => featureMap(features, id)));
  if (dims.length === 0) throw new Error(`${label}: no usable feature (all constant, empty or free text) among train entities`);
  const vectors = new Map<string, number[]>();
  const vectorOf = (entityId: string): number[] => {
    let v = vectors.get(entityId);
    if (v === undefined) {
      v = encode(dims, featureMap(features, entityId));
      vectors.set(entityId, v);
    }
    return v;
  };
  return { dims, vectorOf };
}
