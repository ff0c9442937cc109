import { experimentStream } from '@assay/contracts';
import { committedPromptCount, findEvents, type Sql } from '@assay/event-store';
import { attemptEnd, type AttemptEnd } from './attempt-end';
import { newProgress, type ProgressState } from './progress-view';

/**
 * Progress of an attempt as the log knows it (its latest plan, its committed prompts, its end if
 * it already ended): where a follower that did not start the run begins, before live deltas.
 */
export async function loggedProgress(sql: Sql, identity: string, attempt: number, nowMs: number): Promise<{ state: ProgressState; end: AttemptEnd | null }> {
  const stream = experimentStream(identity);
  const plans = await findEvents(sql, stream, 'experiment.planned', { attempt });
  const planned = plans[plans.length - 1];
  const end = await attemptEnd(sql, identity, attempt);
  const committed = planned ? await committedPromptCount(sql, stream, attempt, planned.data.phase) : 0;
  return { state: newProgress(planned?.data.phase ?? 'full', nowMs, planned?.data.prompts ?? null, committed), end };
}
