import { parseEvent, Subjects, type AssayEvent } from '@assay/contracts';
import type { Subscription } from '@nats-io/nats-core';
import type { JetStreamHandle } from './connection';
import { logicalSubject, wireSubject } from './nats-config';

/** The events after which an attempt can no longer complete. */
export const ATTEMPT_END_SUBJECTS = [Subjects['experiment.cancelled'], Subjects['experiment.failed'], Subjects['experiment.completed']];

/**
 * Core NATS subscriptions to run events (on the subjects the JetStream stream captures), for live
 * signals only: each message is parsed and handed over with the run it concerns. A message that
 * does not parse, or names no identity and attempt, is skipped: not ours to judge, the durable
 * consumers dead-letter invalid events.
 */
export function subscribeRunEvents(
  handle: JetStreamHandle,
  subjects: readonly string[],
  onEvent: (event: AssayEvent, run: { identity: string; attempt: number }) => void,
): Subscription[] {
  const { settings, nc } = handle;
  return subjects.map((subject) =>
    nc.subscribe(wireSubject(settings, subject), {
      callback: (error, msg) => {
        if (error) return;
        let event: AssayEvent;
        try {
          event = parseEvent(msg.json(), logicalSubject(settings, msg.subject));
        } catch {
          return;
        }
        const data: object = event.data;
        const identity = 'identity' in data ? data.identity : undefined;
        const attempt = 'attempt' in data ? data.attempt : undefined;
        if (typeof identity === 'string' && typeof attempt === 'number') onEvent(event, { identity, attempt });
      },
    }),
  );
}
