import type { Subscription } from '@nats-io/nats-core';
import type { JetStreamHandle } from './connection';
import { ATTEMPT_END_SUBJECTS, subscribeRunEvents } from './run-event-subscription';

/** Ended attempts remembered, so a batch arriving after the end event is dropped without a look at the log. */
const REMEMBERED = 1000;

export interface AttemptWork {
  /** Fires when the attempt ends (cancelled, failed, completed): calls in flight are to be dropped. */
  signal: AbortSignal;
  /** Call when the work is over, aborted or not. */
  release(): void;
}

/**
 * Tells a worker's in-flight work that its attempt ended, the moment the end event is published:
 * a core NATS subscription to the end events (they travel on the same subjects the JetStream
 * stream captures). Core NATS may miss a message while disconnected, so workers also look in the
 * log before they start a batch; this is what stops the calls already running.
 */
export class AttemptWatch {
  private readonly live = new Map<string, { controller: AbortController; users: number }>();
  private readonly ended = new Map<string, string>();
  private subscriptions: Subscription[] | null = null;

  constructor(private readonly handle: JetStreamHandle) {}

  /** Work for one attempt: its signal is shared by every batch of the attempt this process runs. */
  watch(identity: string, attempt: number): AttemptWork {
    this.subscribe();
    const key = keyOf(identity, attempt);
    let entry = this.live.get(key);
    if (!entry) {
      entry = { controller: new AbortController(), users: 0 };
      const reason = this.ended.get(key);
      if (reason !== undefined) entry.controller.abort(new Error(reason));
      this.live.set(key, entry);
    }
    entry.users++;
    const held = entry;
    let released = false;
    return {
      signal: held.controller.signal,
      release: () => {
        if (released) return;
        released = true;
        if (--held.users === 0 && this.live.get(key) === held) this.live.delete(key);
      },
    };
  }

  /** Records an end (from the live event, or found in the log) and aborts the attempt's work. */
  end(identity: string, attempt: number, reason: string): void {
    const key = keyOf(identity, attempt);
    if (!this.ended.has(key)) {
      this.ended.set(key, reason);
      if (this.ended.size > REMEMBERED) this.ended.delete(this.ended.keys().next().value!);
    }
    this.live.get(key)?.controller.abort(new Error(reason));
  }

  close(): void {
    for (const s of this.subscriptions ?? []) s.unsubscribe();
    this.subscriptions = [];
  }

  /** Subscribes on first use: only the processes that run attempts' work listen. */
  private subscribe(): void {
    if (this.subscriptions) return;
    // After an end event the attempt's remaining work is pointless.
    this.subscriptions = subscribeRunEvents(this.handle, ATTEMPT_END_SUBJECTS, (event, { identity, attempt }) => this.end(identity, attempt, `${event.type} (attempt ${attempt})`));
  }
}

function keyOf(identity: string, attempt: number): string {
  return `${identity}#${attempt}`;
}
