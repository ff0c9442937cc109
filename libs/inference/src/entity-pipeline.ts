import { Semaphore } from './semaphore';

/**
 * How one worker schedules the entities (batches) it holds against one model server.
 *
 * An entity's warm-up prompt prefills its whole prefix (seconds on a GPU); its other prompts,
 * sent once that prefix is cached, take a fraction of that. Throughput needs the next entities'
 * warm-ups overlapping the current entities' fan-out; the prefix cache needs few entities between
 * "warmed" and "done", or a finite cache evicts prefixes before their prompts reuse them.
 *
 * - A warm-up takes the next free model slot, ahead of waiting fan-out prompts: the next
 *   entities warm while the current ones fan out (were warm-ups to wait for the fan-out queue to
 *   drain, the server would alternate between a warming phase and a fan-out phase).
 * - Fan-out prompts take slots in arrival order (entity after entity).
 * - At most `limit` entities are between admission and fan-out (warming, or warm with prompts
 *   still waiting for a slot), so the worker's footprint in the cache stays bounded however many
 *   messages it holds. Several workers share one server and its cache, and none knows the cache's
 *   size, so the limit adapts to what the server reports (usage.cached_tokens): it starts at 1
 *   and doubles with each entity served from the cache until the first eviction (slow start),
 *   then an entity whose prompts found their prefix evicted halves it and one served from the
 *   cache raises it by one, up to `maxAhead`: TCP's congestion control, for the same reason (a
 *   shared resource nobody can see).
 */
export class EntityPipeline {
  /** Model calls in flight: the configured concurrency. */
  readonly slots: Semaphore;
  readonly maxAhead: number;
  private aheadLimit: number;
  private slowStart = true;
  private ahead = 0;
  private readonly admissions: Array<() => void> = [];

  /**
   * `maxAhead` defaults to one entity per 8 slots: at the reference workload (~2,900-token
   * prefix, ~70 prompts of a few cached tokens each) a warm-up holds a slot about as long as ~10
   * fan-out prompts, so about 1 slot in 8 is warming when the server is kept busy. One per 4
   * slots let a lone worker reach 96% of the server's ceiling, but 4 workers sharing the server
   * then thrashed its cache faster than the adaptation could back off (bench, full size).
   */
  constructor(readonly concurrency: number, opts: { maxAhead?: number; startAhead?: number } = {}) {
    this.slots = new Semaphore(concurrency);
    const maxAhead = opts.maxAhead ?? Math.max(1, Math.ceil(concurrency / 8));
    if (!Number.isInteger(maxAhead) || maxAhead < 1) throw new Error(`entity pipeline maxAhead must be a positive integer, got ${maxAhead}`);
    // A cold start with every worker at its maximum is when a shared cache thrashes: start small.
    const startAhead = opts.startAhead ?? 1;
    if (!Number.isInteger(startAhead) || startAhead < 1 || startAhead > maxAhead) {
      throw new Error(`entity pipeline startAhead must be an integer from 1 to maxAhead (${maxAhead}), got ${startAhead}`);
    }
    this.maxAhead = maxAhead;
    this.aheadLimit = startAhead;
  }

  /** Entities admitted with prompts that have not had a slot yet. */
  get entitiesAhead(): number {
    return this.ahead;
  }

  /** How many entities may be ahead now (1..maxAhead). */
  get limit(): number {
    return this.aheadLimit;
  }

  /** Waits for the entity's turn to warm up; call the returned function once its last prompt has a slot. */
  async admit(): Promise<() => void> {
    if (this.ahead < this.aheadLimit) this.ahead++;
    else await new Promise<void>((resolve) => this.admissions.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.ahead--;
      this.admitWaiting();
    };
  }

  /** What the server said about an entity's fan-out: did its prompts find their prefix cached? */
  recordCacheOutcome(prefixEvicted: boolean): void {
    if (prefixEvicted) {
      this.slowStart = false;
      this.aheadLimit = Math.max(1, Math.floor(this.aheadLimit / 2));
    } else {
      this.aheadLimit = Math.min(this.maxAhead, this.slowStart ? this.aheadLimit * 2 : this.aheadLimit + 1);
    }
    this.admitWaiting();
  }

  private admitWaiting(): void {
    while (this.ahead < this.aheadLimit && this.admissions.length > 0) {
      this.ahead++;
      this.admissions.shift()!();
    }
  }

  /** A warm-up prompt: the next free slot, ahead of waiting fan-out prompts (admission bounds how many). */
  warmUp<T>(work: () => Promise<T>): Promise<T> {
    return this.slots.runFirst(work);
  }

  /** A prompt whose prefix is (being) cached. */
  fanOut<T>(work: () => Promise<T>): Promise<T> {
    return this.slots.run(work);
  }
}
