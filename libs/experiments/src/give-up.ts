import { causedBy, createEvent, experimentStream, type AssayEvent, type ExperimentStarted, type FailureStage } from '@assay/contracts';
import { findInStream, type Sql, type StreamAppend } from '@assay/event-store';
import { attemptEnd } from './attempt-end';

/**
 * The stage at which a run fails when a service gives up on one of its messages (a dead letter
 * after every redelivery failed), or null when giving up on that message does not stop a run:
 * the planner records its own failures, and the experiment.completed/failed consumers only keep
 * projections (registry.json) up to date.
 */
export function stageOfGivenUp(type: AssayEvent['type']): FailureStage | null {
  switch (type) {
    case 'inference.batch.requested':
      return 'inference';
    case 'inference.completed':
    case 'inference.failed':
    case 'evaluation.requested':
      return 'evaluation';
    case 'evaluation.smoke.checked':
      return 'smoke';
    case 'evaluation.completed':
      return 'report';
    default:
      return null;
  }
}

/**
 * What to append when `producer` gives up on `event`: an experiment.failed for the event's run,
 * naming the stage and the last error, so `assay run` and the registry say "failed at evaluation:
 * ..." instead of waiting for a run that will never end. Nothing when the event belongs to no run,
 * the stage does not stop runs, or the attempt has already ended (a failed re-evaluation of a
 * completed run leaves it completed; its dead letter keeps the error).
 */
export async function runFailureOnGiveUp(sql: Sql, event: AssayEvent, reason: string, producer: string, codeVersion: string): Promise<StreamAppend[]> {
  const stage = stageOfGivenUp(event.type);
  const { identity, attempt } = event.data as { identity?: unknown; attempt?: unknown };
  if (stage === null || typeof identity !== 'string' || typeof attempt !== 'number') return [];
  const stream = experimentStream(identity);
  const [started] = (await findInStream(sql, stream, 'experiment.started', { attempt })) as unknown as ExperimentStarted[];
  if (!started) return [];
  if ((await attemptEnd(sql, identity, attempt)) !== null) return [];
  const failed = createEvent(
    'experiment.failed',
    {
      requestId: started.data.requestId,
      identity,
      attempt,
      stage,
      error: `${producer} gave up on ${event.type} ${event.id}: ${reason}`,
      details: [`the message is kept in the dead_letters table (message_id ${event.id}); fix the cause, then 'assay run --force'${stage === 'evaluation' || stage === 'report' ? ` or, when inference finished, 'assay reevaluate ${identity}'` : ''}`],
    },
    causedBy(event, stream, producer, codeVersion),
  );
  return [{ stream, expected: 'any', events: [failed] }];
}
