/**
 * Runs tasks one at a time per key (e.g. one replay per identity at once, since each replay swaps
 * the same run directory), while tasks for different keys run concurrently. A failing task does
 * not block the ones queued after it. Entries are removed once their queue drains.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Keys with a running or queued task. */
  get size(): number {
    return this.tails.size;
  }
}
