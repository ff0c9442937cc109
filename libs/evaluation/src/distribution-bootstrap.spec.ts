import { mulberry32 } from '@assay/data';
import { sampleCorrelation } from 'simple-statistics';
import { distributionIntervals, type ItemValues } from './distribution-bootstrap';
import { varianceRatio, wasserstein1 } from './distribution';

/** numpy/R type-7 quantile, written out independently. */
function type7(sorted: number[], p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  return lo + 1 < sorted.length ? sorted[lo] + (h - lo) * (sorted[lo + 1] - sorted[lo]) : sorted[lo];
}

/** The textbook version: copy every row of every drawn entity, then score each item with the plain metric functions. */
function naive(items: ItemValues[], entities: number, resamples: number, seed: number) {
  const rand = mulberry32(seed);
  const stats = { w1: [] as number[], ratio: [] as number[], corr: [] as number[] };
  for (let b = 0; b < resamples; b++) {
    const drawn: number[] = [];
    for (let i = 0; i < entities; i++) drawn.push(Math.floor(rand() * entities));
    const w1: number[] = [];
    const ratio: number[] = [];
    const corr: number[] = [];
    for (const it of items) {
      const x: number[] = [];
      const y: number[] = [];
      for (const e of drawn) it.entities.forEach((ent, k) => ent === e && (x.push(it.predicted[k]), y.push(it.actual[k])));
      if (x.length === 0) continue;
      w1.push(wasserstein1(x, y) / it.range);
      const r = varianceRatio(x, y).value;
      if (r !== null) ratio.push(r);
      if (r !== null && r > 0) corr.push(sampleCorrelation(x, y));
    }
    const mean = (v: number[]) => (v.length === 0 ? Number.NaN : v.reduce((a, c) => a + c, 0) / v.length);
    stats.w1.push(mean(w1));
    stats.ratio.push(mean(ratio));
    stats.corr.push(mean(corr));
  }
  const ci = (v: number[]) => {
    const s = v.filter((x) => !Number.isNaN(x)).sort((a, c) => a - c);
    return [type7(s, 0.025), type7(s, 0.975)];
  };
  return { w1: ci(stats.w1), ratio: ci(stats.ratio), corr: ci(stats.corr) };
}

describe('distributionIntervals', () => {
  it('given a small fixed dataset, when resampled, then the intervals equal the naive copy-the-rows implementation', () => {
    const rand = mulberry32(8);
    const entities = 12;
    const items: ItemValues[] = [5, 5, 1].map((max) => {
      const ids = Array.from({ length: entities }, (_, e) => e).filter(() => rand() < 0.9);
      const actual = ids.map(() => Math.floor(rand() * max) + (max === 1 ? 0 : 1));
      return { entities: ids, actual, predicted: actual.map((a) => (rand() < 0.5 ? a : Math.min(max, a + 1))), range: max === 1 ? 1 : max - 1 };
    });
    const fast = distributionIntervals(items, entities, { resamples: 200, seed: 5 });
    const slow = naive(items, entities, 200, 5);
    expect(fast.wasserstein!.low).toBeCloseTo(slow.w1[0], 10);
    expect(fast.wasserstein!.high).toBeCloseTo(slow.w1[1], 10);
    expect(fast.variance_ratio!.low).toBeCloseTo(slow.ratio[0], 8);
    expect(fast.variance_ratio!.high).toBeCloseTo(slow.ratio[1], 8);
    expect(fast.respondent_correlation!.low).toBeCloseTo(slow.corr[0], 8);
    expect(fast.respondent_correlation!.high).toBeCloseTo(slow.corr[1], 8);
  });

  it('given fractional predictions, on an item with few value pairs and one with hundreds, then the intervals equal the naive implementation', () => {
    const rand = mulberry32(21);
    const entities = 300;
    const ids = Array.from({ length: entities }, (_, e) => e).filter(() => rand() < 0.9);
    const actual = ids.map(() => 1 + Math.floor(rand() * 5));
    const items: ItemValues[] = [
      // Means of five answers (multiples of 0.2, as kNN gives): at most 21 x 5 pairs, counted by pair.
      { entities: ids, actual, predicted: actual.map((a) => Math.min(5, Math.max(1, a + (Math.floor(rand() * 11) - 5) / 5))), range: 4 },
      // Continuous predictions: a pair per row, more than are counted by pair.
      { entities: ids, actual, predicted: actual.map((a) => a + rand() - 0.5), range: 4 },
    ];
    const fast = distributionIntervals(items, entities, { resamples: 100, seed: 9 });
    const slow = naive(items, entities, 100, 9);
    expect([fast.wasserstein!.low, fast.wasserstein!.high]).toEqual([expect.closeTo(slow.w1[0], 10), expect.closeTo(slow.w1[1], 10)]);
    expect([fast.variance_ratio!.low, fast.variance_ratio!.high]).toEqual([expect.closeTo(slow.ratio[0], 8), expect.closeTo(slow.ratio[1], 8)]);
    expect([fast.respondent_correlation!.low, fast.respondent_correlation!.high]).toEqual([expect.closeTo(slow.corr[0], 8), expect.closeTo(slow.corr[1], 8)]);
  });

  it('given predictions equal to the answers, then Wasserstein is 0 and variance ratio and correlation 1 in every resample', () => {
    const items: ItemValues[] = [{ entities: [0, 1, 2, 3], predicted: [1, 2, 3, 5], actual: [1, 2, 3, 5], range: 4 }];
    const ci = distributionIntervals(items, 4, { resamples: 100, seed: 1 });
    expect(ci.wasserstein).toMatchObject({ low: 0, high: 0 });
    expect(ci.variance_ratio!.low).toBeCloseTo(1, 12);
    expect(ci.variance_ratio!.high).toBeCloseTo(1, 12);
    expect(ci.respondent_correlation!.high).toBeCloseTo(1, 12);
  });
});
