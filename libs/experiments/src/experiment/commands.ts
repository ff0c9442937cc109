import { experimentStream, type AssayEvent, type ExperimentCancelled, type RequestedBy } from '@assay/contracts';
import { lockStream, VersionConflictError, type EventStore, type Sql, type StreamAppend } from '@assay/event-store';
import { TransientError } from '@assay/messaging';
import { stageOfGivenUp } from '../give-up';
import { decide } from './decide';
import { loadExperiment, MAX_CONFLICT_RETRIES } from './load';

/**
 * What to append when `producer` gives up on `event` (a dead letter after every redelivery
 * failed): the decider's give_up, so `assay run` and the registry say "failed at evaluation: ..."
 * instead of waiting for a run that will never end.
 *
 * This one keeps the stream lock: it runs inside the transaction that records the dead letter,
 * which the service runtime owns and would roll back (dead letter included) on a version
 * conflict, with no message left to redeliver. Under the lock no append can come between the load
 * and this append, so the expected version holds.
 */
export async function runFailureOnGiveUp(sql: Sql, event: AssayEvent, reason: string, producer: string, codeVersion: string): Promise<StreamAppend[]> {
  if (stageOfGivenUp(event.type) === null || !('identity' in event.data) || typeof event.data.identity !== 'string') return [];
  const stream = experimentStream(event.data.identity);
  await lockStream(sql, stream);
  const state = await loadExperiment(sql, event.data.identity);
  const decision = decide({ type: 'give_up', event, reason, by: { producer, codeVersion } }, state);
  if (decision.kind !== 'append' || decision.events.length === 0) return [];
  return [{ stream, expected: state.version, events: decision.events }];
}

export type CancelOutcome = { kind: 'refuse'; problem: 'unknown' | 'not_running'; reason: string } | { kind: 'cancelled'; event: ExperimentCancelled; runDir: string };

/**
 * `assay cancel` and `POST /api/experiments/:identity/cancel`: the decider's cancel, appended at
 * the version it was decided on, so a run completing at the same moment is either completed or
 * cancelled, never both (the loser decides again on the winner's events). Published after commit
 * when the store has a publisher (otherwise a service's outbox relay publishes it).
 */
export async function cancelRunning(store: EventStore, identity: string, cancel: { reason: string; by: RequestedBy; producer: string; codeVersion: string }): Promise<CancelOutcome> {
  const stream = experimentStream(identity);
  for (let tries = 1; tries <= MAX_CONFLICT_RETRIES; tries++) {
    const state = await store.read((sql) => loadExperiment(sql, identity));
    const decision = decide({ type: 'cancel', identity, reason: cancel.reason, requestedBy: cancel.by, by: { producer: cancel.producer, codeVersion: cancel.codeVersion } }, state);
    if (decision.kind === 'refuse') return decision;
    if (decision.kind !== 'append') throw new Error(`unexpected ${decision.kind} decision on a cancel`);
    const [event] = decision.events;
    if (event?.type !== 'experiment.cancelled') throw new Error(`a cancel decided ${event?.type ?? 'nothing'}`);
    try {
      await store.append([{ stream, expected: state.version, events: [event] }]);
      return { kind: 'cancelled', event, runDir: state.attempts.get(event.data.attempt)!.started.data.runDir };
    } catch (error) {
      if (!(error instanceof VersionConflictError)) throw error;
    }
  }
  throw new TransientError(`${stream} changed under ${MAX_CONFLICT_RETRIES} cancel decisions in a row; try again`);
}
