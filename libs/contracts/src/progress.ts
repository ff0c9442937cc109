import { z } from 'zod';

/**
 * Live progress on core NATS `progress.<identity>`: for eyes only, never in the log. Messages
 * carry deltas so several workers can report without coordinating. `promptsDone` and
 * `inferenceFailures` count prompts whose batch outcome was committed (not a duplicate), so a
 * redelivered batch is never counted twice; `retries` are live.
 */
export const ProgressUpdate = z
  .object({
    identity: z.string(),
    attempt: z.number().int().positive(),
    phase: z.enum(['smoke', 'full']),
    source: z.string(),
    promptsDone: z.number().int().nonnegative(),
    retries: z.number().int().nonnegative(),
    inferenceFailures: z.number().int().nonnegative(),
    parseFailures: z.number().int().nonnegative(),
    /** Something the people following the run should know, e.g. that the model server stopped answering. */
    message: z.string().optional(),
  })
  .strict();
export type ProgressUpdate = z.infer<typeof ProgressUpdate>;

export function progressSubject(identity: string): string {
  return `progress.${identity}`;
}
