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

/** A cached block; `stamp` is its last use on the cache's clock (higher = more recent). */
interface CachedBlock {
  stamp: number;
}

export class PrefixCache {
  private readonly blocks = new Map<number, CachedBlock>();
  /** Monotonic use counter: touching a block is one Map lookup and a stamp write, no reordering. */
  private clock = 0;
  /**
   * Eviction candidates, oldest first, as of the last sort: a candidate whose stamp changed since
   * was used again and is skipped. Every block not in this list is newer than all of it, so the
   * first still-valid candidate is always the true least recently used block (exact LRU).
   */
  private candidates: Array<{ hash: number; stamp: number }> = [];
  private nextCandidate = 0;

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
    // Stamps fall with depth (root newest), as if touched leaf-first; one pass, one Map lookup per block.
    const top = this.clock + usable;
    let hit = 0;
    for (; hit < usable; hit++) {
      const block = this.blocks.get(hashes[hit]);
      if (!block) break;
      block.stamp = top - hit;
    }
    this.clock = top;
    return hit * this.blockSize;
  }

  /** Called when a request's prefill has finished: all its full blocks are now cached. */
  insert(hashes: readonly number[]): void {
    const top = this.clock + hashes.length;
    for (let b = 0; b < hashes.length; b++) {
      const block = this.blocks.get(hashes[b]);
      if (block) block.stamp = top - b;
      else this.blocks.set(hashes[b], { stamp: top - b });
    }
    this.clock = top;
    while (this.blocks.size > this.capacityBlocks) this.evictOldest();
  }

  clear(): void {
    this.blocks.clear();
    this.candidates = [];
    this.nextCandidate = 0;
  }

  private evictOldest(): void {
    for (;;) {
      if (this.nextCandidate >= this.candidates.length) this.collectCandidates();
      const candidate = this.candidates[this.nextCandidate++];
      const block = this.blocks.get(candidate.hash);
      if (block && block.stamp === candidate.stamp) {
        this.blocks.delete(candidate.hash);
        return;
      }
    }
  }

  /**
   * The oldest eighth of the cache (at least one block), sorted by stamp: one O(n log n) sort
   * pays for n/8 evictions, instead of reordering a linked list on every touch.
   */
  private collectCandidates(): void {
    const all: Array<{ hash: number; stamp: number }> = [];
    for (const [hash, block] of this.blocks) all.push({ hash, stamp: block.stamp });
    all.sort((a, b) => a.stamp - b.stamp);
    this.candidates = all.slice(0, Math.max(1, Math.ceil(all.length / 8)));
    this.nextCandidate = 0;
  }
}
