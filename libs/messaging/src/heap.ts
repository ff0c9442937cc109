import { setFlagsFromString } from 'node:v8';

/** How far past the heap a full collection kept V8 lets it grow before the next one, in percent. */
export const HEAP_GROWING_PERCENT = 50;

/**
 * Bounds a service's heaps (its own and its threads': V8's flags are the process's) to what is
 * live plus HEAP_GROWING_PERCENT. V8's default on a machine with a few GB is up to 4x what is
 * live: at the bench's 10x size the evaluator's baselines thread reached 280 MB of heap for 90 MB
 * live, its last batch 365 MB for 135 MB (the process near 600 MB RSS), and the reporter's tree
 * writing as much again. Relative to what is live, so the headroom grows with the work, not with
 * the machine; the price is more full collections (about 1 s of CPU more in 30 s at 10x, measured
 * with measure-evaluation and measure-early-baselines). Set by startService before anything else,
 * before any thread: V8 reads this flag at every full collection (the heap limits themselves are
 * fixed when an isolate is made, so --max-old-space-size set this way does nothing).
 */
export function limitHeapGrowth(): void {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
