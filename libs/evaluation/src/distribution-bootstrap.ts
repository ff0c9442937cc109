import { forEachResample, percentileInterval, type BootstrapOptions, type Interval } from './bootstrap';

/**
 * Bootstrap intervals for the distribution metrics (means over items of the normalised
 * Wasserstein-1 distance, the variance ratio and the correlation across respondents), with the
 * same cluster resamples as the mean-type metrics. A resample weights each row by how often its
 * entity was drawn, so nothing is copied or sorted per resample: each item's predicted and actual
 * values are sorted once into one merged list, and weighted moments and CDFs are accumulated
 * over it in typed arrays.
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
  /** Predicted and actual values merged and sorted; `fromPredicted` says which list each came from. */
  mergedValue: Float64Array;
  mergedEntity: Uint32Array;
  fromPredicted: Uint8Array;
}

function prepare(item: ItemValues): PreparedItem {
  const n = item.entities.length;
  const order = Array.from({ length: 2 * n }, (_, k) => k).sort((a, b) => {
    const va = a < n ? item.predicted[a] : item.actual[a - n];
    const vb = b < n ? item.predicted[b] : item.actual[b - n];
    return va - vb || a - b;
  });
  const mergedValue = new Float64Array(2 * n);
  const mergedEntity = new Uint32Array(2 * n);
  const fromPredicted = new Uint8Array(2 * n);
  order.forEach((k, i) => {
    const row = k < n ? k : k - n;
    mergedValue[i] = k < n ? item.predicted[row] : item.actual[row];
    mergedEntity[i] = item.entities[row];
    fromPredicted[i] = k < n ? 1 : 0;
  });
  return { entity: Uint32Array.from(item.entities), x: Float64Array.from(item.predicted), y: Float64Array.from(item.actual), range: item.range, mergedValue, mergedEntity, fromPredicted };
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
    for (const it of prepared) {
      let w = 0;
      let sx = 0;
      let sy = 0;
      let sxx = 0;
      let syy = 0;
      let sxy = 0;
      for (let i = 0; i < it.x.length; i++) {
        const c = counts[it.entity[i]];
        if (c === 0) continue;
        const x = it.x[i];
        const y = it.y[i];
        w += c;
        sx += c * x;
        sy += c * y;
        sxx += c * x * x;
        syy += c * y * y;
        sxy += c * x * y;
      }
      if (w === 0) continue;
      // Area between the weighted CDFs of predicted and actual values (both carry total weight w).
      let cp = 0;
      let ca = 0;
      let area = 0;
      let prev = it.mergedValue[0];
      for (let k = 0; k < it.mergedValue.length; k++) {
        const v = it.mergedValue[k];
        area += Math.abs(cp - ca) * (v - prev);
        prev = v;
        const c = counts[it.mergedEntity[k]];
        if (it.fromPredicted[k] === 1) cp += c;
        else ca += c;
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
