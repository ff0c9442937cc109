import { Semaphore } from './semaphore';

/** A promise and its resolver, to hold work open until the test lets it finish. */
function gate<T = void>(): { promise: Promise<T>; open: (v: T) => void; fail: (e: Error) => void } {
  let open!: (v: T) => void;
  let fail!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    open = res;
    fail = rej;
  });
  return { promise, open, fail };
}
const tick = () => new Promise((r) => setImmediate(r));

describe('Semaphore', () => {
  it.each([0, -1, 1.5, NaN])('given size %p, when constructed, then it refuses', (size) => {
    expect(() => new Semaphore(size)).toThrow('semaphore size must be a positive integer');
  });

  it('given 20 jobs of random length and size 3, when run, then never more than 3 are in flight and all finish', async () => {
    const sem = new Semaphore(3);
    let inFlight = 0;
    let peak = 0;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        sem.run(async () => {
          inFlight++;
          peak = Math.max(peak, inFlight);
          await new Promise((r) => setTimeout(r, (i * 7) % 5));
          inFlight--;
          return i;
        }),
      ),
    );
    expect(peak).toBe(3);
    expect(results).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('given waiters, when slots free up, then they start in arrival order (FIFO)', async () => {
    const sem = new Semaphore(1);
    const started: string[] = [];
    const first = gate();
    const a = sem.run(async () => {
      started.push('a');
      await first.promise;
    });
    const rest = ['b', 'c', 'd', 'e'].map((name) => sem.run(async () => void started.push(name)));
    await tick();
    expect(started).toEqual(['a']);
    first.open();
    await Promise.all([a, ...rest]);
    expect(started).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('given a waiter was handed the slot, when a newcomer arrives before it runs, then the newcomer does not jump the queue', async () => {
    const sem = new Semaphore(1);
    const order: string[] = [];
    const hold = gate();
    const a = sem.run(() => hold.promise);
    const b = sem.run(async () => void order.push('b'));
    hold.open();
    const c = sem.run(async () => void order.push('c')); // same tick as the release
    await Promise.all([a, b, c]);
    expect(order).toEqual(['b', 'c']);
  });

  it('given work that throws (async or sync), when run, then the error propagates and the slot is released', async () => {
    const sem = new Semaphore(1);
    await expect(sem.run(async () => Promise.reject(new Error('async boom')))).rejects.toThrow('async boom');
    await expect(
      sem.run(() => {
        throw new Error('sync boom');
      }),
    ).rejects.toThrow('sync boom');
    // Both slots came back: two more jobs run, one after the other.
    await expect(sem.run(async () => 'ok')).resolves.toBe('ok');
    const waiting = gate();
    const held = sem.run(() => waiting.promise);
    let second = false;
    const next = sem.run(async () => void (second = true));
    await tick();
    expect(second).toBe(false);
    waiting.fail(new Error('released by failure'));
    await expect(held).rejects.toThrow('released by failure');
    await next;
    expect(second).toBe(true);
  });
});

describe('Semaphore.runFirst', () => {
  it('given regular work queued before first work, when a slot frees, then the first work goes first', async () => {
    const sem = new Semaphore(1);
    const order: string[] = [];
    const hold = gate();
    const busy = sem.run(() => hold.promise);
    const regular = sem.run(async () => void order.push('regular'));
    const first = sem.runFirst(async () => void order.push('first'));
    await tick();
    expect(sem.inFlight).toBe(1);
    hold.open();
    await Promise.all([busy, first, regular]);
    expect(order).toEqual(['first', 'regular']);
    expect(sem.inFlight).toBe(0);
  });

  it('given a free slot, when first work comes, then it starts at once', async () => {
    const sem = new Semaphore(2);
    const hold = gate();
    const busy = sem.run(() => hold.promise);
    let started = false;
    const first = sem.runFirst(async () => void (started = true));
    await tick();
    expect(started).toBe(true);
    hold.open();
    await Promise.all([busy, first]);
  });
});
