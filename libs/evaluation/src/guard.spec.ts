import { assertAllFinite } from './guard';

describe('assertAllFinite', () => {
  it('given finite numbers and nulls, then it passes', () => {
    expect(() => assertAllFinite({ a: 1, b: [null, { c: -2.5 }], d: 'NaN' }, 'x')).not.toThrow();
  });

  it('given a NaN deep inside, then it throws naming the path', () => {
    expect(() => assertAllFinite({ a: [{ b: 1 }, { b: NaN }] }, 'x')).toThrow('non-finite number NaN at x.a[1].b');
  });

  it('given Infinity, then it throws', () => {
    expect(() => assertAllFinite([Infinity], 'y')).toThrow('non-finite number Infinity at y[0]');
  });
});
