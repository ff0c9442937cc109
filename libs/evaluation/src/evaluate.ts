import { compareCodeUnits, itemKey, sampleKey } from '@assay/contracts';
import type { ItemDef, ItemKind, Prediction, Sample } from '@assay/contracts';
import { assertAllFinite } from './guard';
import {
  binaryMetricsOf,
  exactAccuracyOf,
  maeOf,
  normalizedMaeOf,
  pearsonOf,
  rmseOf,
  spearmanOf,
  withinOneAccuracyOf,
  type PointView,
} from './metrics';
import { DEFAULT_BOOTSTRAP, emptySums, ratioIntervals, type BootstrapOptions, type EntitySums } from './bootstrap';
import { meanOverItems, normalizedWasserstein, UNDER_DISPERSION_BELOW, varianceRatio } from './distribution';
import { distributionIntervals, type ItemValues } from './distribution-bootstrap';
import { ROW_MEAN_METRICS } from './metrics';
import { compareWorstFirst } from './order';
import { ANSWER_INFERENCE_FAILURE, ANSWER_MISSING, ANSWER_OK, ANSWER_PARSE_FAILURE, checkPrediction, sortedItems, TableBuilder, type AnswerColumns, type SampleTable, type TableAnswers } from './table';
import type { EntityScore, GroupScore, ItemScore, MethodScores, MetricValue, ScoreSummary } from './types';

export { checkPrediction } from './table';

/**
 * The one evaluate() every method goes through: LLM and baselines get the same join, the same
 * failure accounting and the same metrics, so their numbers are comparable by construction.
 *
 * - Samples are the denominator. A sample without a prediction counts as an inference failure;
 *   a prediction without a sample is a bug upstream and throws.
 * - Metrics are computed over scored points only (parse and inference failures have no value);
 *   when some samples of a slice are unscored, each affected metric says so in its note, and the
 *   failure counts sit next to it in the summary.
 * - Outliers are scored unclipped: a 7 on a 1-5 scale is an error of its full size.
 * - Kind-qualified metrics pool every (entity, item) point of that kind in the slice, so an
 *   overall `ordinal.spearman` is a pooled correlation across items, not an average of
 *   per-item correlations.
 */

export interface Row {
  sample: Sample;
  item: ItemDef;
  prediction: Prediction | null;
  /** Usable value, or null (parse/inference failure or no prediction). */
  predicted: number | null;
}

const KINDS: ItemKind[] = ['binary', 'ordinal', 'continuous'];

export function indexItems(items: ItemDef[]): Map<string, ItemDef> {
  // sortedItems checks them (no duplicate, a valid range).
  return new Map(sortedItems(items).map((it) => [itemKey(it.group, it.item), it]));
}

export function itemOf(byKey: Map<string, ItemDef>, s: { group: string; item: string }): ItemDef {
  const it = byKey.get(itemKey(s.group, s.item));
  if (it === undefined) throw new Error(`no item definition for ${itemKey(s.group, s.item)}`);
  return it;
}

function compareRows(a: Row, b: Row): number {
  return (
    compareCodeUnits(a.sample.group, b.sample.group) ||
    compareCodeUnits(a.sample.item, b.sample.item) ||
    compareCodeUnits(a.sample.entityId, b.sample.entityId)
  );
}

/**
 * Joins samples and predictions by sampleKey, sorted by group, item, entity id.
 * `method`, when given, is required of every prediction.
 */
export function joinRows(samples: Sample[], predictions: Prediction[], items: ItemDef[], method?: string): Row[] {
  const byItem = indexItems(items);
  const preds = new Map<string, Prediction>();
  for (const p of predictions) {
    const key = sampleKey(p);
    if (method !== undefined && p.method !== method) {
      throw new Error(`prediction ${key} is from method ${JSON.stringify(p.method)}, expected ${JSON.stringify(method)}`);
    }
    if (preds.has(key)) throw new Error(`duplicate prediction for ${key}`);
    preds.set(key, p);
  }
  const seen = new Set<string>();
  const rows: Row[] = [];
  for (const s of samples) {
    const key = sampleKey(s);
    if (seen.has(key)) throw new Error(`duplicate sample ${key}`);
    seen.add(key);
    if (!Number.isFinite(s.actual)) throw new Error(`sample ${key} has a non-finite actual value ${s.actual}`);
    const item = itemOf(byItem, s);
    const prediction = preds.get(key) ?? null;
    if (prediction !== null) checkPrediction(prediction, item);
    rows.push({ sample: s, item, prediction, predicted: prediction?.parseStatus === 'ok' ? prediction.predicted : null });
  }
  for (const p of predictions) {
    const key = sampleKey(p);
    if (!seen.has(key)) throw new Error(`prediction without a sample: ${key}`);
  }
  return rows.sort(compareRows);
}

function withCoverage(m: MetricValue, unscored: number): MetricValue {
  if (unscored === 0 || m.note !== undefined) return m;
  return { ...m, note: `${unscored} unscored sample(s) excluded (parse or inference failures)` };
}

/** Rows of a table by position, ascending: a slice of an evaluation (all rows, a group, an item, an entity within a group, a kind). */
type Slice = Int32Array;

function allRows(table: SampleTable): Slice {
  const rows = new Int32Array(table.size);
  for (let r = 0; r < rows.length; r++) rows[r] = r;
  return rows;
}

/** The scored points (a usable value) of a slice, read from the columns. */
function pointsOf(table: SampleTable, answers: AnswerColumns, rows: Slice): PointView {
  return { length: rows.length, predicted: (i) => answers.predicted[rows[i]], actual: (i) => table.actual[rows[i]], item: (i) => table.items[table.item[rows[i]]] };
}

function scoredRows(answers: AnswerColumns, rows: Slice): Slice {
  return rows.filter((r) => answers.status[r] === ANSWER_OK);
}

/** Splits a slice into runs of rows with the same key (rows of one item, of one group, are next to each other). */
function runs(rows: Slice, keyOf: (row: number) => number): Slice[] {
  const parts: Slice[] = [];
  let start = 0;
  for (let i = 1; i <= rows.length; i++) {
    if (i === rows.length || keyOf(rows[i]) !== keyOf(rows[start])) {
      parts.push(rows.subarray(start, i));
      start = i;
    }
  }
  return parts;
}

function itemRuns(table: SampleTable, rows: Slice): Slice[] {
  return runs(rows, (r) => table.item[r]);
}

/** The runs of rows of one group (the table's rows are sorted by group first). */
function groupRuns(table: SampleTable, rows: Slice): Slice[] {
  const groupIds = new Map<string, number>();
  return runs(rows, (r) => {
    const g = table.items[table.item[r]].group;
    let id = groupIds.get(g);
    if (id === undefined) groupIds.set(g, (id = groupIds.size));
    return id;
  });
}

/** Per-item distribution metrics (across respondents) of one item's rows. */
function itemDistribution(table: SampleTable, answers: AnswerColumns, rows: Slice): { wasserstein: MetricValue; variance_ratio: MetricValue; respondent_correlation: MetricValue } {
  const scored = scoredRows(answers, rows);
  const predicted: number[] = [];
  const actual: number[] = [];
  for (const r of scored) {
    predicted.push(answers.predicted[r]);
    actual.push(table.actual[r]);
  }
  const unscored = rows.length - scored.length;
  return {
    wasserstein: withCoverage(normalizedWasserstein(predicted, actual, table.items[table.item[rows[0]]]), unscored),
    variance_ratio: withCoverage(varianceRatio(predicted, actual), unscored),
    respondent_correlation: withCoverage(pearsonOf(pointsOf(table, answers, scored)), unscored),
  };
}

/**
 * Distribution metrics of a slice: per item as is, for a slice of several items the mean over
 * its items (answers to different questions are never pooled into one distribution) and the
 * share of under-dispersed items.
 */
function distributionMetrics(table: SampleTable, answers: AnswerColumns, rows: Slice): Record<string, MetricValue> {
  const perItem = itemRuns(table, rows).map((part) => itemDistribution(table, answers, part));
  if (perItem.length === 1) return { ...perItem[0] };
  const ratios = perItem.map((m) => m.variance_ratio).filter((m) => m.value !== null);
  const flagged = ratios.filter((m) => (m.value as number) < UNDER_DISPERSION_BELOW).length;
  return {
    wasserstein: meanOverItems(perItem.map((m) => m.wasserstein)),
    variance_ratio: meanOverItems(perItem.map((m) => m.variance_ratio)),
    under_dispersed_share: ratios.length === 0 ? { value: null, n: 0, note: 'variance ratio undefined for every item' } : { value: flagged / ratios.length, n: ratios.length },
    respondent_correlation: meanOverItems(perItem.map((m) => m.respondent_correlation)),
  };
}

function metricOf(metricKey: string): (typeof ROW_MEAN_METRICS)[number] {
  const metric = ROW_MEAN_METRICS.find((m) => m.key === metricKey);
  if (metric === undefined) throw new Error(`${metricKey} is not a mean over rows; bootstrap sums exist for ${ROW_MEAN_METRICS.map((m) => m.key).join(', ')}`);
  return metric;
}

/**
 * Per-entity sums of a mean-type metric (see ROW_MEAN_METRICS) over `rows`, indexed by the
 * position of the entity in `entityIds`: the input of the cluster bootstrap.
 */
export function rowMeanSums(rows: readonly Row[], metricKey: string, entityIndex: ReadonlyMap<string, number>): EntitySums {
  const metric = metricOf(metricKey);
  const sums = emptySums(entityIndex.size);
  for (const r of rows) {
    if (r.predicted === null || (metric.kind !== null && r.item.kind !== metric.kind)) continue;
    const e = entityIndex.get(r.sample.entityId);
    if (e === undefined) throw new Error(`entity ${JSON.stringify(r.sample.entityId)} is not in the bootstrap's entity list`);
    sums.num[e] += metric.rowValue(r.predicted, r.sample.actual, r.item);
    sums.den[e] += 1;
  }
  return sums;
}

/** rowMeanSums of a table's answers, indexed by the table's entity positions. */
export function tableRowMeanSums(table: SampleTable, answers: AnswerColumns, metricKey: string): EntitySums {
  const metric = metricOf(metricKey);
  const sums = emptySums(table.entityIds.length);
  for (let r = 0; r < table.size; r++) {
    const item = table.items[table.item[r]];
    if (answers.status[r] !== ANSWER_OK || (metric.kind !== null && item.kind !== metric.kind)) continue;
    const e = table.entity[r];
    sums.num[e] += metric.rowValue(answers.predicted[r], table.actual[r], item);
    sums.den[e] += 1;
  }
  return sums;
}

/** Entity ids of rows in code-unit order, with their positions: the clusters of a bootstrap. */
export function entityIndexOf(rows: readonly Row[]): Map<string, number> {
  const ids = [...new Set(rows.map((r) => r.sample.entityId))].sort(compareCodeUnits);
  return new Map(ids.map((id, i) => [id, i]));
}

/** Adds bootstrap intervals (entities as clusters) to the overall slice's mean-type metrics. */
function withIntervals(summary: ScoreSummary, table: SampleTable, answers: AnswerColumns, options: BootstrapOptions, distribution: boolean): ScoreSummary {
  const keys = ROW_MEAN_METRICS.map((m) => m.key).filter((k) => summary.metrics[k]?.value !== null && summary.metrics[k] !== undefined);
  const intervals = ratioIntervals(
    keys.map((k) => tableRowMeanSums(table, answers, k)),
    options,
  );
  const metrics = { ...summary.metrics };
  keys.forEach((k, i) => {
    const ci = intervals[i];
    if (ci !== null) metrics[k] = { ...metrics[k], ci };
  });
  if (!distribution) return { ...summary, metrics };
  const items: ItemValues[] = itemRuns(table, allRows(table)).map((part) => {
    const scored = scoredRows(answers, part);
    const item = table.items[table.item[part[0]]];
    return {
      entities: Array.from(scored, (r) => table.entity[r]),
      predicted: Array.from(scored, (r) => answers.predicted[r]),
      actual: Array.from(scored, (r) => table.actual[r]),
      range: item.max - item.min,
    };
  });
  const spread = distributionIntervals(items, table.entityIds.length, options);
  for (const k of ['wasserstein', 'variance_ratio', 'respondent_correlation'] as const) {
    const ci = spread[k];
    if (ci !== null && metrics[k] !== undefined && metrics[k].value !== null) metrics[k] = { ...metrics[k], ci };
  }
  return { ...summary, metrics };
}

function summarizeSlice(table: SampleTable, answers: AnswerColumns, rows: Slice, withDistribution: boolean): ScoreSummary {
  const scored = scoredRows(answers, rows);
  let parseFailures = 0;
  let inferenceFailures = 0;
  let outliers = 0;
  for (const r of rows) {
    const status = answers.status[r];
    // A missing prediction is an inference failure: the method produced nothing for the sample.
    if (status === ANSWER_MISSING || status === ANSWER_INFERENCE_FAILURE) inferenceFailures++;
    else if (status === ANSWER_PARSE_FAILURE) parseFailures++;
    else if (answers.outlier[r] === 1) outliers++;
  }
  const metrics: Record<string, MetricValue> = {};
  const primary = withCoverage(normalizedMaeOf(pointsOf(table, answers, scored)), rows.length - scored.length);
  metrics.normalized_mae = primary;
  for (const kind of KINDS) {
    const kindRows = rows.filter((r) => table.items[table.item[r]].kind === kind);
    if (kindRows.length === 0) continue;
    const kindScored = scoredRows(answers, kindRows);
    const pts = pointsOf(table, answers, kindScored);
    const unscored = kindRows.length - kindScored.length;
    const put = (name: string, m: MetricValue): void => {
      metrics[`${kind}.${name}`] = withCoverage(m, unscored);
    };
    if (kind === 'binary') {
      const b = binaryMetricsOf(pts);
      put('accuracy', b.accuracy);
      put('balanced_accuracy', b.balanced_accuracy);
      put('f1', b.f1);
      put('predicted_positive_rate', b.predicted_positive_rate);
      put('actual_positive_rate', b.actual_positive_rate);
    } else if (kind === 'ordinal') {
      put('mae', maeOf(pts));
      put('rmse', rmseOf(pts));
      put('exact_accuracy', exactAccuracyOf(pts));
      put('within_one_accuracy', withinOneAccuracyOf(pts));
      put('spearman', spearmanOf(pts));
    } else {
      put('mae', maeOf(pts));
      put('rmse', rmseOf(pts));
      put('normalized_mae', normalizedMaeOf(pts));
      put('pearson', pearsonOf(pts));
    }
  }
  if (withDistribution) Object.assign(metrics, distributionMetrics(table, answers, rows));
  return {
    n: rows.length,
    nScored: scored.length,
    parseFailures,
    inferenceFailures,
    outliers,
    primary: { name: 'normalized_mae', value: primary.value, higherIsBetter: false },
    metrics,
  };
}

/** Rows already joined (joinRows) as a table and answers, for the callers that hold rows. */
export function tableOfRows(rows: readonly Row[]): { table: SampleTable; answers: TableAnswers } {
  const items = new Map<string, ItemDef>();
  for (const r of rows) items.set(itemKey(r.item.group, r.item.item), r.item);
  const builder = new TableBuilder([...items.values()]);
  for (const r of rows) {
    builder.addSample(r.sample);
    if (r.prediction !== null) builder.addPrediction(r.prediction);
  }
  return builder.build();
}

/** Samples and one method's predictions joined into a table (the checks of joinRows). */
export function tableOf(samples: readonly Sample[], predictions: readonly Prediction[], items: readonly ItemDef[], method?: string): { table: SampleTable; answers: TableAnswers } {
  const builder = new TableBuilder(items, method);
  for (const p of predictions) builder.addPrediction(p);
  for (const s of samples) builder.addSample(s);
  return builder.build();
}

export function summarize(rows: Row[], withDistribution = false): ScoreSummary {
  const { table, answers } = tableOfRows(rows);
  return summarizeSlice(table, answers.answers, allRows(table), withDistribution);
}

export function evaluate(args: { method: string; samples: Sample[]; predictions: Prediction[]; items: ItemDef[]; bootstrap?: BootstrapOptions; scope?: EvaluateScope }): MethodScores {
  const { method, samples, predictions, items, bootstrap = DEFAULT_BOOTSTRAP, scope } = args;
  // Scoring nothing is always a bug upstream (empty split, wrong filter), never a result.
  if (samples.length === 0) throw new Error(`evaluate(${method}): no samples`);
  const { table, answers } = tableOf(samples, predictions, items, method);
  return evaluateTable(method, table, answers.answers, bootstrap, scope);
}

/** What evaluateRows may leave out for a caller that never shows it (both are the costliest parts). */
export interface EvaluateScope {
  /** Per-entity summaries (byEntity); default true. */
  perEntity?: boolean;
  /** Bootstrap intervals of the overall distribution metrics; default true. */
  distributionIntervals?: boolean;
}

/** evaluate() over rows already joined (joinRows), for a caller that needs the rows too. */
export function evaluateRows(method: string, rows: Row[], bootstrap: BootstrapOptions = DEFAULT_BOOTSTRAP, scope: EvaluateScope = {}): MethodScores {
  if (rows.length === 0) throw new Error(`evaluate(${method}): no samples`);
  const { table, answers } = tableOfRows(rows);
  return evaluateTable(method, table, answers.answers, bootstrap, scope);
}

/** Each entity's rows within each group, as slices (rows in table order within each). */
function groupEntitySlices(table: SampleTable, groups: Slice[]): Slice[] {
  const out: Slice[] = [];
  const entities = table.entityIds.length;
  for (const group of groups) {
    const count = new Int32Array(entities + 1);
    for (const r of group) count[table.entity[r] + 1]++;
    for (let e = 0; e < entities; e++) count[e + 1] += count[e];
    const sorted = new Int32Array(group.length);
    const next = count.slice(0, entities);
    for (const r of group) sorted[next[table.entity[r]]++] = r;
    for (let e = 0; e < entities; e++) if (count[e + 1] > count[e]) out.push(sorted.subarray(count[e], count[e + 1]));
  }
  return out;
}

/** Each entity's summary within each group (slices of the table's group runs), worst first within a group. */
function entityScoresOfGroups(table: SampleTable, answers: AnswerColumns, groups: Slice[]): EntityScore[] {
  return groupEntitySlices(table, groups)
    .map((part) => ({ group: table.items[table.item[part[0]]].group, entityId: table.entityIds[table.entity[part[0]]], summary: summarizeSlice(table, answers, part, false) }))
    .sort(
      (a, b) =>
        compareCodeUnits(a.group, b.group) ||
        compareWorstFirst(a.summary.primary.value, b.summary.primary.value) ||
        compareCodeUnits(a.entityId, b.entityId),
    );
}

/**
 * evaluate(...).byEntity alone, the same numbers bit for bit: the per-entity summaries without the
 * by-item, by-group and overall ones, which cost as much again (the reporter scores a group's
 * entities this way while it writes the group, where only these are shown).
 */
export function evaluateEntities(args: { method: string; samples: Sample[]; predictions: Prediction[]; items: ItemDef[] }): EntityScore[] {
  const { method, samples, predictions, items } = args;
  if (samples.length === 0) throw new Error(`evaluate(${method}): no samples`);
  const { table, answers } = tableOf(samples, predictions, items, method);
  const byEntity = entityScoresOfGroups(table, answers.answers, groupRuns(table, allRows(table)));
  assertAllFinite(byEntity, `evaluate(${method}).byEntity`);
  return byEntity;
}

/** evaluate() on a table and one method's answers to it: the one implementation every path above goes through. */
export function evaluateTable(method: string, table: SampleTable, answers: AnswerColumns, bootstrap: BootstrapOptions = DEFAULT_BOOTSTRAP, scope: EvaluateScope = {}): MethodScores {
  const { perEntity = true, distributionIntervals: withDistributionIntervals = true } = scope;
  if (table.size === 0) throw new Error(`evaluate(${method}): no samples`);
  const all = allRows(table);
  const itemOfRow = (r: number): ItemDef => table.items[table.item[r]];

  const byItem: ItemScore[] = itemRuns(table, all).map((part) => ({
    group: itemOfRow(part[0]).group,
    item: itemOfRow(part[0]).item,
    kind: itemOfRow(part[0]).kind,
    summary: summarizeSlice(table, answers, part, true),
  }));
  const groups = groupRuns(table, all);
  const byGroup: GroupScore[] = groups
    .map((part) => ({ group: itemOfRow(part[0]).group, summary: summarizeSlice(table, answers, part, true) }))
    .sort((a, b) => compareWorstFirst(a.summary.primary.value, b.summary.primary.value) || compareCodeUnits(a.group, b.group));
  const byEntity = perEntity ? entityScoresOfGroups(table, answers, groups) : [];

  const overall = withIntervals(summarizeSlice(table, answers, all, true), table, answers, bootstrap, withDistributionIntervals);
  const result: MethodScores = { method, overall, byGroup, byItem, byEntity };
  assertAllFinite(result, `evaluate(${method})`);
  return result;
}
