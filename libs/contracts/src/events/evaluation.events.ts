import { z } from 'zod';
import { Phase } from './experiment.events';
import { Prediction } from '../domain';
import { eventSchema } from '../envelope';

/**
 * Which evaluation of an attempt's inference results: 1 is the one made during the run, n+1 a
 * re-evaluation (`assay reevaluate`) of the same inference results with newer parse/score code.
 * Events logged before rounds existed have no field: an upcaster (upcast.ts) makes them round 1.
 */
export const EvaluationRound = z.number().int().positive();

/** One batch's raw outputs parsed into Predictions (a parse failure is kept with its reason). */
export const EvaluationBatchScored = eventSchema(
  'evaluation.batch.scored',
  1,
  z
    .object({
      identity: z.string(),
      attempt: z.number().int().positive(),
      round: EvaluationRound,
      phase: Phase,
      batchId: z.string(),
      evaluatorVersion: z.string(),
      predictions: z.array(Prediction.extend({ promptId: z.string(), actual: z.number() })),
    })
    .strict(),
);
export type EvaluationBatchScored = z.infer<typeof EvaluationBatchScored>;

export const SmokeCheck = z.object({ check: z.string(), passed: z.boolean(), detail: z.string() }).strict();

export const EvaluationSmokeChecked = eventSchema(
  'evaluation.smoke.checked',
  1,
  z
    .object({
      identity: z.string(),
      attempt: z.number().int().positive(),
      passed: z.boolean(),
      checks: z.array(SmokeCheck),
      /** The smoke examples' raw outputs, shown to the user when the checks fail. */
      examples: z.array(z.object({ entityId: z.string(), group: z.string(), item: z.string(), output: z.string().nullable(), status: z.string() }).strict()),
      /** Key of the stage this event completes (see StageRecord); absent in events logged before keys were recorded. */
      stageKey: z.string().optional(),
    })
    .strict(),
);
export type EvaluationSmokeChecked = z.infer<typeof EvaluationSmokeChecked>;

/**
 * The whole evaluation: metrics of the method and its baselines, value ranges, review lines.
 * Kept as JSON (its shape is EvaluationResult of @assay/evaluation) so this catalogue does not
 * depend on the evaluation library.
 */
export const EvaluationCompleted = eventSchema(
  'evaluation.completed',
  1,
  z
    .object({
      identity: z.string(),
      attempt: z.number().int().positive(),
      round: EvaluationRound,
      evaluatorVersion: z.string(),
      /** For a re-evaluation round: who asked and why (round 1, made during the run, has none). */
      reevaluation: z
        .object({ requestId: z.string().uuid(), reason: z.string().nullable(), requestedBy: z.object({ host: z.string(), user: z.string() }).strict() })
        .strict()
        .nullable(),
      result: z.record(z.string(), z.unknown()),
      /** Prefix-cache reuse measured by the workers vs the ideal for this prompt set. */
      cache: z
        .object({
          promptTokens: z.number().int().nonnegative(),
          cachedTokens: z.number().int().nonnegative(),
          hitRate: z.number().nullable(),
          idealHitRate: z.number().nullable(),
          // Optional: absent in events logged before the fallback to the server's counters.
          /** Where hitRate comes from: the answers' usage, the servers' prefix-cache counters, or nowhere (hitRate null). */
          source: z.enum(['usage', 'server-counters', 'unknown']).optional(),
          /** With server-counters: the servers counted more prompt tokens than this run sent (other clients used them). */
          shared: z.boolean().optional(),
        })
        .strict(),
      /** Key of the stage this event completes (see StageRecord); absent in events logged before keys were recorded. */
      stageKey: z.string().optional(),
    })
    .strict(),
);
export type EvaluationCompleted = z.infer<typeof EvaluationCompleted>;

/**
 * A command (from `assay reevaluate`): score an attempt's stored inference results again with the
 * evaluator's current code, as a new round, without any model call.
 */
export const EvaluationRequested = eventSchema(
  'evaluation.requested',
  1,
  z
    .object({
      requestId: z.string().uuid(),
      identity: z.string().min(1),
      /** Null: the identity's latest attempt. */
      attempt: z.number().int().positive().nullable(),
      /** Why, in the user's words (shown in the run's README); null when not given. */
      reason: z.string().min(1).nullable(),
      requestedBy: z.object({ host: z.string(), user: z.string() }).strict(),
    })
    .strict(),
);
export type EvaluationRequested = z.infer<typeof EvaluationRequested>;

/** The evaluator's refusal of an evaluation.requested, with the reason the user reads. */
export const EvaluationRejected = eventSchema(
  'evaluation.rejected',
  1,
  z
    .object({
      requestId: z.string().uuid(),
      identity: z.string(),
      attempt: z.number().int().positive().nullable(),
      reason: z.string().min(1),
    })
    .strict(),
);
export type EvaluationRejected = z.infer<typeof EvaluationRejected>;

export const EvaluationEvent = z.discriminatedUnion('type', [
  EvaluationBatchScored,
  EvaluationSmokeChecked,
  EvaluationCompleted,
  EvaluationRequested,
  EvaluationRejected,
]);
export type EvaluationEvent = z.infer<typeof EvaluationEvent>;
