import { createEvent, experimentStream, type ExperimentCancelled, type RequestedBy } from '@assay/contracts';
import { lockStream, readStream, type EventStore } from '@assay/event-store';
import { decideCancel, entryFromStream, REGISTRY_EVENT_TYPES, type CancelDecision } from './registry';

export type CancelOutcome = Extract<CancelDecision, { kind: 'refuse' }> | { kind: 'cancelled'; event: ExperimentCancelled; runDir: string };

/**
 * `assay cancel` and `POST /api/experiments/:identity/cancel`: records experiment.cancelled for the
 * identity's running attempt, decided under the stream's lock (so a run completing at the same
 * moment is either completed or cancelled, never both), and published after commit when the store
 * has a publisher (otherwise a service's outbox relay publishes it).
 */
export async function cancelRunning(store: EventStore, identity: string, cancel: { reason: string; by: RequestedBy; producer: string; codeVersion: string }): Promise<CancelOutcome> {
  const stream = experimentStream(identity);
  return store.decideAndAppend<CancelOutcome>(async (sql) => {
    await lockStream(sql, stream);
    const events = await readStream(sql, stream, { types: REGISTRY_EVENT_TYPES });
    const decision = decideCancel(entryFromStream(events, identity), identity);
    if (decision.kind === 'refuse') return { appends: [], result: decision };
    const started = events.find((e) => e.type === 'experiment.started' && (e.data as { attempt: number }).attempt === decision.attempt)!;
    const event = createEvent(
      'experiment.cancelled',
      { identity, attempt: decision.attempt, reason: cancel.reason, kind: 'cancel', by: cancel.by, requestId: null },
      { stream, correlationId: started.metadata.correlationId, causationId: null, producer: cancel.producer, codeVersion: cancel.codeVersion },
    );
    return { appends: [{ stream, expected: 'any', events: [event] }], result: { kind: 'cancelled', event, runDir: decision.runDir } };
  });
}
