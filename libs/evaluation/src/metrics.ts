import { mean, sampleCorrelation, sampleRankCorrelation } from 'simple-statistics';
import type { ItemDef, ItemKind } from '@assay/contracts';
import type { MetricDefinition, MetricValue } from './types';

/**
 * Metric definitions and the pure functions behind them. Every function takes scored points
 * (prediction and actual both numbers) and returns a MetricValue whose value is null, with a
 * note, whenever the metric is undefined: no NaN ever leaves this file.
 */

export const METRIC_DEFINITIONS: MetricDefinition[] = [
  {
    name: 'normalized_mae',
    kinds: 'all',
    higherIsBetter: false,
    description:
      'Average distance between prediction and truth as a fraction of the item\'s scale width (max - min), so items on different scales are comparable; 0 is perfect.',
  },
  {
    name: 'accuracy',
    kinds: ['binary'],
    higherIsBetter: true,
    description: 'Share of yes/no predictions (prediction >= the midpoint of the scale, 0.5 for 0/1 items, counts as yes) that match the truth.',
  },
  {
    name: 'balanced_accuracy',
    kinds: ['binary'],
    higherIsBetter: true,
    description: 'Average of the share of true "yes" cases predicted yes and the share of true "no" cases predicted no, so always answering the majority class scores 0.5.',
  },
  {
    name: 'f1',
    kinds: ['binary'],
    higherIsBetter: true,
    description: 'Harmonic mean of precision and recall for the "yes" class: how well the method finds the true yes cases without false alarms.',
  },
  {
    name: 'predicted_positive_rate',
    kinds: ['binary'],
    higherIsBetter: null,
    description: 'Share of predictions that say yes; compare with actual_positive_rate to see a bias towards yes or no (neither direction is better on its own).',
  },
  {
    name: 'actual_positive_rate',
    kinds: ['binary'],
    higherIsBetter: null,
    description: 'Share of true answers that are yes: the base rate, a property of the data, not of the method.',
  },
  {
    name: 'mae',
    kinds: ['ordinal', 'continuous'],
    higherIsBetter: false,
    description: 'Mean absolute error: the average distance between prediction and truth in the item\'s own units.',
  },
  {
    name: 'rmse',
    kinds: ['ordinal', 'continuous'],
    higherIsBetter: false,
    description: 'Root mean squared error: like MAE, in the item\'s units, but large misses weigh more.',
  },
  {
    name: 'exact_accuracy',
    kinds: ['ordinal'],
    higherIsBetter: true,
    description: 'Share of predictions that, rounded to the nearest point on the scale (and clamped into it), equal the true answer.',
  },
  {
    name: 'within_one_accuracy',
    kinds: ['ordinal'],
    higherIsBetter: true,
    description: 'Share of predictions within one scale point of the true answer (unrounded prediction).',
  },
  {
    name: 'spearman',
    kinds: ['ordinal'],
    higherIsBetter: true,
    description: 'Rank correlation between predictions and truth (-1 to 1, ties share their average rank): does the method order entities correctly, whatever its offset?',
  },
  {
    name: 'pearson',
    kinds: ['continuous'],
    higherIsBetter: true,
    description: 'Linear correlation between predictions and truth (-1 to 1): does the prediction rise and fall with the truth, whatever its offset and scale?',
  },
  {
    name: 'wasserstein',
    kinds: 'all',
    higherIsBetter: false,
    description:
      "Wasserstein-1 (earth mover's) distance between the distribution of predicted and of actual answers to an item across respondents, divided by the item's scale width (0 = same distribution); for a group or overall, the mean over items.",
  },
  {
    name: 'variance_ratio',
    kinds: 'all',
    higherIsBetter: null,
    description:
      'Variance of the predicted answers / variance of the actual answers to an item across respondents; 1 is the real spread, below 1 the simulated respondents are more alike than real ones (below 0.5 is flagged under-dispersed); for a group or overall, the mean over items. Closer to 1 is better.',
  },
  {
    name: 'under_dispersed_share',
    kinds: 'all',
    higherIsBetter: false,
    description: 'Share of items whose variance ratio is below 0.5: the method flattens the spread of answers on them.',
  },
  {
    name: 'respondent_correlation',
    kinds: 'all',
    higherIsBetter: true,
    description:
      'Pearson correlation between predicted and actual answers to an item across respondents (-1 to 1): does the method tell respondents apart? For a group or overall, the mean over items.',
  },
];

export interface Point {
  predicted: number;
  actual: number;
  item: ItemDef;
}

/**
 * Scored points by position (point i: predicted(i), actual(i), item(i)): the metrics read a list
 * of Point objects and a slice of an evaluation's columns (see table.ts) the same way.
 */
export interface PointView {
  readonly length: number;
  predicted(i: number): number;
  actual(i: number): number;
  item(i: number): ItemDef;
}

export function viewOfPoints(points: readonly Point[]): PointView {
  return { length: points.length, predicted: (i) => points[i].predicted, actual: (i) => points[i].actual, item: (i) => points[i].item };
}

type RowValue = (predicted: number, actual: number, item: ItemDef) => number;

const normalizedError: RowValue = (predicted, actual, item) => Math.abs(predicted - actual) / (item.max - item.min);
const absoluteError: RowValue = (predicted, actual) => Math.abs(predicted - actual);

/**
 * Metrics that are means of one number per scored row: their overall value gets a bootstrap
 * interval from per-entity sums (see bootstrap.ts). Keys as in ScoreSummary.metrics.
 */
export const ROW_MEAN_METRICS: readonly { key: string; kind: ItemKind | null; rowValue: RowValue }[] = [
  { key: 'normalized_mae', kind: null, rowValue: normalizedError },
  { key: 'binary.accuracy', kind: 'binary', rowValue: (predicted, actual, item) => (isPositive(predicted, item) === isPositive(actual, item) ? 1 : 0) },
  { key: 'ordinal.mae', kind: 'ordinal', rowValue: absoluteError },
  { key: 'ordinal.exact_accuracy', kind: 'ordinal', rowValue: (predicted, actual, item) => (toScalePoint(predicted, item) === actual ? 1 : 0) },
  { key: 'ordinal.within_one_accuracy', kind: 'ordinal', rowValue: (predicted, actual) => (Math.abs(predicted - actual) <= 1 ? 1 : 0) },
  { key: 'continuous.mae', kind: 'continuous', rowValue: absoluteError },
  { key: 'continuous.normalized_mae', kind: 'continuous', rowValue: normalizedError },
];

export const NO_POINTS = 'no scored points';

function none(n: number, note: string): MetricValue {
  return { value: null, n, note };
}

function meanOf(points: PointView, f: RowValue): MetricValue {
  if (points.length === 0) return none(0, NO_POINTS);
  const values: number[] = [];
  for (let i = 0; i < points.length; i++) values.push(f(points.predicted(i), points.actual(i), points.item(i)));
  return { value: mean(values), n: points.length };
}

export function normalizedMaeOf(points: PointView): MetricValue {
  return meanOf(points, normalizedError);
}

export function maeOf(points: PointView): MetricValue {
  return meanOf(points, absoluteError);
}

export function rmseOf(points: PointView): MetricValue {
  const mse = meanOf(points, (predicted, actual) => (predicted - actual) ** 2);
  return mse.value === null ? mse : { value: Math.sqrt(mse.value), n: mse.n };
}

export function exactAccuracyOf(points: PointView): MetricValue {
  return meanOf(points, (predicted, actual, item) => (toScalePoint(predicted, item) === actual ? 1 : 0));
}

export function withinOneAccuracyOf(points: PointView): MetricValue {
  return meanOf(points, (predicted, actual) => (Math.abs(predicted - actual) <= 1 ? 1 : 0));
}

export function normalizedMae(points: Point[]): MetricValue {
  return normalizedMaeOf(viewOfPoints(points));
}

export function mae(points: Point[]): MetricValue {
  return maeOf(viewOfPoints(points));
}

export function rmse(points: Point[]): MetricValue {
  return rmseOf(viewOfPoints(points));
}

/** Nearest point of the scale min, min+1, ..., max; halves round up (Math.round), then clamp. */
export function toScalePoint(value: number, item: ItemDef): number {
  const rounded = item.min + Math.round(value - item.min);
  return Math.min(item.max, Math.max(item.min, rounded));
}

export function exactAccuracy(points: Point[]): MetricValue {
  return exactAccuracyOf(viewOfPoints(points));
}

export function withinOneAccuracy(points: Point[]): MetricValue {
  return withinOneAccuracyOf(viewOfPoints(points));
}

/** The class threshold: the midpoint of the item's range (0.5 for a 0/1 item); >= is "yes". */
export function isPositive(value: number, item: ItemDef): boolean {
  return value >= (item.min + item.max) / 2;
}

type BinaryMetrics = Record<'accuracy' | 'balanced_accuracy' | 'f1' | 'predicted_positive_rate' | 'actual_positive_rate', MetricValue>;

export function binaryMetrics(points: Point[]): BinaryMetrics {
  return binaryMetricsOf(viewOfPoints(points));
}

export function binaryMetricsOf(points: PointView): BinaryMetrics {
  const n = points.length;
  if (n === 0) {
    const v = none(0, NO_POINTS);
    return { accuracy: v, balanced_accuracy: v, f1: v, predicted_positive_rate: v, actual_positive_rate: v };
  }
  let tp = 0;
  let tn = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < n; i++) {
    const item = points.item(i);
    const pred = isPositive(points.predicted(i), item);
    const act = isPositive(points.actual(i), item);
    if (pred && act) tp++;
    else if (!pred && !act) tn++;
    else if (pred) fp++;
    else fn++;
  }
  const positives = tp + fn;
  const negatives = tn + fp;
  const balanced: MetricValue =
    positives === 0 || negatives === 0
      ? none(n, `only one actual class present (${positives} positive, ${negatives} negative): balanced accuracy undefined`)
      : { value: (tp / positives + tn / negatives) / 2, n };
  const f1: MetricValue =
    positives === 0 ? none(n, 'no actual positives: F1 undefined') : { value: (2 * tp) / (2 * tp + fp + fn), n };
  return {
    accuracy: { value: (tp + tn) / n, n },
    balanced_accuracy: balanced,
    f1,
    predicted_positive_rate: { value: (tp + fp) / n, n },
    actual_positive_rate: { value: positives / n, n },
  };
}

function correlation(points: PointView, kind: 'pearson' | 'spearman'): MetricValue {
  const n = points.length;
  if (n === 0) return none(0, NO_POINTS);
  if (n < 3) return none(n, `too few points for a correlation (n=${n} < 3)`);
  const x: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    x.push(points.predicted(i));
    y.push(points.actual(i));
  }
  // Checked on the raw values: a computed variance of identical values may be a tiny non-zero.
  if (x.every((v) => v === x[0])) return none(n, 'predictions are constant: correlation undefined');
  if (y.every((v) => v === y[0])) return none(n, 'actual values are constant: correlation undefined');
  const r = kind === 'pearson' ? sampleCorrelation(x, y) : sampleRankCorrelation(x, y);
  // Rounding can push |r| a hair above 1.
  return { value: Math.max(-1, Math.min(1, r)), n };
}

export function pearsonOf(points: PointView): MetricValue {
  return correlation(points, 'pearson');
}

/** Pearson on average ranks (simple-statistics' midranks), so ties are handled order-independently. */
export function spearmanOf(points: PointView): MetricValue {
  return correlation(points, 'spearman');
}

export function pearson(points: Point[]): MetricValue {
  return pearsonOf(viewOfPoints(points));
}

export function spearman(points: Point[]): MetricValue {
  return spearmanOf(viewOfPoints(points));
}
