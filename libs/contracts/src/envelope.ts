import { z } from 'zod';

/**
 * Every event travels in one envelope. The same `id` is the JetStream message id (server-side
 * de-duplication) and the unique message_id in Postgres, so a re-send is harmless at both ends.
 */
export const EventMetadata = z
  .object({
    /** The request that started it all (the CLI's request id); ties a run's events together. */
    correlationId: z.string().min(1),
    /** The id of the event this one was caused by (its own id for a root event). */
    causationId: z.string().min(1),
    /** Which service (or the CLI) produced it. */
    producer: z.string().min(1),
    /** Git commit of the producing code, with a dirty marker. */
    codeVersion: z.string().min(1),
  })
  .strict();
export type EventMetadata = z.infer<typeof EventMetadata>;

/** Builds the envelope schema of one event: a `type` literal, a `schemaVersion` literal and its data. */
export function eventSchema<T extends string, V extends number, D extends z.ZodType>(type: T, schemaVersion: V, data: D) {
  return z
    .object({
      id: z.string().uuid(),
      type: z.literal(type),
      schemaVersion: z.literal(schemaVersion),
      stream: z.string().min(1),
      occurredAt: z.string().datetime({ offset: true }),
      data,
      metadata: EventMetadata,
    })
    .strict();
}

/** The part every envelope shares, for code that routes before it knows the type. */
export const AnyEnvelope = z
  .object({
    id: z.string().uuid(),
    type: z.string().min(1),
    schemaVersion: z.number().int().positive(),
    stream: z.string().min(1),
    occurredAt: z.string(),
    data: z.unknown(),
    metadata: EventMetadata,
  })
  .strict();
export type AnyEnvelope = z.infer<typeof AnyEnvelope>;

/** `experiment.requested` + 1 -> `experiment.requested.v1`: subjects are past tense and versioned. */
export function subjectOf(type: string, schemaVersion: number): string {
  return `${type}.v${schemaVersion}`;
}

/** Stream names follow `category-id`; the category is the part before the first '-'. */
export function experimentStream(identity: string): string {
  return `experiment-${identity}`;
}

/** A request is recorded before its identity is known (the planner computes it). */
export function requestStream(requestId: string): string {
  return `request-${requestId}`;
}
