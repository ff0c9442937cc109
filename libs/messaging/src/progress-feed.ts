import { ProgressUpdate, progressSubject, Subjects } from '@assay/contracts';
import type { Subscription } from '@nats-io/nats-core';
import type { JetStreamHandle } from './connection';
import { wireSubject } from './nats-config';
import { ATTEMPT_END_SUBJECTS, subscribeRunEvents } from './run-event-subscription';

/** What a follower of every run hears: progress deltas, and attempts starting and ending. */
export type RunSignal =
  | { kind: 'progress'; update: ProgressUpdate }
  | { kind: 'started' | 'ended'; identity: string; attempt: number; type: string };


/**
 * The live progress of all runs for a viewer (the reporter's web pages): the same core NATS
 * `progress.<identity>` messages the CLI follows, plus the start and end events (on the subjects
 * the JetStream stream captures), fanned out to listeners. Subscribes while someone listens only.
 * Core NATS may drop a message while disconnected: progress is for eyes, the log stays the truth.
 */
export class ProgressFeed {
  private readonly listeners = new Set<(signal: RunSignal) => void>();
  private subscriptions: Subscription[] = [];

  constructor(private readonly handle: JetStreamHandle) {}

  /** Calls `listener` for every signal until the returned function is called. */
  listen(listener: (signal: RunSignal) => void): () => void {
    this.listeners.add(listener);
    if (this.subscriptions.length === 0) this.subscribe();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.close();
    };
  }

  close(): void {
    for (const s of this.subscriptions) s.unsubscribe();
    this.subscriptions = [];
  }

  private emit(signal: RunSignal): void {
    for (const listener of [...this.listeners]) listener(signal);
  }

  private subscribe(): void {
    const { settings, nc } = this.handle;
    const progress = nc.subscribe(wireSubject(settings, progressSubject('*')), {
      callback: (error, msg) => {
        if (error) return;
        const parsed = ProgressUpdate.safeParse(msg.json());
        // A malformed progress message is dropped: progress is for eyes, never in the log.
        if (parsed.success) this.emit({ kind: 'progress', update: parsed.data });
      },
    });
    const lifecycle = subscribeRunEvents(this.handle, [Subjects['experiment.started'], ...ATTEMPT_END_SUBJECTS], (event, { identity, attempt }) =>
      this.emit({ kind: event.type === 'experiment.started' ? 'started' : 'ended', identity, attempt, type: event.type }),
    );
    this.subscriptions = [progress, ...lifecycle];
  }
}
