import { setFlagsFromString } from 'node:v8';

/** How far past the heap a full collection kept V8 lets it grow before the next one, in percent. */
export const HEAP_GROWING_PERCENT = 50;

/**
 * Bounds the evaluator's heaps (its own and the early-baselines thread's: V8's flags are the
 * process's) to what is live plus HEAP_GROWING_PERCENT. V8's default on a machine with a few GB
 * is up to 4x what is live: at the bench's 10x size the thread's heap reached 280 MB for 90 MB
 * live, the last batch's 365 MB for 135 MB, and the process peaked near 600 MB RSS. Relative to
 * what is live, so the headroom grows with the work, not with the machine; the price is more
 * full collections (about 1 s of CPU more in 30 s at 10x, measured with measure-evaluation and
 * measure-early-baselines). Set when the process starts, before any thread: V8 reads this flag
 * at every full collection (the heap limits themselves are fixed when an isolate is made).
 */
export function limitHeapGrowth(): void {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
