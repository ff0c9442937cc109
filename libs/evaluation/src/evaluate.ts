import { compareCodeUnits, groupEntityKey, itemKey, sampleKey } from '@assay/contracts';
import type { ItemDef, ItemKind, Prediction, Sample } from '@assay/contracts';
import { assertAllFinite } from './guard';
import {
  binaryMetrics,
  exactAccuracy,
  mae,
  normalizedMae,
  pearson,
  rmse,
  spearman,
  withinOneAccuracy,
  type Point,
} from './metrics';
import { DEFAULT_BOOTSTRAP, emptySums, ratioIntervals, type BootstrapOptions, type EntitySums } from './bootstrap';
import { meanOverItems, normalizedWasserstein, UNDER_DISPERSION_BELOW, varianceRatio } from './distribution';
import { distributionIntervals, type ItemValues } from './distribution-bootstrap';
import { ROW_MEAN_METRICS } from './metrics';
import { compareWorstFirst } from './order';
import type { EntityScore, GroupScore, ItemScore, MethodScores, MetricValue, ScoreSummary } from './types';

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
  const byKey = new Map<string, ItemDef>();
  for (const it of items) {
    const key = itemKey(it.group, it.item);
    if (byKey.has(key)) throw new Error(`duplicate item ${key}`);
    if (!Number.isFinite(it.min) || !Number.isFinite(it.max) || !(it.min < it.max)) {
      throw new Error(`item ${key} has an invalid range [${it.min}, ${it.max}]: min < max required`);
    }
    byKey.set(key, it);
  }
  return byKey;
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

/** Checks one prediction's internal consistency against its item; throws naming the key. */
export function checkPrediction(p: Prediction, item: ItemDef): void {
  const key = sampleKey(p);
  if (p.parseStatus === 'ok') {
    if (p.predicted === null || !Number.isFinite(p.predicted)) {
      throw new Error(`prediction ${key} has parseStatus ok but predicted ${String(p.predicted)}`);
    }
    const outside = p.predicted < item.min || p.predicted > item.max;
    if (p.outlier !== outside) {
      throw new Error(`prediction ${key}: outlier=${p.outlier} but ${p.predicted} is ${outside ? 'outside' : 'inside'} [${item.min}, ${item.max}]`);
    }
  } else if (p.predicted !== null) {
    throw new Error(`prediction ${key} has parseStatus ${p.parseStatus} but a value ${p.predicted}`);
  }
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

function points(rows: Row[]): Point[] {
  const out: Point[] = [];
  for (const r of rows) if (r.predicted !== null) out.push({ predicted: r.predicted, actual: r.sample.actual, item: r.item });
  return out;
}

function withCoverage(m: MetricValue, unscored: number): MetricValue {
  if (unscored === 0 || m.note !== undefined) return m;
  return { ...m, note: `${unscored} unscored sample(s) excluded (parse or inference failures)` };
}

/** Per-item distribution metrics (across respondents) of one item's rows. */
function itemDistribution(rows: Row[]): { wasserstein: MetricValue; variance_ratio: MetricValue; respondent_correlation: MetricValue } {
  const scored = points(rows);
  const predicted = scored.map((p) => p.predicted);
  const actual = scored.map((p) => p.actual);
  const unscored = rows.length - scored.length;
  return {
    wasserstein: withCoverage(normalizedWasserstein(predicted, actual, rows[0].item), unscored),
    variance_ratio: withCoverage(varianceRatio(predicted, actual), unscored),
    respondent_correlation: withCoverage(pearson(scored), unscored),
  };
}

/**
 * Distribution metrics of a slice: per item as is, for a slice of several items the mean over
 * its items (answers to different questions are never pooled into one distribution) and the
 * share of under-dispersed items.
 */
function distributionMetrics(rows: Row[]): Record<string, MetricValue> {
  const perItem = partition(rows, (r) => itemKey(r.sample.group, r.sample.item)).map(itemDistribution);
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

/**
 * Per-entity sums of a mean-type metric (see ROW_MEAN_METRICS) over `rows`, indexed by the
 * position of the entity in `entityIds`: the input of the cluster bootstrap.
 */
export function rowMeanSums(rows: readonly Row[], metricKey: string, entityIndex: ReadonlyMap<string, number>): EntitySums {
  const metric = ROW_MEAN_METRICS.find((m) => m.key === metricKey);
  if (metric === undefined) throw new Error(`${metricKey} is not a mean over rows; bootstrap sums exist for ${ROW_MEAN_METRICS.map((m) => m.key).join(', ')}`);
  const sums = emptySums(entityIndex.size);
  for (const r of rows) {
    if (r.predicted === null || (metric.kind !== null && r.item.kind !== metric.kind)) continue;
    const e = entityIndex.get(r.sample.entityId);
    if (e === undefined) throw new Error(`entity ${JSON.stringify(r.sample.entityId)} is not in the bootstrap's entity list`);
    sums.num[e] += metric.rowValue({ predicted: r.predicted, actual: r.sample.actual, item: r.item });
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
function withIntervals(summary: ScoreSummary, rows: Row[], options: BootstrapOptions, distribution: boolean): ScoreSummary {
  const keys = ROW_MEAN_METRICS.map((m) => m.key).filter((k) => summary.metrics[k]?.value !== null && summary.metrics[k] !== undefined);
  const entityIndex = entityIndexOf(rows);
  const intervals = ratioIntervals(
    keys.map((k) => rowMeanSums(rows, k, entityIndex)),
    options,
  );
  const metrics = { ...summary.metrics };
  keys.forEach((k, i) => {
    const ci = intervals[i];
    if (ci !== null) metrics[k] = { ...metrics[k], ci };
  });
  if (!distribution) return { ...summary, metrics };
  const items: ItemValues[] = partition(rows, (r) => itemKey(r.sample.group, r.sample.item)).map((part) => {
    const scored = part.filter((r) => r.predicted !== null);
    return {
      entities: scored.map((r) => entityIndex.get(r.sample.entityId) as number),
      predicted: scored.map((r) => r.predicted as number),
      actual: scored.map((r) => r.sample.actual),
      range: part[0].item.max - part[0].item.min,
    };
  });
  const spread = distributionIntervals(items, entityIndex.size, options);
  for (const k of ['wasserstein', 'variance_ratio', 'respondent_correlation'] as const) {
    const ci = spread[k];
    if (ci !== null && metrics[k] !== undefined && metrics[k].value !== null) metrics[k] = { ...metrics[k], ci };
  }
  return { ...summary, metrics };
}

export function summarize(rows: Row[], withDistribution = false): ScoreSummary {
  const scored = points(rows);
  let parseFailures = 0;
  let inferenceFailures = 0;
  let outliers = 0;
  for (const r of rows) {
    // A missing prediction is an inference failure: the method produced nothing for the sample.
    if (r.prediction === null || r.prediction.parseStatus === 'inference_failure') inferenceFailures++;
    else if (r.prediction.parseStatus === 'parse_failure') parseFailures++;
    else if (r.prediction.outlier) outliers++;
  }
  const metrics: Record<string, MetricValue> = {};
  const primary = withCoverage(normalizedMae(scored), rows.length - scored.length);
  metrics.normalized_mae = primary;
  for (const kind of KINDS) {
    const kindRows = rows.filter((r) => r.item.kind === kind);
    if (kindRows.length === 0) continue;
    const pts = points(kindRows);
    const unscored = kindRows.length - pts.length;
    const put = (name: string, m: MetricValue): void => {
      metrics[`${kind}.${name}`] = withCoverage(m, unscored);
    };
    if (kind === 'binary') {
      const b = binaryMetrics(pts);
      put('accuracy', b.accuracy);
      put('balanced_accuracy', b.balanced_accuracy);
      put('f1', b.f1);
      put('predicted_positive_rate', b.predicted_positive_rate);
      put('actual_positive_rate', b.actual_positive_rate);
    } else if (kind === 'ordinal') {
      put('mae', mae(pts));
      put('rmse', rmse(pts));
      put('exact_accuracy', exactAccuracy(pts));
      put('within_one_accuracy', withinOneAccuracy(pts));
      put('spearman', spearman(pts));
    } else {
      put('mae', mae(pts));
      put('rmse', rmse(pts));
      put('normalized_mae', normalizedMae(pts));
      put('pearson', pearson(pts));
    }
  }
  if (withDistribution) Object.assign(metrics, distributionMetrics(rows));
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

/** Groups already-sorted rows by a key, keeping first-seen order (which is sorted order). */
function partition(rows: Row[], keyOf: (r: Row) => string): Row[][] {
  const parts = new Map<string, Row[]>();
  for (const r of rows) {
    const k = keyOf(r);
    const list = parts.get(k);
    if (list) list.push(r);
    else parts.set(k, [r]);
  }
  return [...parts.values()];
}

export function evaluate(args: { method: string; samples: Sample[]; predictions: Prediction[]; items: ItemDef[]; bootstrap?: BootstrapOptions; scope?: EvaluateScope }): MethodScores {
  const { method, samples, predictions, items, bootstrap = DEFAULT_BOOTSTRAP, scope } = args;
  // Scoring nothing is always a bug upstream (empty split, wrong filter), never a result.
  if (samples.length === 0) throw new Error(`evaluate(${method}): no samples`);
  return evaluateRows(method, joinRows(samples, predictions, items, method), bootstrap, scope);
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
  const { perEntity = true, distributionIntervals: withDistributionIntervals = true } = scope;
  if (rows.length === 0) throw new Error(`evaluate(${method}): no samples`);

  const byItem: ItemScore[] = partition(rows, (r) => itemKey(r.sample.group, r.sample.item)).map((part) => ({
    group: part[0].sample.group,
    item: part[0].sample.item,
    kind: part[0].item.kind,
    summary: summarize(part, true),
  }));
  const byGroup: GroupScore[] = partition(rows, (r) => r.sample.group)
    .map((part) => ({ group: part[0].sample.group, summary: summarize(part, true) }))
    .sort((a, b) => compareWorstFirst(a.summary.primary.value, b.summary.primary.value) || compareCodeUnits(a.group, b.group));
  const byEntity: EntityScore[] = (perEntity ? partition(rows, (r) => groupEntityKey(r.sample.group, r.sample.entityId)) : [])
    .map((part) => ({ group: part[0].sample.group, entityId: part[0].sample.entityId, summary: summarize(part) }))
    .sort(
      (a, b) =>
        compareCodeUnits(a.group, b.group) ||
        compareWorstFirst(a.summary.primary.value, b.summary.primary.value) ||
        compareCodeUnits(a.entityId, b.entityId),
    );

  const overall = withIntervals(summarize(rows, true), rows, bootstrap, withDistributionIntervals);
  const result: MethodScores = { method, overall, byGroup, byItem, byEntity };
  assertAllFinite(result, `evaluate(${method})`);
  return result;
}
