/**
 * vLLM-style automatic prefix caching, reduced to what changes measurable behaviour: which prompt
 * tokens a request does not have to prefill.
 *
 * - The prompt is cut into full blocks of `blockSize` tokens; each block's hash chains its
 *   parent's, so a block matches only if everything before it matches too.
 * - A request reuses the longest run of cached blocks from the start, but never its last token
 *   (vLLM always recomputes at least one token to get logits), and never a partial block.
 * - Blocks are inserted by the caller when the request's prefill finishes, not on arrival.
 * - A finite LRU evicts blocks; a request's blocks are touched leaf-first so its root is the most
 *   recent, as vLLM returns freed blocks in reverse order (evicting a root would strand its
 *   descendants, which could never match again).
 */

export const DEFAULT_BLOCK_SIZE = 16;
/** "Large": 2^20 blocks = 16M tokens at block size 16, far more than any test or benchmark needs. */
export const DEFAULT_CAPACITY_BLOCKS = 1 << 20;

/**
 * Chained block hashes of a token sequence, one per FULL block. Two independent 32-bit lanes
 * packed into a 53-bit safe integer, so a collision across a benchmark's ~10^6 blocks is negligible.
 */
export function blockHashes(tokenIds: readonly number[], blockSize: number, rootKey: string): number[] {
  let h1 = 0x9e3779b9;
  let h2 = 0x85ebca6b;
  for (let k = 0; k < rootKey.length; k++) {
    h1 = Math.imul(h1 ^ rootKey.charCodeAt(k), 0x01000193);
    h2 = Math.imul(h2 ^ rootKey.charCodeAt(k), 0x5bd1e995);
  }
  const full = Math.floor(tokenIds.length / blockSize);
  const out = new Array<number>(full);
  for (let b = 0; b < full; b++) {
    // Continuing from the parent's state is exactly hash(parent, tokens of this block).
    for (let t = b * blockSize, end = t + blockSize; t < end; t++) {
      const id = tokenIds[t];
      h1 = Math.imul(h1 ^ id, 0x01000193);
      h1 ^= h1 >>> 15;
      h2 = Math.imul(h2 ^ id, 0x5bd1e995);
      h2 ^= h2 >>> 13;
    }
    out[b] = (h1 >>> 0) * 0x200000 + (h2 >>> 11);
  }
  return out;
}

export class PrefixCache {
  /** Insertion order is recency order: the first key is the least recently used. */
  private readonly blocks = new Map<number, true>();

  constructor(
    readonly blockSize: number = DEFAULT_BLOCK_SIZE,
    readonly capacityBlocks: number = DEFAULT_CAPACITY_BLOCKS,
  ) {
    if (!Number.isInteger(blockSize) || blockSize < 1) throw new Error(`prefix cache blockSize must be a positive integer, got ${blockSize}`);
    if (!Number.isInteger(capacityBlocks) || capacityBlocks < 0) {
      throw new Error(`prefix cache capacityBlocks must be a non-negative integer, got ${capacityBlocks}`);
    }
  }

  get size(): number {
    return this.blocks.size;
  }

  /** Tokens of a `promptTokens`-long prompt that are already cached; touches the blocks it uses. */
  lookup(hashes: readonly number[], promptTokens: number): number {
    const usable = Math.min(hashes.length, Math.floor((promptTokens - 1) / this.blockSize));
    let hit = 0;
    while (hit < usable && this.blocks.has(hashes[hit])) hit++;
    this.touch(hashes, hit);
    return hit * this.blockSize;
  }

  /** Called when a request's prefill has finished: all its full blocks are now cached. */
  insert(hashes: readonly number[]): void {
    this.touch(hashes, hashes.length);
    while (this.blocks.size > this.capacityBlocks) {
      const oldest = this.blocks.keys().next();
      if (oldest.done) break;
      this.blocks.delete(oldest.value);
    }
  }

  clear(): void {
    this.blocks.clear();
  }

  private touch(hashes: readonly number[], count: number): void {
    for (let b = count - 1; b >= 0; b--) {
      this.blocks.delete(hashes[b]);
      this.blocks.set(hashes[b], true);
    }
  }
}
