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
});
