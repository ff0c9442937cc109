import { mulberry32 } from '@assay/data';
import {
  bootstrapPValue,
  emptySums,
  holmAdjust,
  pairedDifference,
  percentileInterval,
  ratioIntervals,
  unpairedDifference,
  type EntitySums,
} from './bootstrap';

/** Rows of (entity index, value): several rows per entity, as items of a respondent. */
type Rows = { entity: number; value: number }[];

function sumsOf(rows: Rows, entities: number): EntitySums {
  const s = emptySums(entities);
  for (const r of rows) {
    s.num[r.entity] += r.value;
    s.den[r.entity] += 1;
  }
  return s;
}

/** numpy/R type-7 quantile, written out here independently of simple-statistics. */
function type7(sorted: number[], p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  return sorted[lo] + (h - lo) * ((sorted[Math.min(lo + 1, sorted.length - 1)] ?? sorted[lo]) - sorted[lo]);
}

/**
 * The textbook cluster bootstrap, deliberately naive: per resample, draw entity ids (same random
 * stream and draw order as the library), copy every row of each drawn entity into a new array and
 * average it. Slow and allocating, which is the point: it shares no code with the fast version.
 */
function naiveClusterCi(rows: Rows, entities: number, resamples: number, seed: number): [number, number] {
  const rand = mulberry32(seed);
  const byEntity = Array.from({ length: entities }, (_, e) => rows.filter((r) => r.entity === e).map((r) => r.value));
  const stats: number[] = [];
  for (let b = 0; b < resamples; b++) {
    const drawn: number[] = [];
    for (let i = 0; i < entities; i++) drawn.push(...byEntity[Math.floor(rand() * entities)]);
    stats.push(drawn.reduce((a, v) => a + v, 0) / drawn.length);
  }
  stats.sort((a, b) => a - b);
  return [type7(stats, 0.025), type7(stats, 0.975)];
}

// 6 respondents with 1 to 3 answered items each; values are normalized errors.
const fixed: Rows = [
  { entity: 0, value: 0 }, { entity: 0, value: 0.25 },
  { entity: 1, value: 1 },
  { entity: 2, value: 0.5 }, { entity: 2, value: 0.5 }, { entity: 2, value: 0.75 },
  { entity: 3, value: 0 },
  { entity: 4, value: 0.25 }, { entity: 4, value: 0 },
  { entity: 5, value: 1 }, { entity: 5, value: 0.75 },
];

describe('cluster bootstrap', () => {
  it('given a small fixed dataset, when its 95% interval is computed, then it equals the naive second implementation', () => {
    const options = { resamples: 500, seed: 11 };
    const [ci] = ratioIntervals([sumsOf(fixed, 6)], options);
    const [low, high] = naiveClusterCi(fixed, 6, 500, 11);
    expect(ci).not.toBeNull();
    expect(ci!.low).toBeCloseTo(low, 12);
    expect(ci!.high).toBeCloseTo(high, 12);
    expect(ci!.resamples).toBe(500);
    // The point estimate (5/11) lies inside, the interval is not degenerate.
    expect(ci!.low).toBeLessThan(5 / 11);
    expect(ci!.high).toBeGreaterThan(5 / 11);
  });

  it('given the same seed twice, then the interval is identical; another seed gives another interval', () => {
    const a = ratioIntervals([sumsOf(fixed, 6)], { resamples: 300, seed: 1 });
    expect(ratioIntervals([sumsOf(fixed, 6)], { resamples: 300, seed: 1 })).toEqual(a);
    expect(ratioIntervals([sumsOf(fixed, 6)], { resamples: 300, seed: 2 })).not.toEqual(a);
  });

  it('given type-7 percentiles of 0..100, then the 2.5% and 97.5% points are 2.5 and 97.5', () => {
    const values = Float64Array.from({ length: 101 }, (_, i) => 100 - i);
    const ci = percentileInterval(values)!;
    expect(ci.low).toBeCloseTo(2.5, 12);
    expect(ci.high).toBeCloseTo(97.5, 12);
    expect(ci.resamples).toBe(101);
    expect(percentileInterval(new Float64Array([Number.NaN]))).toBeNull();
  });
});

describe('paired and unpaired differences', () => {
  it('given a run compared with itself, then the difference is exactly 0 with a degenerate interval and p = 1', () => {
    const s = sumsOf(fixed, 6);
    const d = pairedDifference(s, s, { resamples: 400, seed: 3 });
    expect(d.delta).toBe(0);
    expect(d.ci).toEqual({ low: 0, high: 0, level: 0.95, resamples: 400 });
    expect(d.p).toBe(1);
  });

  it('given strongly correlated errors (shared entity difficulty), then the paired interval is narrower than the unpaired one', () => {
    const rand = mulberry32(5);
    const entities = 200;
    const baseline: Rows = [];
    const candidate: Rows = [];
    for (let e = 0; e < entities; e++) {
      const difficulty = rand(); // large spread between respondents
      for (let k = 0; k < 4; k++) {
        baseline.push({ entity: e, value: difficulty + 0.05 * rand() });
        candidate.push({ entity: e, value: difficulty + 0.05 * rand() - 0.02 });
      }
    }
    const a = sumsOf(baseline, entities);
    const b = sumsOf(candidate, entities);
    const paired = pairedDifference(a, b, { resamples: 1000, seed: 9 });
    const unpaired = unpairedDifference(a, b, { resamples: 1000, seed: 9 });
    expect(paired.delta).toBeCloseTo(unpaired.delta, 12);
    const width = (d: typeof paired) => d.ci!.high - d.ci!.low;
    expect(width(paired) * 5).toBeLessThan(width(unpaired));
    // The 0.02 improvement is clear when paired, lost in between-respondent noise when not.
    expect(paired.ci!.high).toBeLessThan(0);
    expect(paired.p).toBeLessThan(0.01);
    expect(unpaired.p).toBeGreaterThan(0.05);
  });

  it('given runs over different numbers of entities, then a paired difference is refused', () => {
    expect(() => pairedDifference(emptySums(3), emptySums(4))).toThrow(/same entities/);
  });
});

describe('bootstrapPValue', () => {
  it('given draws -1, 0, 1, 2, 3, then p = 2 * (2 + 1) / (5 + 1) capped at 1', () => {
    expect(bootstrapPValue(Float64Array.from([-1, 0, 1, 2, 3]))).toBe(1);
  });
  it('given 9 draws above 0 and none at or below, then p = 2 * (0 + 1) / (9 + 1) = 0.2', () => {
    expect(bootstrapPValue(Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]))).toBeCloseTo(0.2, 15);
  });
});

describe('holmAdjust', () => {
  it('given p = 0.01, 0.04, 0.03, 0.005, then by hand 0.03, 0.06, 0.06, 0.02 (step-down, monotone)', () => {
    const adjusted = holmAdjust([0.01, 0.04, 0.03, 0.005]);
    [0.03, 0.06, 0.06, 0.02].forEach((v, i) => expect(adjusted[i]).toBeCloseTo(v, 15));
  });
  it('given large p-values, then adjusted values are capped at 1; one p-value is left as is', () => {
    expect(holmAdjust([0.5, 0.6])).toEqual([1, 1]);
    expect(holmAdjust([0.2])).toEqual([0.2]);
    expect(holmAdjust([])).toEqual([]);
  });
});
