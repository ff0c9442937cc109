import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { ProgressUpdate } from '@assay/contracts';
import { EventStore } from '@assay/event-store';
import { applyProgress, loggedProgress, progressLine, type ProgressState, type RegistryEntry } from '@assay/experiments';
import { ProgressFeed } from '@assay/messaging';
import type { LiveProgress } from '@assay/viewer';
import { errorMessage } from '@assay/contracts';

export type LiveMessage = { type: 'progress'; data: LiveProgress } | { type: 'started' | 'ended'; data: { identity: string; attempt: number; event: string } };

interface Tracked {
  attempt: number;
  phase: ProgressUpdate['phase'];
  /** Null while the attempt's starting point is read from the log. */
  state: ProgressState | null;
}

/**
 * Live progress of running attempts for the web pages: folds the progress messages the services
 * already publish (the CLI's arithmetic, libs/experiments progress-view) and pushes each change to
 * the open pages (server-sent events). The log is read once per attempt and phase, for its plan
 * and committed count, never per message or per second. Listens only while a page is open or a
 * page has asked for progress.
 */
@Injectable()
export class LiveProgressHub implements OnModuleDestroy {
  private readonly logger = new Logger('viewer');
  private readonly tracked = new Map<string, Tracked>();
  private readonly clients = new Set<(message: LiveMessage) => void>();
  private unlisten: (() => void) | null = null;

  constructor(
    private readonly feed: ProgressFeed,
    private readonly store: EventStore,
  ) {}

  onModuleDestroy(): void {
    this.unlisten?.();
    this.unlisten = null;
  }

  /** Progress of the running entries (read from the log the first time each is seen). */
  async snapshot(running: readonly Pick<RegistryEntry, 'identity' | 'attempt' | 'status'>[]): Promise<Map<string, LiveProgress>> {
    this.listen();
    const out = new Map<string, LiveProgress>();
    for (const e of running.filter((r) => r.status === 'running')) {
      let t: Tracked | null | undefined = this.tracked.get(e.identity);
      if (!t || t.attempt !== e.attempt) t = await this.load(e.identity, e.attempt, null);
      if (t?.state) out.set(e.identity, view(e.identity, t, Date.now()));
    }
    return out;
  }

  /** Sends every change to `send` until the returned function is called; starts with what is known. */
  subscribe(send: (message: LiveMessage) => void): () => void {
    this.listen();
    for (const [identity, t] of this.tracked) if (t.state) send({ type: 'progress', data: view(identity, t, Date.now()) });
    this.clients.add(send);
    return () => this.clients.delete(send);
  }

  private listen(): void {
    if (this.unlisten) return;
    this.unlisten = this.feed.listen((signal) => {
      if (signal.kind === 'progress') return this.onProgress(signal.update);
      if (signal.kind === 'ended') this.tracked.delete(signal.identity);
      this.broadcast({ type: signal.kind, data: { identity: signal.identity, attempt: signal.attempt, event: signal.type } });
    });
  }

  private onProgress(u: ProgressUpdate): void {
    const t = this.tracked.get(u.identity);
    if (!t || t.attempt !== u.attempt || t.phase !== u.phase) {
      // A new attempt or phase: its starting point comes from the log, which already counts what
      // was committed before this message was sent.
      void this.load(u.identity, u.attempt, u.phase).then((loaded) => loaded?.state && this.broadcast({ type: 'progress', data: view(u.identity, loaded, Date.now()) }));
      return;
    }
    if (!t.state) return; // still loading: the log's count includes it
    t.state = applyProgress(t.state, u, Date.now());
    this.broadcast({ type: 'progress', data: view(u.identity, t, Date.now()) });
  }

  private async load(identity: string, attempt: number, phase: ProgressUpdate['phase'] | null): Promise<Tracked | null> {
    const pending: Tracked = { attempt, phase: phase ?? 'full', state: null };
    this.tracked.set(identity, pending);
    try {
      const { state, end } = await this.store.read((sql) => loggedProgress(sql, identity, attempt, Date.now()));
      if (this.tracked.get(identity) !== pending) return null; // superseded meanwhile
      if (end) {
        this.tracked.delete(identity);
        return null;
      }
      pending.phase = state.phase;
      pending.state = state;
      return pending;
    } catch (error) {
      if (this.tracked.get(identity) === pending) this.tracked.delete(identity);
      this.logger.warn(`live progress of ${identity} attempt ${attempt}: cannot read its plan from the log: ${errorMessage(error)}`);
      return null;
    }
  }

  private broadcast(message: LiveMessage): void {
    for (const send of [...this.clients]) send(message);
  }
}

function view(identity: string, t: Tracked, nowMs: number): LiveProgress {
  const s = t.state!;
  return {
    identity,
    attempt: t.attempt,
    phase: s.phase,
    stage: s.stage,
    done: s.done,
    total: s.total,
    parseFailures: s.parseFailures,
    inferenceFailures: s.inferenceFailures,
    line: progressLine(s, nowMs),
  };
}
