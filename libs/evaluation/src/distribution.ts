import { variance } from 'simple-statistics';
import type { MetricValue } from './types';

/**
 * Distributional metrics from survey simulation: does the method reproduce how answers to an
 * item are spread across respondents, not only each respondent's answer?
 */

/** Below this variance ratio the predictions are flagged under-dispersed (less than half the real spread). */
export const UNDER_DISPERSION_BELOW = 0.5;

/**
 * Wasserstein-1 (earth mover's) distance between two empirical distributions on a line: the
 * area between their cumulative distribution functions, i.e. how far probability mass must move.
 * Sizes may differ; each value carries mass 1/n of its own sample.
 */
export function wasserstein1(a: readonly number[], b: readonly number[]): number {
  if (a.length === 0 || b.length === 0) throw new Error('wasserstein1: both samples need at least one value');
  const xs = [...a].sort((x, y) => x - y);
  const ys = [...b].sort((x, y) => x - y);
  let i = 0;
  let j = 0;
  let area = 0;
  let prev = Math.min(xs[0], ys[0]);
  // Walk the merged support; between consecutive points both CDFs are constant.
  while (i < xs.length || j < ys.length) {
    const next = j >= ys.length || (i < xs.length && xs[i] <= ys[j]) ? xs[i] : ys[j];
    area += Math.abs(i / xs.length - j / ys.length) * (next - prev);
    prev = next;
    while (i < xs.length && xs[i] === next) i++;
    while (j < ys.length && ys[j] === next) j++;
  }
  return area;
}

/** Wasserstein-1 between predicted and actual answers of one item, divided by the item's range (0 = same distribution, 1 = all mass at opposite ends). */
export function normalizedWasserstein(predicted: readonly number[], actual: readonly number[], range: { min: number; max: number }): MetricValue {
  if (predicted.length === 0) return { value: null, n: 0, note: 'no scored points' };
  return { value: wasserstein1(predicted, actual) / (range.max - range.min), n: predicted.length };
}

/** Predicted variance / actual variance across respondents of one item; below UNDER_DISPERSION_BELOW is flagged. */
export function varianceRatio(predicted: readonly number[], actual: readonly number[]): MetricValue {
  const n = predicted.length;
  if (n < 2) return { value: null, n, note: `too few points for a variance (n=${n} < 2)` };
  // Checked on the raw values: a computed variance of identical values may be a tiny non-zero.
  if (actual.every((v) => v === actual[0])) return { value: null, n, note: 'actual answers do not vary: variance ratio undefined' };
  const ratio = predicted.every((v) => v === predicted[0]) ? 0 : variance([...predicted]) / variance([...actual]);
  return ratio < UNDER_DISPERSION_BELOW
    ? { value: ratio, n, note: `under-dispersed: predictions vary less than ${UNDER_DISPERSION_BELOW} times as much as the real answers` }
    : { value: ratio, n };
}

/** Mean of per-item values over the items where the metric is defined; n = items averaged. */
export function meanOverItems(perItem: readonly MetricValue[]): MetricValue {
  const defined = perItem.filter((m) => m.value !== null);
  if (defined.length === 0) return { value: null, n: 0, note: perItem.length === 0 ? 'no items' : 'undefined for every item' };
  const value = defined.reduce((s, m) => s + (m.value as number), 0) / defined.length;
  const missing = perItem.length - defined.length;
  return missing === 0 ? { value, n: defined.length } : { value, n: defined.length, note: `mean over ${defined.length} of ${perItem.length} items (undefined for ${missing})` };
}
