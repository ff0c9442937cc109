import { Semaphore } from './semaphore';
import type { ServerQueue } from './server-queue';

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
 * - Up to `freeAhead` entities (one per 8 slots) are ahead whatever the server does; beyond that,
 *   up to the limit, only while the server's queue is empty (`serverQueue`, vLLM's
 *   num_requests_waiting, read at most every `probeIntervalMs`). Requests waiting at the server
 *   keep its slots busy already, so more warming entities would only add prefixes competing for
 *   its cache; idle slots are what they are for. So one worker with a whole server keeps up to 16
 *   entities warming (one per 8 slots left it at 80% of the server's ceiling), while four
 *   workers sharing it (their calls queue at the server) keep 8 each (with the queue check alone,
 *   1 each, they reached 76%: warm-ups queued behind fan-out prompts; bench, full size).
 */
export class EntityPipeline {
  /** Model calls in flight: the configured concurrency. */
  readonly slots: Semaphore;
  readonly maxAhead: number;
  private aheadLimit: number;
  private slowStart = true;
  private ahead = 0;
  private readonly admissions: Array<() => void> = [];

  private readonly serverQueue: ServerQueue | null;
  private readonly freeAhead: number;
  private readonly probeIntervalMs: number;
  /** The last reading of the server's queue: were requests waiting, and when was it read. */
  private serverQueued = false;
  private queueReadAt = -Infinity;
  private probing = false;

  /**
   * `maxAhead` defaults to one entity per 4 slots. Little's law: to keep a server busy, the
   * entities warming at once must cover warm-up latency x entity throughput, ~10-16 for a 64-slot
   * server at the reference workload (~2,900-token prefix, ~70 short prompts per entity). With one
   * per 8 slots a lone worker reached 80% of the server's ceiling; without the server-queue check,
   * one per 4 slots let four workers thrash a shared cache (bench, full size).
   */
  constructor(readonly concurrency: number, opts: { maxAhead?: number; startAhead?: number; serverQueue?: ServerQueue; freeAhead?: number; probeIntervalMs?: number } = {}) {
    this.slots = new Semaphore(concurrency);
    const maxAhead = opts.maxAhead ?? Math.max(1, Math.ceil(concurrency / 4));
    if (!Number.isInteger(maxAhead) || maxAhead < 1) throw new Error(`entity pipeline maxAhead must be a positive integer, got ${maxAhead}`);
    // A cold start with every worker at its maximum is when a shared cache thrashes: start small.
    const startAhead = opts.startAhead ?? 1;
    if (!Number.isInteger(startAhead) || startAhead < 1 || startAhead > maxAhead) {
      throw new Error(`entity pipeline startAhead must be an integer from 1 to maxAhead (${maxAhead}), got ${startAhead}`);
    }
    this.maxAhead = maxAhead;
    this.aheadLimit = startAhead;
    this.serverQueue = opts.serverQueue ?? null;
    this.freeAhead = opts.freeAhead ?? Math.max(1, Math.ceil(concurrency / 8));
    if (!Number.isInteger(this.freeAhead) || this.freeAhead < 1) throw new Error(`entity pipeline freeAhead must be a positive integer, got ${this.freeAhead}`);
    this.probeIntervalMs = opts.probeIntervalMs ?? 250;
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
    if (this.admissions.length === 0 && this.mayAdmit()) this.ahead++;
    else {
      const admitted = new Promise<void>((resolve) => this.admissions.push(resolve));
      this.admitWaiting();
      await admitted;
    }
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
    while (this.admissions.length > 0 && this.mayAdmit()) {
      this.ahead++;
      this.admissions.shift()!();
    }
    // Held back by the server's queue alone: look again once the reading is due.
    if (this.admissions.length > 0 && this.ahead < this.aheadLimit && this.serverQueue) {
      this.probe(Math.max(0, this.queueReadAt + this.probeIntervalMs - performance.now()));
    }
  }

  /** Whether one more entity may be ahead now (a stale server reading says no and is refreshed). */
  private mayAdmit(): boolean {
    if (this.ahead >= this.aheadLimit) return false;
    if (this.ahead < this.freeAhead || !this.serverQueue) return true;
    if (performance.now() - this.queueReadAt > this.probeIntervalMs) return false;
    return !this.serverQueued;
  }

  private probe(delayMs: number): void {
    if (this.probing || !this.serverQueue) return;
    this.probing = true;
    const queue = this.serverQueue;
    setTimeout(() => {
      void queue
        .waiting()
        .then((waiting) => {
          // Unknown counts as empty: the worker then schedules as it would without a reading.
          this.serverQueued = waiting !== null && waiting > 0;
        })
        .finally(() => {
          this.queueReadAt = performance.now();
          this.probing = false;
          this.admitWaiting();
        });
    }, delayMs);
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
