import { z } from 'zod';
import { Prediction } from '../domain';
import { eventSchema } from '../envelope';

/** One batch's raw outputs parsed into Predictions (a parse failure is kept with its reason). */
export const EvaluationBatchScored = eventSchema(
  'evaluation.batch.scored',
  1,
  z
    .object({
      identity: z.string(),
      attempt: z.number().int().positive(),
      phase: z.enum(['smoke', 'full']),
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
      evaluatorVersion: z.string(),
      result: z.record(z.string(), z.unknown()),
      /** Prefix-cache reuse measured by the workers vs the ideal for this prompt set. */
      cache: z
        .object({
          promptTokens: z.number().int().nonnegative(),
          cachedTokens: z.number().int().nonnegative(),
          hitRate: z.number().nullable(),
          idealHitRate: z.number().nullable(),
        })
        .strict(),
    })
    .strict(),
);
export type EvaluationCompleted = z.infer<typeof EvaluationCompleted>;

export const EvaluationEvent = z.discriminatedUnion('type', [EvaluationBatchScored, EvaluationSmokeChecked, EvaluationCompleted]);
export type EvaluationEvent = z.infer<typeof EvaluationEvent>;
