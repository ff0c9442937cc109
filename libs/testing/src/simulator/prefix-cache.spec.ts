import { PrefixCache, blockHashes } from './prefix-cache';

const seq = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);

describe('PrefixCache', () => {
  const bs = 4;

  it('given an empty cache, when looked up, then nothing is cached', () => {
    const cache = new PrefixCache(bs, 100);
    expect(cache.lookup(blockHashes(seq(0, 10), bs, 'm'), 10)).toBe(0);
  });

  it('given a finished prompt, when a prompt with the same prefix comes, then its full shared blocks are cached', () => {
    const cache = new PrefixCache(bs, 100);
    cache.insert(blockHashes(seq(0, 10), bs, 'm')); // blocks [0..3] [4..7]; 8,9 partial
    const other = [...seq(0, 6), 99, 98, 97, 96];
    expect(cache.lookup(blockHashes(other, bs, 'm'), other.length)).toBe(4);
    expect(cache.lookup(blockHashes(seq(0, 12), bs, 'm'), 12)).toBe(8);
  });

  it('given a fully cached prompt, when looked up again, then the last token is still recomputed', () => {
    const cache = new PrefixCache(bs, 100);
    const hashes = blockHashes(seq(0, 8), bs, 'm');
    cache.insert(hashes);
    expect(cache.lookup(hashes, 8)).toBe(4);
  });

  it('given equal tokens after different prefixes, when hashed, then blocks differ (hashes chain)', () => {
    const a = blockHashes([1, 2, 3, 4, 5, 6, 7, 8], bs, 'm');
    const b = blockHashes([9, 9, 9, 9, 5, 6, 7, 8], bs, 'm');
    expect(a[1]).not.toBe(b[1]);
    expect(blockHashes([1, 2, 3, 4], bs, 'other')[0]).not.toBe(a[0]);
  });

  it('given a full cache, when a new prompt is inserted, then the least recent leaves are evicted first', () => {
    const cache = new PrefixCache(bs, 6);
    const a = blockHashes(seq(0, 16), bs, 'm'); // 4 blocks
    const b = blockHashes(seq(100, 16), bs, 'm'); // 4 blocks
    cache.insert(a);
    cache.insert(b);
    expect(cache.size).toBe(6);
    // a's two leaf blocks went; its first two blocks still match.
    expect(cache.lookup(a, 17)).toBe(8);
    expect(cache.lookup(b, 17)).toBe(16);
  });

  it('given a full cache, when a prompt was looked up since, then the blocks it used outlive older ones', () => {
    const cache = new PrefixCache(bs, 8);
    const a = blockHashes(seq(0, 16), bs, 'm');
    const b = blockHashes(seq(100, 16), bs, 'm');
    cache.insert(a);
    cache.insert(b);
    expect(cache.lookup(a, 17)).toBe(16); // a is now more recent than b
    cache.insert(blockHashes(seq(200, 8), bs, 'm')); // 2 blocks must go: b's leaves
    expect(cache.lookup(a, 17)).toBe(16);
    expect(cache.lookup(b, 17)).toBe(8);
  });

  it('given capacity zero, when a prompt is inserted, then nothing stays cached', () => {
    const cache = new PrefixCache(bs, 0);
    const a = blockHashes(seq(0, 16), bs, 'm');
    cache.insert(a);
    expect(cache.size).toBe(0);
    expect(cache.lookup(a, 17)).toBe(0);
  });

  it('given random lookups and inserts, when the cache evicts many times, then it matches a move-to-front LRU exactly', () => {
    // Reference: the straightforward LRU (Map order = recency, touched leaf-first).
    const reference = new Map<number, true>();
    const touch = (hashes: number[], count: number): void => {
      for (let b = count - 1; b >= 0; b--) {
        reference.delete(hashes[b]);
        reference.set(hashes[b], true);
      }
    };
    const capacity = 50;
    const cache = new PrefixCache(bs, capacity);
    let state = 12345;
    const random = (n: number): number => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return (state >>> 16) % n; // the high bits: an LCG's low bits have tiny periods
    };
    let hitsSeen = 0;
    // 30 "entities" whose prompts share a 3-block prefix and differ after it.
    for (let step = 0; step < 3000; step++) {
      const entity = random(30);
      const tokens = [...seq(entity * 1000, 12), ...seq(entity * 1000 + 500 + random(5) * 10, 4 + random(8))];
      const hashes = blockHashes(tokens, bs, 'm');
      const usable = Math.min(hashes.length, Math.floor((tokens.length - 1) / bs));
      let expected = 0;
      while (expected < usable && reference.has(hashes[expected])) expected++;
      touch(hashes, expected);
      expect(cache.lookup(hashes, tokens.length)).toBe(expected * bs);
      hitsSeen += expected;
      if (random(2) === 0) {
        cache.insert(hashes);
        touch(hashes, hashes.length);
        while (reference.size > capacity) reference.delete(reference.keys().next().value!);
        expect(cache.size).toBe(reference.size);
      }
    }
    // The run must exercise both hits and evictions, or the comparison proves little.
    expect(hitsSeen).toBeGreaterThan(1000);
  });
});

