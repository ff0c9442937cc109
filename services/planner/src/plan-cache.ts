import type { PreparedExperiment } from '@assay/experiments';
import type { HeldPlan } from './plan-writer';

export interface CachedPlan {
  prepared: PreparedExperiment;
  plan: HeldPlan;
}

/**
 * Plans made when a run started, kept until its smoke result comes back, so the full run is
 * published from the very plan the pre-flight checked without loading and planning the data
 * again. Only an optimisation: the result may reach another planner process (or this one after a
 * restart), which then plans afresh. Bounded, so runs whose smoke result never comes back do
 * not accumulate (a plan is held as its outline, made again page by page, plus its dataset).
 */
export class PlanCache {
  private readonly entries = new Map<string, CachedPlan>();

  constructor(private readonly capacity = 2) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`PlanCache capacity must be a positive integer, got ${capacity}`);
  }

  put(identity: string, attempt: number, entry: CachedPlan): void {
    const key = JSON.stringify([identity, attempt]);
    this.entries.delete(key);
    this.entries.set(key, entry);
    // Maps iterate in insertion order: the first key is the oldest.
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
  }

  /** The entry, removed: a plan is reused at most once. */
  take(identity: string, attempt: number): CachedPlan | undefined {
    const key = JSON.stringify([identity, attempt]);
    const entry = this.entries.get(key);
    this.entries.delete(key);
    return entry;
  }
}
