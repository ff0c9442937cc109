import { experimentStream, type AssayEvent, type ExperimentCancelled, type RequestedBy } from '@assay/contracts';
import { lockStream, type EventStore, type Sql, type StreamAppend } from '@assay/event-store';
import { stageOfGivenUp } from '../request/give-up';
import { decide } from './decide';
import { loadExperiment } from './load';

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
 * `assay cancel` and `POST /api/experiments/:identity/cancel`: the decider's cancel, decided and
 * appended under the stream's lock, so a run completing at the same moment is either completed or
 * cancelled, never both. The lock rather than a version check alone: a running experiment's
 * workers append answers all the time, and a cancel must not lose to them again and again.
 * Published after commit when the store has a publisher (otherwise a service's outbox relay
 * publishes it).
 */
export async function cancelRunning(store: EventStore, identity: string, cancel: { reason: string; by: RequestedBy; producer: string; codeVersion: string }): Promise<CancelOutcome> {
  const stream = experimentStream(identity);
  return store.decideAndAppend<CancelOutcome>(async (sql) => {
    await lockStream(sql, stream);
    const state = await loadExperiment(sql, identity);
    const decision = decide({ type: 'cancel', identity, reason: cancel.reason, requestedBy: cancel.by, by: { producer: cancel.producer, codeVersion: cancel.codeVersion } }, state);
    if (decision.kind === 'refuse') return { appends: [], result: decision };
    const [event] = decision.kind === 'append' ? decision.events : [];
    if (event?.type !== 'experiment.cancelled') throw new Error(`a cancel decided ${event?.type ?? decision.kind}`);
    const runDir = state.attempts.get(event.data.attempt)!.started.data.runDir;
    return { appends: [{ stream, expected: state.version, events: [event] }], result: { kind: 'cancelled', event, runDir } };
  });
}
