/**
 * Seeded randomness for everything that must be reproducible (splits, sample data): the same
 * seed gives the same sequence on every machine and Node version, unlike Math.random.
 */

/** mulberry32: tiny, fast, good enough for shuffling; state is one uint32. */
export function mulberry32(seed: number): () => number {
  assertSeed(seed);
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Seeds beyond uint32 would silently collide modulo 2^32, so they are refused. */
export function assertSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new Error(`seed must be an integer in [0, 4294967295], got ${seed}`);
  }
}

/** In-place Fisher-Yates shuffle driven by `rand`. */
export function shuffleInPlace<T>(values: T[], rand: () => number): T[] {
  for (let i = values.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const tmp = values[i];
    values[i] = values[j];
    values[j] = tmp;
  }
  return values;
}
