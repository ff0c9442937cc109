import { mulberry32 } from '@assay/data';
import { quantileSorted } from 'simple-statistics';

/**
 * Cluster bootstrap over entities. An entity (a respondent) is the cluster: a resample draws
 * entities with replacement and every item of a drawn entity comes along, because one
 * respondent's answers are not independent of each other.
 *
 * Speed without allocation: a statistic that is a mean over rows is a ratio of per-entity sums
 * (sum of row values / number of rows), precomputed once; a resample is a vector of entity
 * multiplicities (how often each entity was drawn) held in one reused typed array, so each
 * resample costs O(entities) and allocates nothing.
 *
 * Everything is seeded: the same inputs give the same intervals, byte for byte, on every replay.
 */

export const BOOTSTRAP_RESAMPLES = 2000;
/** Fixed, so a run's report and a replay of it draw the same resamples. */
export const BOOTSTRAP_SEED = 20240611;
export const CI_LEVEL = 0.95;

export interface BootstrapOptions {
  resamples: number;
  seed: number;
}

export const DEFAULT_BOOTSTRAP: BootstrapOptions = { resamples: BOOTSTRAP_RESAMPLES, seed: BOOTSTRAP_SEED };

/** A percentile confidence interval from a bootstrap. */
export interface Interval {
  low: number;
  high: number;
  level: number;
  /** Resamples whose statistic was defined (a resample with no scored row has none). */
  resamples: number;
}

/** Per-entity sums of a mean-type statistic: value = sum(num) / sum(den) over the drawn entities. */
export interface EntitySums {
  num: Float64Array;
  den: Float64Array;
}

export function emptySums(entities: number): EntitySums {
  return { num: new Float64Array(entities), den: new Float64Array(entities) };
}

/** The statistic over one resample (counts = multiplicity of each entity); NaN when no row counts. */
export function weightedRatio(sums: EntitySums, counts: Uint32Array | null): number {
  let num = 0;
  let den = 0;
  const n = sums.num.length;
  for (let e = 0; e < n; e++) {
    const c = counts === null ? 1 : counts[e];
    if (c === 0) continue;
    num += c * sums.num[e];
    den += c * sums.den[e];
  }
  return den === 0 ? Number.NaN : num / den;
}

/**
 * Calls visit once per resample with the multiplicities of `entities` clusters drawn with
 * replacement. The counts array is reused: visit must not keep it. Draw order is fixed (resample
 * by resample, entity slot by entity slot), which the tests' naive second implementation relies on.
 */
export function forEachResample(entities: number, options: BootstrapOptions, visit: (counts: Uint32Array, resample: number) => void): void {
  if (entities <= 0) throw new Error('bootstrap: no entities to resample');
  if (!Number.isInteger(options.resamples) || options.resamples < 1) throw new Error(`bootstrap: resamples must be a positive integer, got ${options.resamples}`);
  const rand = mulberry32(options.seed);
  const counts = new Uint32Array(entities);
  for (let b = 0; b < options.resamples; b++) {
    counts.fill(0);
    for (let i = 0; i < entities; i++) counts[Math.floor(rand() * entities)]++;
    visit(counts, b);
  }
}

/** Percentile interval of the defined (non-NaN) values; null when none is defined. */
export function percentileInterval(values: Float64Array, level = CI_LEVEL): Interval | null {
  const defined = Array.from(values.filter((v) => !Number.isNaN(v))).sort((a, b) => a - b);
  if (defined.length === 0) return null;
  const tail = (1 - level) / 2;
  return { low: quantileSorted(defined, tail), high: quantileSorted(defined, 1 - tail), level, resamples: defined.length };
}

/**
 * Each statistic's value in every resample, all statistics over the same entities and the same
 * draws (one pass over the resamples): the raw material of intervals and of paired differences.
 */
export function resampledRatios(all: readonly EntitySums[], options: BootstrapOptions = DEFAULT_BOOTSTRAP): Float64Array[] {
  if (all.length === 0) return [];
  const entities = all[0].num.length;
  for (const s of all) if (s.num.length !== entities) throw new Error(`bootstrap: statistics over ${entities} and ${s.num.length} entities cannot share resamples`);
  const draws = all.map(() => new Float64Array(options.resamples));
  forEachResample(entities, options, (counts, b) => {
    for (let k = 0; k < all.length; k++) draws[k][b] = weightedRatio(all[k], counts);
  });
  return draws;
}

/** Bootstrap intervals for several mean-type statistics over the same entities, from one set of resamples. */
export function ratioIntervals(all: readonly EntitySums[], options: BootstrapOptions = DEFAULT_BOOTSTRAP): (Interval | null)[] {
  return resampledRatios(all, options).map((d) => percentileInterval(d));
}

export interface PairedDifference {
  /** candidate - baseline on the full data. */
  delta: number;
  ci: Interval | null;
  /** Two-sided bootstrap p-value for "no difference". */
  p: number;
}

/**
 * Two-sided bootstrap p-value: twice the smaller share of resampled differences on either side
 * of 0, with one added to each count so a finite bootstrap never claims p = 0; at most 1.
 * A difference that is exactly 0 in every resample (a run compared with itself) gets p = 1.
 */
export function bootstrapPValue(draws: Float64Array): number {
  let atOrBelow = 0;
  let atOrAbove = 0;
  let defined = 0;
  for (const d of draws) {
    if (Number.isNaN(d)) continue;
    defined++;
    if (d <= 0) atOrBelow++;
    if (d >= 0) atOrAbove++;
  }
  if (defined === 0) return 1;
  return Math.min(1, (2 * (Math.min(atOrBelow, atOrAbove) + 1)) / (defined + 1));
}

/**
 * Paired difference candidate - baseline: both methods were scored on the same entities (index e
 * is the same entity in both), so each resample draws entities once and scores both methods on
 * that draw. Shared difficulty cancels, which is why the interval is narrower than an unpaired one.
 */
export function pairedDifference(baseline: EntitySums, candidate: EntitySums, options: BootstrapOptions = DEFAULT_BOOTSTRAP): PairedDifference {
  if (baseline.num.length !== candidate.num.length) throw new Error(`paired bootstrap: ${baseline.num.length} vs ${candidate.num.length} entities; a paired comparison needs the same entities`);
  const [b, c] = resampledRatios([baseline, candidate], options);
  return pairedFromDraws({ sums: baseline, draws: b }, { sums: candidate, draws: c });
}

/**
 * The paired difference from two statistics resampled on the same draws (resampledRatios): many
 * pairs and groups then share one pass over the resamples instead of one pass each.
 */
export function pairedFromDraws(baseline: { sums: EntitySums; draws: Float64Array }, candidate: { sums: EntitySums; draws: Float64Array }): PairedDifference {
  const n = baseline.draws.length;
  if (candidate.draws.length !== n) throw new Error(`paired bootstrap: ${n} vs ${candidate.draws.length} resamples`);
  const delta = new Float64Array(n);
  for (let b = 0; b < n; b++) delta[b] = candidate.draws[b] - baseline.draws[b];
  return { delta: weightedRatio(candidate.sums, null) - weightedRatio(baseline.sums, null), ci: percentileInterval(delta), p: bootstrapPValue(delta) };
}

/**
 * Unpaired difference: the two methods' entities are resampled independently (different data,
 * or a comparison the user asked not to pair). One random stream, baseline's draw first.
 */
export function unpairedDifference(baseline: EntitySums, candidate: EntitySums, options: BootstrapOptions = DEFAULT_BOOTSTRAP): PairedDifference {
  const nb = baseline.num.length;
  const nc = candidate.num.length;
  if (nb === 0 || nc === 0) throw new Error('bootstrap: no entities to resample');
  const rand = mulberry32(options.seed);
  const countsB = new Uint32Array(nb);
  const countsC = new Uint32Array(nc);
  const draws = new Float64Array(options.resamples);
  for (let b = 0; b < options.resamples; b++) {
    countsB.fill(0);
    countsC.fill(0);
    for (let i = 0; i < nb; i++) countsB[Math.floor(rand() * nb)]++;
    for (let i = 0; i < nc; i++) countsC[Math.floor(rand() * nc)]++;
    draws[b] = weightedRatio(candidate, countsC) - weightedRatio(baseline, countsB);
  }
  return { delta: weightedRatio(candidate, null) - weightedRatio(baseline, null), ci: percentileInterval(draws), p: bootstrapPValue(draws) };
}

/**
 * Holm's step-down adjustment of several p-values (one per compared pair), returned in input
 * order: sort ascending, multiply the i-th smallest (0-based) by (m - i), keep the running
 * maximum so adjusted values never decrease, cap at 1. Controls the chance of any false claim.
 */
export function holmAdjust(pValues: readonly number[]): number[] {
  const m = pValues.length;
  const order = pValues.map((p, i) => ({ p, i })).sort((a, b) => a.p - b.p || a.i - b.i);
  const adjusted = new Array<number>(m);
  let running = 0;
  order.forEach(({ p, i }, rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * p));
    adjusted[i] = running;
  });
  return adjusted;
}
