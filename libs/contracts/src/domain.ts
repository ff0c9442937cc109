import { z } from 'zod';

/**
 * The universal currency of assay: every method consumes Samples and produces
 * Predictions, so one evaluate() scores them all. Ids are data, never paths.
 */

export const ItemKind = z.enum(['binary', 'ordinal', 'continuous']);
export type ItemKind = z.infer<typeof ItemKind>;

/** One row of items.csv: what is asked, and the valid value range. */
export const ItemDef = z.object({
  group: z.string().min(1),
  item: z.string().min(1),
  question: z.string(),
  min: z.number(),
  max: z.number(),
  kind: ItemKind,
});
export type ItemDef = z.infer<typeof ItemDef>;

/** A ground-truth observation for one (entity, group, item). */
export const Sample = z.object({
  entityId: z.string(),
  group: z.string(),
  item: z.string(),
  actual: z.number(),
});
export type Sample = z.infer<typeof Sample>;

export const ParseStatus = z.enum(['ok', 'parse_failure', 'inference_failure']);
export type ParseStatus = z.infer<typeof ParseStatus>;

/** What any method (LLM or baseline) produces for one Sample. `predicted` is null when there is no usable value. */
export const Prediction = z.object({
  entityId: z.string(),
  group: z.string(),
  item: z.string(),
  method: z.string(),
  predicted: z.number().nullable(),
  parseStatus: ParseStatus,
  /** Why parsing (or inference) failed; absent when parseStatus is ok. */
  parseError: z.string().optional(),
  /** True when predicted lies outside [item.min, item.max]; the value is kept, never clipped. */
  outlier: z.boolean(),
  metadata: z.record(z.string(), z.unknown()).default({}),
});
export type Prediction = z.infer<typeof Prediction>;
