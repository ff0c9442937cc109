import { Semaphore } from './semaphore';

/**
 * How one worker schedules the entities (batches) it holds against one model server.
 *
 * An entity's warm-up prompt prefills its whole prefix (seconds on a GPU); its other prompts,
 * sent once that prefix is cached, take a fraction of that. Throughput needs the next entities'
 * warm-ups overlapping the current entities' fan-out; the prefix cache needs few entities between
 * "warmed" and "done", or a finite cache evicts prefixes before their prompts reuse them.
 *
 * - Fan-out prompts take model slots first, in arrival order (entity after entity).
 * - A warm-up takes a slot only when no fan-out prompt is waiting: it fills capacity the warm
 *   entities leave idle, and never delays prompts whose prefix is already cached.
 * - At most `maxAhead` entities are between admission and fan-out (warming, or warm and waiting
 *   to queue their prompts), so the worker's footprint in the cache stays bounded however many
 *   messages it holds.
 */
export class EntityPipeline {
  /** Model calls in flight: the configured concurrency. */
  readonly slots: Semaphore;
  readonly maxAhead: number;
  private ahead = 0;
  private readonly admissions: Array<() => void> = [];

  /**
   * `maxAhead` defaults to one entity per 8 slots: at the reference workload (~2,900-token
   * prefix, ~70 prompts of a few cached tokens each) a warm-up holds a slot about as long as ~10
   * fan-out prompts, so about 1 slot in 8 is warming when the server is kept busy.
   */
  constructor(
    readonly concurrency: number,
    maxAhead: number = Math.max(1, Math.ceil(concurrency / 8)),
  ) {
    this.slots = new Semaphore(concurrency);
    if (!Number.isInteger(maxAhead) || maxAhead < 1) throw new Error(`entity pipeline maxAhead must be a positive integer, got ${maxAhead}`);
    this.maxAhead = maxAhead;
  }

  /** Entities admitted whose fan-out has not been queued yet. */
  get entitiesAhead(): number {
    return this.ahead;
  }

  /** Waits for the entity's turn to warm up; call the returned function once its fan-out is queued. */
  async admit(): Promise<() => void> {
    if (this.ahead < this.maxAhead) this.ahead++;
    else await new Promise<void>((resolve) => this.admissions.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.admissions.shift();
      if (next) next();
      else this.ahead--;
    };
  }

  /** A warm-up prompt: yields the slot to any waiting fan-out prompt. */
  warmUp<T>(work: () => Promise<T>): Promise<T> {
    return this.slots.runWhenIdle(work);
  }

  /** A prompt whose prefix is (being) cached. */
  fanOut<T>(work: () => Promise<T>): Promise<T> {
    return this.slots.run(work);
  }
}
