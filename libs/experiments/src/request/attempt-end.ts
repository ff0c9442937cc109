import { experimentStream, type ExperimentCancelled, type ExperimentCompleted, type ExperimentFailed } from '@assay/contracts';
import { findEvents, type Sql } from '@assay/event-store';

export type AttemptEnd = ExperimentCompleted | ExperimentFailed | ExperimentCancelled;

/** The events that end an attempt: after one of them nothing may complete, fail or cancel it again. */
export const ATTEMPT_END_TYPES = ['experiment.completed', 'experiment.failed', 'experiment.cancelled'] as const;

/**
 * The event that ended an attempt, or null while it runs. Workers ask before calling the model
 * (a batch of an ended attempt is dropped), the evaluator and reporter before completing it.
 */
export async function attemptEnd(sql: Sql, identity: string, attempt: number): Promise<AttemptEnd | null> {
  const stream = experimentStream(identity);
  for (const type of ATTEMPT_END_TYPES) {
    const [end] = await findEvents(sql, stream, type, { attempt });
    if (end) return end;
  }
  return null;
}

/** One line for logs and the CLI: how the attempt ended. */
export function describeEnd(end: AttemptEnd): string {
  switch (end.type) {
    case 'experiment.completed':
      return 'completed';
    case 'experiment.failed':
      return `failed at ${end.data.stage}`;
    case 'experiment.cancelled':
      return end.data.kind === 'abandoned' ? `abandoned: ${end.data.reason}` : `cancelled by ${end.data.by.user}@${end.data.by.host}: ${end.data.reason}`;
  }
}
