import type { PreparedExperiment } from '@assay/experiments';
import { PlanCache, type CachedPlan } from './plan-cache';

const entry = (name: string): CachedPlan => ({ prepared: { config: { name } } as unknown as PreparedExperiment, plan: { batches: [] } });

describe('PlanCache', () => {
  it('given a plan put for an identity and attempt, when taken, then it is returned once', () => {
    const cache = new PlanCache();
    const a = entry('a');
    cache.put('id', 1, a);
    expect(cache.take('id', 2)).toBeUndefined();
    expect(cache.take('id', 1)).toBe(a);
    expect(cache.take('id', 1)).toBeUndefined();
  });

  it('given more plans than its capacity, when put, then the oldest is dropped', () => {
    const cache = new PlanCache(2);
    cache.put('x', 1, entry('x'));
    cache.put('y', 1, entry('y'));
    cache.put('x', 1, entry('x again'));
    cache.put('z', 1, entry('z'));
    expect(cache.take('y', 1)).toBeUndefined();
    expect(cache.take('x', 1)?.prepared.config.name).toBe('x again');
    expect(cache.take('z', 1)?.prepared.config.name).toBe('z');
  });

  it('given a bad capacity, when made, then it is refused by name', () => {
    expect(() => new PlanCache(0)).toThrow('PlanCache capacity must be a positive integer, got 0');
  });
});
