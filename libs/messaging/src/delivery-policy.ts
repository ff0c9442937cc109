import { InvalidEventError } from '@assay/contracts';
import { isInfrastructureOutage } from '@assay/event-store';
import { backoffDelayMs, PoisonMessageError, TransientError } from './errors';

/**
 * When a consumer gives up on a message and how long it waits between tries. JetStream's own
 * delivery limit is off (it would stop delivering silently, so a give-up that failed to record
 * could never be tried again); the consumer counts deliveries and decides here.
 */
export interface DeliveryPolicy {
  /** Deliveries that may end in a failure of the message's own (or end without any outcome) before giving up. */
  maxDeliver: number;
  /** Redelivery backoff after a failure: exponential from base, capped. */
  retryBaseMs: number;
  retryCapMs: number;
  /** Backoff between retries in place while Postgres or NATS is unreachable, capped (the wait itself is unbounded). */
  outageRetryCapMs: number;
}

export const DEFAULT_DELIVERY_POLICY: DeliveryPolicy = { maxDeliver: 20, retryBaseMs: 250, retryCapMs: 15_000, outageRetryCapMs: 10_000 };

export type ArrivalDecision = { action: 'handle' } | { action: 'give-up'; reason: string };

/**
 * A message delivered more than maxDeliver times has failed (or vanished with its worker) that
 * often, or its give-up could not be recorded last time: record the give-up now, without running
 * the handler again.
 */
export function decideOnArrival(deliveries: number, policy: DeliveryPolicy): ArrivalDecision {
  if (deliveries <= policy.maxDeliver) return { action: 'handle' };
  return { action: 'give-up', reason: `gave up after ${deliveries - 1} deliveries without an outcome (each failed, or its worker stopped before finishing)` };
}

export type FailureDecision =
  /** The message can never succeed, or has failed maxDeliver times: record it as given up. */
  | { action: 'give-up'; reason: string }
  /** Postgres or NATS is down: keep the message (heartbeating) and run it again here after the delay; no delivery is spent. */
  | { action: 'wait-for-infrastructure'; delayMs: number }
  /** Let JetStream redeliver it after the delay; `expected` failures log quietly, others with their stack. */
  | { action: 'redeliver'; delayMs: number; expected: boolean };

/**
 * What to do after the handler threw. `deliveries` is JetStream's count for this message,
 * `outageRetries` how many times this process already retried it in place for an outage.
 */
export function decideAfterFailure(error: unknown, deliveries: number, outageRetries: number, policy: DeliveryPolicy, random: () => number = Math.random): FailureDecision {
  if (error instanceof PoisonMessageError || error instanceof InvalidEventError) return { action: 'give-up', reason: error.message };
  if (isInfrastructureOutage(error)) return { action: 'wait-for-infrastructure', delayMs: outageDelayMs(outageRetries + 1, policy, random) };
  const message = error instanceof Error ? error.message : String(error);
  if (deliveries >= policy.maxDeliver) return { action: 'give-up', reason: `gave up after ${deliveries} deliveries; last error: ${message}` };
  if (error instanceof TransientError) return { action: 'redeliver', delayMs: error.retryAfterMs ?? backoffDelayMs(deliveries, policy.retryBaseMs, policy.retryCapMs, random), expected: true };
  return { action: 'redeliver', delayMs: backoffDelayMs(deliveries, policy.retryBaseMs, policy.retryCapMs, random), expected: false };
}

/** Backoff while waiting for Postgres or NATS to come back: from the retry base up to outageRetryCapMs. */
export function outageDelayMs(attempt: number, policy: DeliveryPolicy, random: () => number = Math.random): number {
  return backoffDelayMs(attempt, policy.retryBaseMs, policy.outageRetryCapMs, random);
}
