import { progressSubject, type ProgressUpdate } from '@assay/contracts';
import type { JetStreamPublisher } from './publisher';

type Key = Pick<ProgressUpdate, 'identity' | 'attempt' | 'phase'>;
type Counts = Pick<ProgressUpdate, 'promptsDone' | 'retries' | 'inferenceFailures' | 'parseFailures'>;

/**
 * Live progress (a long run must show within minutes that it moves, and how fast): counts are
 * accumulated and flushed as deltas on core NATS a few times a second, so 42K prompts do not mean
 * 42K messages, and a quiet second still shows.
 */
export class ProgressReporter {
  private pending = new Map<string, { key: Key; counts: Counts; message?: string }>();
  private timer: NodeJS.Timeout;

  constructor(
    private readonly publisher: JetStreamPublisher,
    private readonly source: string,
    intervalMs = 250,
  ) {
    this.timer = setInterval(() => this.flush(), intervalMs);
    this.timer.unref();
  }

  add(key: Key, delta: Partial<Counts>): void {
    const id = JSON.stringify([key.identity, key.attempt, key.phase]);
    const entry = this.pending.get(id) ?? { key, counts: { promptsDone: 0, retries: 0, inferenceFailures: 0, parseFailures: 0 } };
    for (const [k, v] of Object.entries(delta) as Array<[keyof Counts, number]>) entry.counts[k] += v;
    this.pending.set(id, entry);
  }

  /** A line for the people following the run (e.g. the model server stopped answering), sent with the next flush. */
  say(key: Key, message: string): void {
    this.add(key, {});
    const entry = this.pending.get(JSON.stringify([key.identity, key.attempt, key.phase]))!;
    entry.message = entry.message ? `${entry.message}; ${message}` : message;
  }

  flush(): void {
    const batch = this.pending;
    this.pending = new Map();
    for (const { key, counts, message } of batch.values()) {
      const update: ProgressUpdate = { ...key, ...counts, source: this.source, ...(message === undefined ? {} : { message }) };
      this.publisher.publishCore(progressSubject(key.identity), update);
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}
