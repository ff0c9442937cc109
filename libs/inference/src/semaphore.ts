/**
 * Bounds how many model calls a worker has in flight, across all the batches it runs. Waiters
 * start in arrival order, except that `runFirst` work goes ahead of every waiting `run` call.
 */
export class Semaphore {
  private readonly waiting: Array<() => void> = [];
  private readonly firstWaiting: Array<() => void> = [];
  private available: number;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`semaphore size must be a positive integer, got ${size}`);
    this.available = size;
  }

  /** Calls in flight now. */
  get inFlight(): number {
    return this.size - this.available;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.available > 0) this.available--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    return this.holding(work);
  }

  /** Like run, but takes the next free slot ahead of every waiting `run` call. */
  async runFirst<T>(work: () => Promise<T>): Promise<T> {
    if (this.available > 0) this.available--;
    else await new Promise<void>((resolve) => this.firstWaiting.push(resolve));
    return this.holding(work);
  }

  private async holding<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } finally {
      const next = this.firstWaiting.shift() ?? this.waiting.shift();
      if (next) next();
      else this.available++;
    }
  }
}
