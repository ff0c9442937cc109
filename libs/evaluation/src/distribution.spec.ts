import { mulberry32 } from '@assay/data';
import { meanOverItems, normalizedWasserstein, varianceRatio, wasserstein1 } from './distribution';

describe('wasserstein1', () => {
  it('given predicted 1,1,2 and actual 1,3,3 on a 1-5 scale, then by hand W1 = 1/3 + 2/3 = 1, normalised 0.25', () => {
    // CDFs: on [1,2) 2/3 vs 1/3, on [2,3) 1 vs 1/3, equal from 3 on.
    expect(wasserstein1([1, 1, 2], [1, 3, 3])).toBeCloseTo(1, 15);
    expect(normalizedWasserstein([1, 1, 2], [1, 3, 3], { min: 1, max: 5 })).toEqual({ value: 0.25, n: 3 });
  });

  it('given samples of different sizes, then the mass of each value is 1/n of its own sample', () => {
    expect(wasserstein1([0], [0, 1])).toBeCloseTo(0.5, 15);
    expect(wasserstein1([2, 2], [2])).toBe(0);
  });

  it('given random equal-size samples, then W1 equals the mean distance of sorted values (second implementation)', () => {
    const rand = mulberry32(17);
    for (let trial = 0; trial < 20; trial++) {
      const a = Array.from({ length: 30 }, () => Math.floor(rand() * 5) + 1);
      const b = Array.from({ length: 30 }, () => rand() * 10);
      const sa = [...a].sort((x, y) => x - y);
      const sb = [...b].sort((x, y) => x - y);
      const byQuantiles = sa.reduce((s, v, i) => s + Math.abs(v - sb[i]), 0) / sa.length;
      expect(wasserstein1(a, b)).toBeCloseTo(byQuantiles, 10);
    }
  });
});

describe('varianceRatio', () => {
  it('given predictions that barely vary, then the ratio is small and flagged under-dispersed', () => {
    // population variances: predicted 0.25, actual 4
    const m = varianceRatio([3, 4, 3, 4], [1, 5, 1, 5]);
    expect(m.value).toBeCloseTo(0.0625, 15);
    expect(m.note).toMatch(/under-dispersed/);
  });
  it('given constant actual answers, then the ratio is undefined with the reason', () => {
    expect(varianceRatio([1, 2], [3, 3])).toEqual({ value: null, n: 2, note: 'actual answers do not vary: variance ratio undefined' });
  });
  it('given constant predictions over varying answers, then the ratio is exactly 0', () => {
    expect(varianceRatio([2, 2, 2], [1, 2, 3]).value).toBe(0);
  });
  it('given the same spread, then the ratio is 1 and not flagged', () => {
    expect(varianceRatio([1, 2, 3], [3, 2, 1])).toEqual({ value: 1, n: 3 });
  });
});

describe('meanOverItems', () => {
  it('given one undefined item of three, then the mean is over the two defined and says so', () => {
    expect(meanOverItems([{ value: 0.2, n: 5 }, { value: null, n: 5, note: 'x' }, { value: 0.4, n: 5 }])).toEqual({ value: 0.30000000000000004, n: 2, note: 'mean over 2 of 3 items (undefined for 1)' });
  });
});
