import { z } from 'zod';
import { eventSchema } from '../envelope';

export const ReportGenerated = eventSchema(
  'report.generated',
  1,
  z
    .object({
      identity: z.string(),
      attempt: z.number().int().positive(),
      runDir: z.string(),
      files: z.number().int().nonnegative(),
      /** sha256 over every file's path and content: replay must reproduce it. */
      treeHash: z.string(),
    })
    .strict(),
);
export type ReportGenerated = z.infer<typeof ReportGenerated>;

export const ReportEvent = z.discriminatedUnion('type', [ReportGenerated]);
export type ReportEvent = z.infer<typeof ReportEvent>;
