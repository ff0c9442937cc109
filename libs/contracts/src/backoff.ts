/**
 * Exponential backoff, capped: the ceiling doubles from `baseMs` with each attempt up to `capMs`,
 * and the delay is drawn below it (`random` is injectable for tests). Jitter:
 * - 'full': anywhere in [0, ceiling], which spreads the retries of many clients hitting one server;
 * - 'equal': in [ceiling/2, ceiling], which keeps a floor (message redeliveries, process restarts).
 */
export function backoffDelayMs(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random, jitter: 'full' | 'equal' = 'equal'): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(jitter === 'full' ? random() * ceiling : ceiling / 2 + random() * (ceiling / 2));
}
