import { z } from 'zod';
import { eventSchema } from '../envelope';
import { EvaluationRound } from './evaluation.events';

export const ReportGenerated = eventSchema(
  'report.generated',
  1,
  z
    .object({
      identity: z.string(),
      attempt: z.number().int().positive(),
      /** The evaluation round the tree was built from (the attempt's latest). */
      round: EvaluationRound,
      runDir: z.string(),
      files: z.number().int().nonnegative(),
      /** sha256 over every file's path and content: replay must reproduce it. */
      treeHash: z.string(),
      /** Key of the stage this event completes (see StageRecord); absent in events logged before keys were recorded. */
      stageKey: z.string().optional(),
    })
    .strict(),
);
export type ReportGenerated = z.infer<typeof ReportGenerated>;

export const ReportEvent = z.discriminatedUnion('type', [ReportGenerated]);
export type ReportEvent = z.infer<typeof ReportEvent>;
