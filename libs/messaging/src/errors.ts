/**
 * A failure that may pass (a version conflict, a broker hiccup, a busy server): the message is
 * redelivered after a delay. Anything else that escapes a handler is treated the same way but
 * logged as unexpected; a message that cannot be valid is terminated instead.
 */
export class TransientError extends Error {
  constructor(message: string, readonly retryAfterMs?: number) {
    super(message);
    this.name = 'TransientError';
  }
}

/** A message that can never be processed (not a valid event, or facts that retrying cannot change): dead-letter it, never retry. */
export class PoisonMessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PoisonMessageError';
  }
}

/** Redeliveries and restarts back off with the one backoff function (equal jitter: a floor of half the ceiling). */
export { backoffDelayMs } from '@assay/contracts';
