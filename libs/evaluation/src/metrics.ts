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
 * Metrics that are means of one number per scored row: their overall value gets a bootstrap
 * interval from per-entity sums (see bootstrap.ts). Keys as in ScoreSummary.metrics.
 */
export const ROW_MEAN_METRICS: readonly { key: string; kind: ItemKind | null; rowValue: (p: Point) => number }[] = [
  { key: 'normalized_mae', kind: null, rowValue: (p) => Math.abs(p.predicted - p.actual) / (p.item.max - p.item.min) },
  { key: 'binary.accuracy', kind: 'binary', rowValue: (p) => (isPositive(p.predicted, p.item) === isPositive(p.actual, p.item) ? 1 : 0) },
  { key: 'ordinal.mae', kind: 'ordinal', rowValue: (p) => Math.abs(p.predicted - p.actual) },
  { key: 'ordinal.exact_accuracy', kind: 'ordinal', rowValue: (p) => (toScalePoint(p.predicted, p.item) === p.actual ? 1 : 0) },
  { key: 'ordinal.within_one_accuracy', kind: 'ordinal', rowValue: (p) => (Math.abs(p.predicted - p.actual) <= 1 ? 1 : 0) },
  { key: 'continuous.mae', kind: 'continuous', rowValue: (p) => Math.abs(p.predicted - p.actual) },
  { key: 'continuous.normalized_mae', kind: 'continuous', rowValue: (p) => Math.abs(p.predicted - p.actual) / (p.item.max - p.item.min) },
];

export const NO_POINTS = 'no scored points';

function none(n: number, note: string): MetricValue {
  return { value: null, n, note };
}

function meanOf(points: Point[], f: (p: Point) => number): MetricValue {
  if (points.length === 0) return none(0, NO_POINTS);
  return { value: mean(points.map(f)), n: points.length };
}

export function normalizedMae(points: Point[]): MetricValue {
  return meanOf(points, (p) => Math.abs(p.predicted - p.actual) / (p.item.max - p.item.min));
}

export function mae(points: Point[]): MetricValue {
  return meanOf(points, (p) => Math.abs(p.predicted - p.actual));
}

export function rmse(points: Point[]): MetricValue {
  const mse = meanOf(points, (p) => (p.predicted - p.actual) ** 2);
  return mse.value === null ? mse : { value: Math.sqrt(mse.value), n: mse.n };
}

/** Nearest point of the scale min, min+1, ..., max; halves round up (Math.round), then clamp. */
export function toScalePoint(value: number, item: ItemDef): number {
  const rounded = item.min + Math.round(value - item.min);
  return Math.min(item.max, Math.max(item.min, rounded));
}

export function exactAccuracy(points: Point[]): MetricValue {
  return meanOf(points, (p) => (toScalePoint(p.predicted, p.item) === p.actual ? 1 : 0));
}

export function withinOneAccuracy(points: Point[]): MetricValue {
  return meanOf(points, (p) => (Math.abs(p.predicted - p.actual) <= 1 ? 1 : 0));
}

/** The class threshold: the midpoint of the item's range (0.5 for a 0/1 item); >= is "yes". */
export function isPositive(value: number, item: ItemDef): boolean {
  return value >= (item.min + item.max) / 2;
}

export function binaryMetrics(points: Point[]): Record<
  'accuracy' | 'balanced_accuracy' | 'f1' | 'predicted_positive_rate' | 'actual_positive_rate',
  MetricValue
> {
  const n = points.length;
  if (n === 0) {
    const v = none(0, NO_POINTS);
    return { accuracy: v, balanced_accuracy: v, f1: v, predicted_positive_rate: v, actual_positive_rate: v };
  }
  let tp = 0;
  let tn = 0;
  let fp = 0;
  let fn = 0;
  for (const p of points) {
    const pred = isPositive(p.predicted, p.item);
    const act = isPositive(p.actual, p.item);
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

function correlation(points: Point[], kind: 'pearson' | 'spearman'): MetricValue {
  const n = points.length;
  if (n === 0) return none(0, NO_POINTS);
  if (n < 3) return none(n, `too few points for a correlation (n=${n} < 3)`);
  const x = points.map((p) => p.predicted);
  const y = points.map((p) => p.actual);
  // Checked on the raw values: a computed variance of identical values may be a tiny non-zero.
  if (x.every((v) => v === x[0])) return none(n, 'predictions are constant: correlation undefined');
  if (y.every((v) => v === y[0])) return none(n, 'actual values are constant: correlation undefined');
  const r = kind === 'pearson' ? sampleCorrelation(x, y) : sampleRankCorrelation(x, y);
  // Rounding can push |r| a hair above 1.
  return { value: Math.max(-1, Math.min(1, r)), n };
}

export function pearson(points: Point[]): MetricValue {
  return correlation(points, 'pearson');
}

/** Pearson on average ranks (simple-statistics' midranks), so ties are handled order-independently. */
export function spearman(points: Point[]): MetricValue {
  return correlation(points, 'spearman');
}
