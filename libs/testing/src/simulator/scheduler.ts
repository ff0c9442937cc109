/**
 * How long requests take, and how many run at once. Deliberately simple and deterministic: each
 * running request sleeps prefill then decode; at most `maxNumSeqs` run; the rest wait FIFO
 * (vLLM's `--max-num-seqs` and its waiting queue). Real continuous batching shares GPU time between
 * running sequences; here each slot is independent, which keeps timings predictable in tests while
 * preserving what matters: uncached prefill costs time, and shared prefixes only help requests
 * scheduled after the first one's prefill has finished.
 */

export interface LatencyModel {
  prefillMsPerToken: number;
  decodeMsPerToken: number;
  maxNumSeqs: number;
}

export const ZERO_LATENCY: LatencyModel = { prefillMsPerToken: 0, decodeMsPerToken: 0, maxNumSeqs: Number.POSITIVE_INFINITY };

/**
 * Tuned for the reference workload, 589 entities x 72 items = 42,408 prompts of ~3,000 tokens with
 * 1-3 token answers (+ EOS), at 64 concurrent requests:
 * - prefix-cached (~20-30 new tokens per prompt): ~0.11-0.2 s per request -> 42,408 x 0.15 s / 64
 *   ≈ 1.7 min, plus 589 warm-up prefills of ~1.5 s spread over the slots: "a couple of minutes";
 * - uncached (3,000 tokens each): ~1.6 s per request -> ≈ 18 min: the order of gap prefix
 *   caching is known to make on such a workload.
 * Per-token costs are those of a batch-loaded GPU, not of a lone sequence.
 */
export const GPU_LIKE_LATENCY: LatencyModel = { prefillMsPerToken: 0.5, decodeMsPerToken: 50, maxNumSeqs: 64 };

export function validateLatency(latency: LatencyModel): LatencyModel {
  const { prefillMsPerToken, decodeMsPerToken, maxNumSeqs } = latency;
  if (!(prefillMsPerToken >= 0) || !Number.isFinite(prefillMsPerToken)) throw new Error(`latency.prefillMsPerToken must be a finite number >= 0, got ${prefillMsPerToken}`);
  if (!(decodeMsPerToken >= 0) || !Number.isFinite(decodeMsPerToken)) throw new Error(`latency.decodeMsPerToken must be a finite number >= 0, got ${decodeMsPerToken}`);
  if (!(maxNumSeqs >= 1) || (Number.isFinite(maxNumSeqs) && !Number.isInteger(maxNumSeqs))) {
    throw new Error(`latency.maxNumSeqs must be an integer >= 1 (or Infinity), got ${maxNumSeqs}`);
  }
  return latency;
}

/** One request's passage through the engine; the scheduler calls the hooks in order. */
export interface Job {
  model: string;
  /** Called when the job gets a slot; returns how many prompt tokens must be prefilled. */
  onSchedule(): { uncachedTokens: number; completionTokens: number };
  /** Prefill done: the prompt's blocks can enter the prefix cache. */
  onPrefilled(): void;
  /** Decode done: answer the client. */
  onFinished(): void;
}

export interface JobHandle {
  /** The client went away: leave the queue, or free the slot (vLLM aborts such requests). */
  abort(): void;
}

interface Entry {
  job: Job;
  state: 'waiting' | 'running' | 'done';
  timer?: NodeJS.Timeout;
}

export interface SchedulerObserver {
  /** Called whenever a request enters or leaves the queue or a slot. */
  onChange(running: number, waiting: number): void;
}

export class Scheduler {
  private readonly queue: Entry[] = [];
  private head = 0;
  private runningCount = 0;
  private waitingCount = 0;
  private readonly perModel = new Map<string, { running: number; waiting: number }>();
  private readonly active = new Set<Entry>();

  constructor(
    private readonly latency: LatencyModel,
    private readonly observer: SchedulerObserver,
  ) {
    validateLatency(latency);
  }

  get running(): number {
    return this.runningCount;
  }

  get waiting(): number {
    return this.waitingCount;
  }

  countsFor(model: string): { running: number; waiting: number } {
    return this.perModel.get(model) ?? { running: 0, waiting: 0 };
  }

  submit(job: Job): JobHandle {
    const entry: Entry = { job, state: 'waiting' };
    if (this.runningCount < this.latency.maxNumSeqs) {
      this.start(entry);
    } else {
      this.queue.push(entry);
      this.waitingCount++;
      this.model(job.model).waiting++;
      this.observer.onChange(this.runningCount, this.waitingCount);
    }
    return { abort: () => this.abort(entry) };
  }

  /** Stops every timer without answering (the server is closing and destroys the sockets). */
  shutdown(): void {
    for (const entry of this.active) {
      if (entry.timer) clearTimeout(entry.timer);
      entry.state = 'done';
    }
    this.active.clear();
    this.queue.length = 0;
    this.head = 0;
  }

  private model(model: string): { running: number; waiting: number } {
    let counts = this.perModel.get(model);
    if (!counts) {
      counts = { running: 0, waiting: 0 };
      this.perModel.set(model, counts);
    }
    return counts;
  }

  private start(entry: Entry): void {
    entry.state = 'running';
    this.runningCount++;
    this.model(entry.job.model).running++;
    this.active.add(entry);
    this.observer.onChange(this.runningCount, this.waitingCount);
    const { uncachedTokens, completionTokens } = entry.job.onSchedule();
    const prefillMs = uncachedTokens * this.latency.prefillMsPerToken;
    const decodeMs = completionTokens * this.latency.decodeMsPerToken;
    const finish = (): void => {
      this.release(entry);
      entry.job.onFinished();
    };
    const decode = (): void => {
      entry.job.onPrefilled();
      if (decodeMs > 0) entry.timer = setTimeout(finish, decodeMs);
      else finish();
    };
    // Zero-latency requests complete synchronously, so tests with ZERO_LATENCY are deterministic.
    if (prefillMs > 0) entry.timer = setTimeout(decode, prefillMs);
    else decode();
  }

  private release(entry: Entry): void {
    if (entry.state !== 'running') return;
    entry.state = 'done';
    this.active.delete(entry);
    this.runningCount--;
    this.model(entry.job.model).running--;
    this.observer.onChange(this.runningCount, this.waitingCount);
    this.startNext();
  }

  private startNext(): void {
    while (this.runningCount < this.latency.maxNumSeqs && this.head < this.queue.length) {
      const entry = this.queue[this.head++];
      if (entry.state !== 'waiting') continue;
      this.waitingCount--;
      this.model(entry.job.model).waiting--;
      this.start(entry);
    }
    // Drop the consumed front now and then, so a long run does not keep every request alive.
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }

  private abort(entry: Entry): void {
    if (entry.state === 'waiting') {
      entry.state = 'done';
      this.waitingCount--;
      this.model(entry.job.model).waiting--;
      this.observer.onChange(this.runningCount, this.waitingCount);
    } else if (entry.state === 'running') {
      if (entry.timer) clearTimeout(entry.timer);
      this.release(entry);
    }
  }
}
