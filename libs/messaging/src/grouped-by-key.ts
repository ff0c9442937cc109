/**
 * Hands items that wait on the same key (e.g. messages for one event stream, whose writers take
 * turns on its lock) to `run` in groups, so one turn serves many: the first item of a key runs at
 * once, alone; what arrives for the key while a group runs waits and goes into the next group, at
 * most `max` at a time (so one turn stays short). Each item's promise settles with its own result
 * once its group has run.
 *
 * A group that fails is run again one item at a time: one item's failure fails only that item,
 * never the items that happened to share its group.
 */
export class GroupedByKey<T, R> {
  private readonly waiting = new Map<string, Array<{ item: T; resolve: (result: R) => void; reject: (error: unknown) => void }>>();

  constructor(
    private readonly max: number,
    private readonly run: (key: string, items: T[]) => Promise<R[]>,
  ) {
    if (!Number.isInteger(max) || max < 1) throw new Error(`a group holds at least 1 item, got max ${max}`);
  }

  submit(key: string, item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const queue = this.waiting.get(key);
      if (queue) {
        queue.push({ item, resolve, reject });
        return;
      }
      this.waiting.set(key, [{ item, resolve, reject }]);
      void this.drain(key);
    });
  }

  /** Runs the key's groups one after another until none waits; a key is in `waiting` while it drains. */
  private async drain(key: string): Promise<void> {
    const queue = this.waiting.get(key)!;
    while (queue.length > 0) {
      const group = queue.splice(0, this.max);
      try {
        const results = await this.runChecked(key, group.map((g) => g.item));
        group.forEach((g, i) => g.resolve(results[i]));
      } catch (error) {
        if (group.length === 1) {
          group[0].reject(error);
          continue;
        }
        for (const g of group) {
          try {
            g.resolve((await this.runChecked(key, [g.item]))[0]);
          } catch (alone) {
            g.reject(alone);
          }
        }
      }
    }
    this.waiting.delete(key);
  }

  private async runChecked(key: string, items: T[]): Promise<R[]> {
    const results = await this.run(key, items);
    if (results.length !== items.length) throw new Error(`a group of ${items.length} items for '${key}' returned ${results.length} results`);
    return results;
  }
}
