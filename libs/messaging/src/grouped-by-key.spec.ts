import { GroupedByKey } from './grouped-by-key';

/** A run function whose groups finish only when the test says so, recording what each group held. */
function heldRuns() {
  const groups: Array<{ key: string; items: number[]; finish: () => void; fail: (error: Error) => void }> = [];
  const run = (key: string, items: number[]) =>
    new Promise<string[]>((resolve, reject) => {
      groups.push({ key, items, finish: () => resolve(items.map((i) => `${key}:${i}`)), fail: reject });
    });
  return { groups, run };
}

/** Lets the promise callbacks queued so far run (no timers). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('GroupedByKey', () => {
  it('given an idle key, when an item is submitted, then it runs at once, alone', async () => {
    const { groups, run } = heldRuns();
    const grouped = new GroupedByKey(16, run);
    const result = grouped.submit('s', 1);
    expect(groups.map((g) => g.items)).toEqual([[1]]);
    groups[0].finish();
    await expect(result).resolves.toBe('s:1');
  });

  it('given a group running, when more items arrive for its key, then they wait and run as the next group, at most max at a time, each settling with its own result', async () => {
    const { groups, run } = heldRuns();
    const grouped = new GroupedByKey(3, run);
    const results = [1, 2, 3, 4, 5, 6].map((i) => grouped.submit('s', i));
    expect(groups.map((g) => g.items)).toEqual([[1]]);
    groups[0].finish();
    await settle();
    expect(groups.map((g) => g.items)).toEqual([[1], [2, 3, 4]]);
    groups[1].finish();
    await settle();
    expect(groups.map((g) => g.items)).toEqual([[1], [2, 3, 4], [5, 6]]);
    groups[2].finish();
    await expect(Promise.all(results)).resolves.toEqual(['s:1', 's:2', 's:3', 's:4', 's:5', 's:6']);
  });

  it('given two keys, when items arrive for both, then each key runs its own groups without waiting for the other', async () => {
    const { groups, run } = heldRuns();
    const grouped = new GroupedByKey(16, run);
    const a = grouped.submit('a', 1);
    const b = grouped.submit('b', 2);
    expect(groups.map((g) => [g.key, g.items])).toEqual([['a', [1]], ['b', [2]]]);
    groups[1].finish();
    await expect(b).resolves.toBe('b:2');
    groups[0].finish();
    await expect(a).resolves.toBe('a:1');
  });

  it('given a group that fails, when it is run again one item at a time, then only the item that fails alone fails', async () => {
    const { groups, run } = heldRuns();
    const grouped = new GroupedByKey(16, run);
    const first = grouped.submit('s', 0);
    const results = [1, 2, 3].map((i) => grouped.submit('s', i).then(
      (value) => ({ value }),
      (error: Error) => ({ error: error.message }),
    ));
    groups[0].finish();
    await settle();
    groups[1].fail(new Error('one decision of the group failed'));
    for (const i of [1, 2, 3]) {
      await settle();
      const alone = groups.at(-1)!;
      expect(alone.items).toEqual([i]);
      if (i === 2) alone.fail(new Error('item 2 fails'));
      else alone.finish();
    }
    await expect(first).resolves.toBe('s:0');
    await expect(Promise.all(results)).resolves.toEqual([{ value: 's:1' }, { error: 'item 2 fails' }, { value: 's:3' }]);
  });

  it('given a run that returns fewer results than items, then every item of the group fails with an error naming the mismatch', async () => {
    const grouped = new GroupedByKey(16, async () => []);
    await expect(grouped.submit('s', 1)).rejects.toThrow("a group of 1 items for 's' returned 0 results");
  });

  it('refuses a group size below 1', () => {
    expect(() => new GroupedByKey(0, async () => [])).toThrow('a group holds at least 1 item, got max 0');
  });
});
