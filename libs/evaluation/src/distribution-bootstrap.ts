import { forEachResample, percentileInterval, type BootstrapOptions, type Interval } from './bootstrap';

/**
 * Bootstrap intervals for the distribution metrics (means over items of the normalised
 * Wasserstein-1 distance, the variance ratio and the correlation across respondents), with the
 * same cluster resamples as the mean-type metrics. A resample weights each row by how often its
 * entity was drawn, so nothing is copied or sorted per resample: each item's distinct values are
 * sorted once, each row knows the positions of its two values among them, and one pass over the
 * rows accumulates the weighted moments and the CDFs' difference at every value, in typed arrays.
 */

/** One item's scored rows: entity position (in the bootstrap's entity list), predicted, actual. */
export interface ItemValues {
  entities: readonly number[];
  predicted: readonly number[];
  actual: readonly number[];
  range: number;
}

interface PreparedItem {
  entity: Uint32Array;
  x: Float64Array;
  y: Float64Array;
  range: number;
  /** The distinct predicted and actual values, ascending. */
  levels: Float64Array;
  /** Each row's predicted and actual value as its position in `levels`. */
  xLevel: Uint32Array;
  yLevel: Uint32Array;
}

function prepare(item: ItemValues): PreparedItem {
  const n = item.entities.length;
  const sorted = [...item.predicted, ...item.actual].sort((a, b) => a - b);
  const levels: number[] = [];
  for (const v of sorted) if (levels.length === 0 || v !== levels[levels.length - 1]) levels.push(v);
  const levelOf = new Map(levels.map((v, i) => [v, i]));
  const xLevel = new Uint32Array(n);
  const yLevel = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    xLevel[i] = levelOf.get(item.predicted[i])!;
    yLevel[i] = levelOf.get(item.actual[i])!;
  }
  return { entity: Uint32Array.from(item.entities), x: Float64Array.from(item.predicted), y: Float64Array.from(item.actual), range: item.range, levels: Float64Array.from(levels), xLevel, yLevel };
}

/** Relative size below which a resampled variance counts as zero (identical values, rounding aside). */
const ZERO_VARIANCE = 1e-12;

export interface DistributionIntervals {
  wasserstein: Interval | null;
  variance_ratio: Interval | null;
  respondent_correlation: Interval | null;
}

export function distributionIntervals(items: readonly ItemValues[], entities: number, options: BootstrapOptions): DistributionIntervals {
  const prepared = items.filter((i) => i.entities.length > 0).map(prepare);
  // Per level: drawn predicted rows at it minus drawn actual rows at it (whole counts, exact in a double).
  const atLevel = new Float64Array(Math.max(0, ...prepared.map((p) => p.levels.length)));
  const w1 = new Float64Array(options.resamples);
  const ratio = new Float64Array(options.resamples);
  const corr = new Float64Array(options.resamples);
  forEachResample(entities, options, (counts, b) => {
    let w1Sum = 0;
    let w1Items = 0;
    let ratioSum = 0;
    let ratioItems = 0;
    let corrSum = 0;
    let corrItems = 0;
    for (let j = 0; j < prepared.length; j++) {
      const it = prepared[j];
      // Locals, not property loads, in the loop that is the whole cost (resamples x rows).
      const ex = it.entity;
      const xs = it.x;
      const ys = it.y;
      const xl = it.xLevel;
      const yl = it.yLevel;
      const levels = it.levels;
      atLevel.fill(0, 0, levels.length);
      let w = 0;
      let sx = 0;
      let sy = 0;
      let sxx = 0;
      let syy = 0;
      let sxy = 0;
      for (let i = 0; i < xs.length; i++) {
        const c = counts[ex[i]];
        if (c === 0) continue;
        const x = xs[i];
        const y = ys[i];
        w += c;
        sx += c * x;
        sy += c * y;
        sxx += c * x * x;
        syy += c * y * y;
        sxy += c * x * y;
        atLevel[xl[i]] += c;
        atLevel[yl[i]] -= c;
      }
      if (w === 0) continue;
      // Area between the weighted CDFs of predicted and actual values (both carry total weight w),
      // level by level: between two adjacent levels the CDFs differ by the drawn rows at or below
      // the lower one. Summed in ascending order of values, as a walk over the merged sorted values
      // would (whose steps between equal values add exactly zero).
      let gap = 0;
      let area = 0;
      for (let k = 1; k < levels.length; k++) {
        gap += atLevel[k - 1];
        area += Math.abs(gap) * (levels[k] - levels[k - 1]);
      }
      w1Sum += area / w / it.range;
      w1Items++;
      const mx = sx / w;
      const my = sy / w;
      const vx = sxx / w - mx * mx;
      const vy = syy / w - my * my;
      const scale = Math.max(1, my * my);
      if (vy > ZERO_VARIANCE * scale) {
        ratioSum += Math.max(0, vx) / vy;
        ratioItems++;
        if (vx > ZERO_VARIANCE * Math.max(1, mx * mx)) {
          corrSum += Math.max(-1, Math.min(1, (sxy / w - mx * my) / Math.sqrt(vx * vy)));
          corrItems++;
        }
      }
    }
    w1[b] = w1Items === 0 ? Number.NaN : w1Sum / w1Items;
    ratio[b] = ratioItems === 0 ? Number.NaN : ratioSum / ratioItems;
    corr[b] = corrItems === 0 ? Number.NaN : corrSum / corrItems;
  });
  return { wasserstein: percentileInterval(w1), variance_ratio: percentileInterval(ratio), respondent_correlation: percentileInterval(corr) };
}
