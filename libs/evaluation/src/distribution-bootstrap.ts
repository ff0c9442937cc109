import { forEachResample, percentileInterval, type BootstrapOptions, type Interval } from './bootstrap';

/**
 * Bootstrap intervals for the distribution metrics (means over items of the normalised
 * Wasserstein-1 distance, the variance ratio and the correlation across respondents), with the
 * same cluster resamples as the mean-type metrics. A resample weights each row by how often its
 * entity was drawn, so nothing is copied or sorted per resample: each item's distinct values are
 * sorted once, each row knows the positions of its two values among them, and one pass over the
 * drawn entities accumulates every item's weighted moments and the CDFs' difference at every
 * value, in typed arrays.
 *
 * The rows are laid out entity by entity (all items of one entity side by side), so a resample
 * visits only the entities it drew, each once, and skips the others at no cost. Every sum still
 * adds its terms in the order of the item's rows (ascending entity), so the intervals are the
 * same, bit for bit, as a pass over each item's rows would give.
 */

/** One item's scored rows: entity position (in the bootstrap's entity list, ascending, each at most once), predicted, actual. */
export interface ItemValues {
  entities: readonly number[];
  predicted: readonly number[];
  actual: readonly number[];
  range: number;
}

/** The items' rows by entity: slot j * entities + e holds entity e's row of item j, if it has one. */
interface PreparedRows {
  items: number;
  present: Uint8Array;
  x: Float64Array;
  y: Float64Array;
  /** Each row's predicted and actual value as its position in `levels` (all items' levels, one after another). */
  xLevel: Uint32Array;
  yLevel: Uint32Array;
  /** The distinct predicted and actual values of item j, ascending: levels[levelStart[j]] .. levels[levelStart[j + 1] - 1]. */
  levels: Float64Array;
  levelStart: Uint32Array;
  range: Float64Array;
  /** Whether item j's sums are exact in any order (exactItem), so its rows are counted by value pair. */
  exact: Uint8Array;
  /**
   * Whether item j has at most MAX_PAIRS distinct (predicted, actual) pairs, so its rows are
   * counted by pair for the CDFs (whole counts, exact in any order) even where its moments are not.
   */
  byPair: Uint8Array;
  /** Of a row of an item counted by pair: its (predicted, actual) pair's position among the item's pairs, -1 for no row. */
  pair: Int32Array;
  /** The distinct (predicted, actual) pairs of item j counted by pair: pairStart[j] .. pairStart[j + 1] - 1, with their values and levels. */
  pairStart: Uint32Array;
  pairX: Float64Array;
  pairY: Float64Array;
  pairXLevel: Uint32Array;
  pairYLevel: Uint32Array;
}

/** More distinct (predicted, actual) pairs than this: an item is summed row by row (counting by pair would not save work). */
const MAX_PAIRS = 256;

/**
 * Whether every sum of an item's resampled moments is a whole number below 2^53 whatever is drawn:
 * whole values, and entities x the largest squared value within 2^53 (a resample's counts add up
 * to the number of entities). Then every addition is exact, so adding the rows' terms in another
 * order, or adding them by value pair (count x value), gives the same sums bit for bit.
 */
function exactItem(item: ItemValues, entities: number): boolean {
  let largest = 0;
  for (const v of [...item.predicted, ...item.actual]) {
    if (!Number.isInteger(v)) return false;
    largest = Math.max(largest, Math.abs(v));
  }
  return entities * largest * largest <= Number.MAX_SAFE_INTEGER;
}

function prepare(items: readonly ItemValues[], entities: number): PreparedRows {
  const n = items.length;
  const slots = entities * n;
  const rows: PreparedRows = {
    items: n,
    present: new Uint8Array(slots),
    x: new Float64Array(slots),
    y: new Float64Array(slots),
    xLevel: new Uint32Array(slots),
    yLevel: new Uint32Array(slots),
    levels: new Float64Array(0),
    levelStart: new Uint32Array(n + 1),
    range: new Float64Array(n),
    exact: new Uint8Array(n),
    byPair: new Uint8Array(n),
    pair: new Int32Array(slots).fill(-1),
    pairStart: new Uint32Array(n + 1),
    pairX: new Float64Array(0),
    pairY: new Float64Array(0),
    pairXLevel: new Uint32Array(0),
    pairYLevel: new Uint32Array(0),
  };
  const levels: number[] = [];
  const pairs: Array<{ x: number; y: number; xLevel: number; yLevel: number }> = [];
  items.forEach((item, j) => {
    rows.levelStart[j] = levels.length;
    rows.pairStart[j] = pairs.length;
    rows.range[j] = item.range;
    const start = levels.length;
    const sorted = [...item.predicted, ...item.actual].sort((a, b) => a - b);
    for (const v of sorted) if (levels.length === start || v !== levels[levels.length - 1]) levels.push(v);
    const levelOf = new Map(levels.slice(start).map((v, i) => [v, start + i]));
    const pairOf = new Map<number, number>();
    const width = levels.length - start;
    const exact = exactItem(item, entities);
    let previous = -1;
    for (let i = 0; i < item.entities.length; i++) {
      const e = item.entities[i];
      // Ascending and distinct: the order the sums add in, and one slot per entity and item.
      if (!Number.isInteger(e) || e <= previous || e >= entities) throw new Error(`distributionIntervals: item ${j}'s entity positions must ascend without repeats within [0, ${entities}), got ${e} after ${previous}`);
      previous = e;
      const slot = j * entities + e;
      const x = item.predicted[i];
      const y = item.actual[i];
      rows.present[slot] = 1;
      rows.x[slot] = x;
      rows.y[slot] = y;
      rows.xLevel[slot] = levelOf.get(x)!;
      rows.yLevel[slot] = levelOf.get(y)!;
      const key = (rows.xLevel[slot] - start) * width + (rows.yLevel[slot] - start);
      let p = pairOf.get(key);
      if (p === undefined) {
        p = pairOf.size;
        pairOf.set(key, p);
        pairs.push({ x, y, xLevel: rows.xLevel[slot], yLevel: rows.yLevel[slot] });
      }
      rows.pair[slot] = p;
    }
    if (pairOf.size <= MAX_PAIRS) {
      rows.byPair[j] = 1;
      rows.exact[j] = exact ? 1 : 0;
    } else {
      pairs.length = rows.pairStart[j];
      rows.pair.fill(-1, j * entities, (j + 1) * entities);
    }
  });
  rows.levelStart[n] = levels.length;
  rows.pairStart[n] = pairs.length;
  rows.levels = Float64Array.from(levels);
  rows.pairX = Float64Array.from(pairs, (p) => p.x);
  rows.pairY = Float64Array.from(pairs, (p) => p.y);
  rows.pairXLevel = Uint32Array.from(pairs, (p) => p.xLevel);
  rows.pairYLevel = Uint32Array.from(pairs, (p) => p.yLevel);
  return rows;
}

/** Relative size below which a resampled variance counts as zero (identical values, rounding aside). */
const ZERO_VARIANCE = 1e-12;

export interface DistributionIntervals {
  wasserstein: Interval | null;
  variance_ratio: Interval | null;
  respondent_correlation: Interval | null;
}

export function distributionIntervals(items: readonly ItemValues[], entities: number, options: BootstrapOptions): DistributionIntervals {
  const rows = prepare(items, entities);
  const { items: n, levels, levelStart, range, exact, byPair, pairStart, pairX } = rows;
  // Per (predicted, actual) pair of an item counted by pair: the drawn rows' weight.
  const pairWeight = new Float64Array(pairX.length);
  // Per level: drawn predicted rows at it minus drawn actual rows at it (whole counts, exact in a double).
  const atLevel = new Float64Array(levels.length);
  // The drawn entities of a resample, ascending, and how often each was drawn.
  const drawn = new Uint32Array(entities);
  const times = new Float64Array(entities);
  const w1 = new Float64Array(options.resamples);
  const ratio = new Float64Array(options.resamples);
  const corr = new Float64Array(options.resamples);
  // One item's resampled moments: weight, sum x, sum y, sum x^2, sum y^2, sum xy.
  const sums = new Float64Array(6);
  forEachResample(entities, options, (counts, b) => {
    let d = 0;
    for (let e = 0; e < entities; e++) {
      if (counts[e] === 0) continue;
      drawn[d] = e;
      times[d] = counts[e];
      d++;
    }
    atLevel.fill(0);
    pairWeight.fill(0);
    let w1Sum = 0;
    let w1Items = 0;
    let ratioSum = 0;
    let ratioItems = 0;
    let corrSum = 0;
    let corrItems = 0;
    for (let j = 0; j < n; j++) {
      const base = j * entities;
      if (exact[j] === 1) exactItemSums(sums, base, d, drawn, times, rows, pairStart[j], pairStart[j + 1], pairWeight, atLevel);
      // The loop that is the whole cost (resamples x items x drawn entities), for the other items.
      else rowSums(sums, base, d, drawn, times, rows, byPair[j] === 1 ? pairStart[j] : -1, pairStart[j + 1], pairWeight, atLevel);
      const w = sums[0];
      const sx = sums[1];
      const sy = sums[2];
      const sxx = sums[3];
      const syy = sums[4];
      const sxy = sums[5];
      if (w === 0) continue;
      // Area between the weighted CDFs of predicted and actual values (both carry total weight w),
      // level by level: between two adjacent levels the CDFs differ by the drawn rows at or below
      // the lower one. Summed in ascending order of values, as a walk over the merged sorted values
      // would (whose steps between equal values add exactly zero).
      let gap = 0;
      let area = 0;
      for (let k = levelStart[j] + 1; k < levelStart[j + 1]; k++) {
        gap += atLevel[k - 1];
        area += Math.abs(gap) * (levels[k] - levels[k - 1]);
      }
      w1Sum += area / w / range[j];
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

/*
 * The two inner loops of a resample, as functions of their own: their arrays are arguments (locals
 * the compiler keeps in registers), not variables of a closure read through its context on every
 * row, about a quarter of the bootstrap's time. Each adds its terms in the order the loop did.
 */

/** An exact item's drawn rows counted by value pair, then each pair's terms added once (exact sums: any order). */
function exactItemSums(out: Float64Array, base: number, d: number, drawn: Uint32Array, times: Float64Array, rows: PreparedRows, from: number, to: number, pairWeight: Float64Array, atLevel: Float64Array): void {
  const { pair, pairX, pairY, pairXLevel, pairYLevel } = rows;
  for (let k = 0; k < d; k++) {
    const p = pair[base + drawn[k]];
    if (p >= 0) pairWeight[from + p] += times[k];
  }
  let w = 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  for (let p = from; p < to; p++) {
    const c = pairWeight[p];
    if (c === 0) continue;
    const x = pairX[p];
    const y = pairY[p];
    w += c;
    sx += c * x;
    sy += c * y;
    sxx += c * x * x;
    syy += c * y * y;
    sxy += c * x * y;
    atLevel[pairXLevel[p]] += c;
    atLevel[pairYLevel[p]] -= c;
  }
  setSums(out, w, sx, sy, sxx, syy, sxy);
}

/**
 * An item's drawn rows one by one, in ascending entity order. Their CDF counts go by value pair
 * when the item has few pairs (`from` >= 0: one count per row, spread over the levels per pair
 * afterwards), else by level (two counts per row).
 */
function rowSums(out: Float64Array, base: number, d: number, drawn: Uint32Array, times: Float64Array, rows: PreparedRows, from: number, to: number, pairWeight: Float64Array, atLevel: Float64Array): void {
  const { present, x: xs, y: ys, xLevel: xl, yLevel: yl, pair } = rows;
  const byPair = from >= 0;
  let w = 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  for (let k = 0; k < d; k++) {
    const slot = base + drawn[k];
    if (present[slot] === 0) continue;
    const c = times[k];
    const x = xs[slot];
    const y = ys[slot];
    w += c;
    sx += c * x;
    sy += c * y;
    sxx += c * x * x;
    syy += c * y * y;
    sxy += c * x * y;
    if (byPair) pairWeight[from + pair[slot]] += c;
    else {
      atLevel[xl[slot]] += c;
      atLevel[yl[slot]] -= c;
    }
  }
  if (byPair) {
    const { pairXLevel, pairYLevel } = rows;
    for (let p = from; p < to; p++) {
      const c = pairWeight[p];
      if (c === 0) continue;
      atLevel[pairXLevel[p]] += c;
      atLevel[pairYLevel[p]] -= c;
    }
  }
  setSums(out, w, sx, sy, sxx, syy, sxy);
}

function setSums(out: Float64Array, w: number, sx: number, sy: number, sxx: number, syy: number, sxy: number): void {
  out[0] = w;
  out[1] = sx;
  out[2] = sy;
  out[3] = sxx;
  out[4] = syy;
  out[5] = sxy;
}
