import { blockHashes, PrefixCache } from '../../testing/src/simulator/prefix-cache';
import { batchIdeal, cacheableTokens, idealBatchCachedTokens, sharedSuffixStarts, sharedWithOthers, type BatchIdealInput } from './ideal-cache';

describe('sharedWithOthers', () => {
  it('given strings, when compared, then each gets the longest start it shares with any other', () => {
    expect(sharedWithOthers(['abcd', 'abx', 'zz', 'abcf'])).toEqual([3, 2, 0, 3]);
    expect(sharedWithOthers(['only'])).toEqual([0]);
  });
  it('given suffixes, then the shared starts are the texts to count', () => {
    expect(sharedSuffixStarts(['Q1: x', 'Q1: y', 'R'])).toEqual(['Q1: ', 'Q1: ', '']);
  });
});

describe('idealBatchCachedTokens', () => {
  it('given prompts whose suffixes share a start, when bounded, then each reuses prefix + shared start, the first only the head', () => {
    const ideal = idealBatchCachedTokens({
      prefixTokens: 100,
      headTokens: 10,
      prompts: [
        { promptTokens: 110, sharedSuffixTokens: 4, sentBefore: false },
        { promptTokens: 112, sharedSuffixTokens: 4, sentBefore: false },
        { promptTokens: 105, sharedSuffixTokens: 0, sentBefore: false },
      ],
      blockSize: null,
    });
    // 104 + 104 + 100, less the smallest loss of being first: the third (100 - 10 = 90).
    expect(ideal).toBe(104 + 104 + 100 - 90);
  });
  it('given a prompt sent before (smoke test) or an unknown head, then no first-prompt deduction and the repeat may be whole', () => {
    expect(idealBatchCachedTokens({ prefixTokens: 100, headTokens: null, prompts: [{ promptTokens: 110, sharedSuffixTokens: 0, sentBefore: false }, { promptTokens: 110, sharedSuffixTokens: 0, sentBefore: false }], blockSize: null })).toBe(200);
    expect(idealBatchCachedTokens({ prefixTokens: 100, headTokens: 0, prompts: [{ promptTokens: 110, sharedSuffixTokens: 0, sentBefore: true }, { promptTokens: 110, sharedSuffixTokens: 0, sentBefore: false }], blockSize: null })).toBe(210);
  });
});

describe('batchIdeal', () => {
  const batch = { prefix: 'P'.repeat(50), prefixSharedChars: 10, prompts: [{ promptId: 'a', suffix: 'Q: 1' }, { promptId: 'b', suffix: 'Q: 2' }] };
  it('given failed prompts, then only answered ones count', () => {
    const results = [
      { promptId: 'a', status: 'ok' as const, promptTokens: 60 },
      { promptId: 'b', status: 'error' as const, promptTokens: null },
    ];
    expect(batchIdeal(batch, 50, { headTokens: 3, leadingTokens: 0, sharedSuffixTokens: [2, 2] }, results, null)).toBe(3);
  });
  it('given a server that puts a BOS before every prompt, then it counts with the prefix and the head', () => {
    const results = [
      { promptId: 'a', status: 'ok' as const, promptTokens: 60 },
      { promptId: 'b', status: 'ok' as const, promptTokens: 60 },
    ];
    // 1 + 50 + 2 each, less the first's loss (53 - (1 + 3)).
    expect(batchIdeal(batch, 50, { headTokens: 3, leadingTokens: 1, sharedSuffixTokens: [2, 2] }, results, null)).toBe(53 + 4);
    // Whole 16-token blocks: 48 each, the first only 0.
    expect(batchIdeal(batch, 50, { headTokens: 3, leadingTokens: 1, sharedSuffixTokens: [2, 2] }, results, 16)).toBe(48);
  });
  it('given a count missing, then null', () => {
    expect(batchIdeal(batch, null, { headTokens: 3, leadingTokens: 0, sharedSuffixTokens: [2, 2] }, [], 16)).toBeNull();
    expect(batchIdeal(batch, 50, null, [], 16)).toBeNull();
  });
});

describe('cacheableTokens', () => {
  it('given a block size, then whole blocks only and never the last token; unknown, then tokens as shared', () => {
    expect(cacheableTokens(40, 100, 16)).toBe(32);
    expect(cacheableTokens(100, 100, 16)).toBe(96);
    expect(cacheableTokens(97, 97, 16)).toBe(96);
    expect(cacheableTokens(96, 96, 16)).toBe(80);
    expect(cacheableTokens(5, 5, 1)).toBe(4);
    expect(cacheableTokens(120, 100, null)).toBe(100);
    expect(cacheableTokens(0, 0, 16)).toBe(0);
  });
});

/**
 * Token-level model of demo-like batches on the simulator's block cache: entities whose prefixes
 * start with a common head (system prompt, first feature names), items of which some start alike.
 * Token ids stand for tokens, so counts are exact (no joint merges).
 */
describe('the ideal against the simulator\'s block cache (PrefixCache)', () => {
  const lcp = (a: readonly number[], b: readonly number[]) => {
    let i = 0;
    while (i < a.length && i < b.length && a[i] === b[i]) i++;
    return i;
  };
  /** A deterministic pseudo-random stream, so the cases are the same on every run. */
  const rng = (seed: number) => () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const ids = (n: number, from: number) => Array.from({ length: n }, (_, i) => from + i);

  interface Entity {
    prefix: number[];
    suffixes: number[][];
  }
  function demoLike(random: () => number, entities: number, items: number, itemsShareStarts: boolean): Entity[] {
    const head = ids(7 + Math.floor(random() * 20), 1);
    const itemSuffixes = Array.from({ length: items }, (_, k) => {
      const group = itemsShareStarts ? ids(3 + (k % 3) * 5, 10_000 + (k % 3) * 100) : [];
      return [...group, ...ids(4 + Math.floor(random() * 30), 20_000 + k * 100)];
    });
    return Array.from({ length: entities }, (_, e) => ({ prefix: [...head, ...ids(5 + Math.floor(random() * 60), 1_000 + e * 100)], suffixes: itemSuffixes }));
  }
  /** What the ideal is told of an entity's batch (as the worker counts it). */
  function idealInput(entity: Entity, all: Entity[], blockSize: number | null): BatchIdealInput {
    const headTokens = Math.max(...all.filter((o) => o !== entity).map((o) => lcp(o.prefix, entity.prefix)));
    return {
      prefixTokens: entity.prefix.length,
      headTokens,
      prompts: entity.suffixes.map((s, i) => ({
        promptTokens: entity.prefix.length + s.length,
        sharedSuffixTokens: Math.max(0, ...entity.suffixes.filter((_, j) => j !== i).map((o) => lcp(o, s))),
        sentBefore: false,
      })),
      blockSize,
    };
  }
  /** Entity-grouped dispatch as the worker does it: the first prompt alone (warms the prefix), then the rest at once. */
  function run(cache: PrefixCache, entity: Entity, order: number[], fanOutAtOnce: boolean): number {
    const hashes = order.map((i) => blockHashes([...entity.prefix, ...entity.suffixes[i]], cache.blockSize, 'm'));
    const tokens = order.map((i) => entity.prefix.length + entity.suffixes[i].length);
    let hit = cache.lookup(hashes[0], tokens[0]);
    cache.insert(hashes[0]);
    if (fanOutAtOnce) {
      for (let k = 1; k < order.length; k++) hit += cache.lookup(hashes[k], tokens[k]);
      for (let k = 1; k < order.length; k++) cache.insert(hashes[k]);
    } else {
      for (let k = 1; k < order.length; k++) {
        hit += cache.lookup(hashes[k], tokens[k]);
        cache.insert(hashes[k]);
      }
    }
    return hit;
  }
  const shuffled = (n: number, random: () => number) => {
    const a = ids(n, 0);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  };

  for (const blockSize of [1, 16]) {
    it(`given demo-like batches and block size ${blockSize}, when run in any order, then each batch hits at most its ideal (and at most the unrounded one)`, () => {
      const random = rng(blockSize);
      for (let trial = 0; trial < 20; trial++) {
        const entities = demoLike(random, 6, 10, trial % 2 === 0);
        const cache = new PrefixCache(blockSize);
        for (const e of shuffled(entities.length, random).map((i) => entities[i])) {
          const hit = run(cache, e, shuffled(e.suffixes.length, random), random() < 0.5);
          const ideal = idealBatchCachedTokens(idealInput(e, entities, blockSize));
          expect(hit).toBeLessThanOrEqual(ideal);
          expect(ideal).toBeLessThanOrEqual(idealBatchCachedTokens(idealInput(e, entities, null)));
        }
      }
    });
  }

  it('given items that start differently, when run entity by entity on a block cache of 16, then every batch reaches its rounded ideal exactly, the first but for its head', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const entities = demoLike(rng(seed), 8, 12, false);
      const cache = new PrefixCache(16);
      const gaps = entities.map((e) => idealBatchCachedTokens(idealInput(e, entities, 16)) - run(cache, e, ids(e.suffixes.length, 0), true));
      // The bound lets any entity go first, after another entity's head: the run's first entity found nothing before it.
      const firstHead = idealInput(entities[0], entities, 16).headTokens!;
      expect(gaps).toEqual([Math.floor(firstHead / 16) * 16, ...entities.slice(1).map(() => 0)]);
    }
  });
});
