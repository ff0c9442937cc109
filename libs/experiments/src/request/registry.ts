import type { AssayEvent, AssayEventType, ExperimentCancelled, FailureStage } from '@assay/contracts';

/**
 * The registry (what ran, with which outcome, where; so nothing is run twice by accident) is a
 * projection of the log: folded from experiment events, never stored apart.
 *
 * `smoke_passed` is a --smoke-only run that stopped after its smoke test passed: it produced no
 * results, so it is not "completed" and a later normal request of the identity runs in full.
 * `cancelled` is an attempt stopped on purpose (`assay cancel`, or abandoned by a forced request
 * after a silence); like a failure, the next request starts a new attempt.
 */
export type RegistryStatus = 'running' | 'completed' | 'smoke_passed' | 'failed' | 'skipped' | 'cancelled';

export interface RegistryEntry {
  identity: string;
  method: string;
  name: string;
  status: RegistryStatus;
  attempt: number;
  runDir: string;
  codeVersion: string;
  startedAt: string;
  /** When the attempt's own pipeline ended (completed or failed); a later re-evaluation leaves it as it is. */
  finishedAt: string | null;
  /** When the latest re-evaluation round (`assay reevaluate`, round 2 and on) completed; null before any. */
  reevaluatedAt: string | null;
  summary: Record<string, number | string | null>;
  failure: { attempt: number; stage: FailureStage; error: string } | null;
  /** Set while the latest attempt is the cancelled one: why, and by whom (`user@host`). */
  cancellation: { attempt: number; kind: ExperimentCancelled['data']['kind']; reason: string; by: string } | null;
  /** Requests answered by "already completed/running" since the last start. */
  skippedRequests: number;
  dataHashes: Record<string, string>;
}

export const REGISTRY_EVENT_TYPES = ['experiment.started', 'experiment.skipped', 'experiment.completed', 'experiment.failed', 'experiment.cancelled'] as const satisfies readonly AssayEventType[];
const isRegistryType = (type: string): boolean => REGISTRY_EVENT_TYPES.some((t) => t === type);

/** evolve(): one event applied to the registry; events must come in log order. */
export function evolveRegistry(registry: Map<string, RegistryEntry>, event: AssayEvent): Map<string, RegistryEntry> {
  switch (event.type) {
    case 'experiment.started': {
      const d = event.data;
      registry.set(d.identity, {
        identity: d.identity,
        method: d.method,
        name: typeof d.config.name === 'string' ? d.config.name : d.method,
        status: 'running',
        attempt: d.attempt,
        runDir: d.runDir,
        codeVersion: d.codeVersion,
        startedAt: event.occurredAt,
        finishedAt: null,
        reevaluatedAt: null,
        summary: {},
        failure: registry.get(d.identity)?.failure ?? null,
        cancellation: null,
        skippedRequests: 0,
        dataHashes: d.dataHashes,
      });
      return registry;
    }
    case 'experiment.skipped': {
      const entry = registry.get(event.data.identity);
      if (entry) entry.skippedRequests += 1;
      return registry;
    }
    case 'experiment.completed': {
      const entry = registry.get(event.data.identity);
      if (entry && entry.attempt === event.data.attempt) {
        entry.status = event.data.smokeOnly ? 'smoke_passed' : 'completed';
        // A re-evaluation round completes the attempt again (with the new round's numbers), but
        // the run did not finish again: its time is kept apart. Summaries logged before rounds
        // existed have no evaluation_round, and were round 1.
        if (isReevaluation(event.data.summary) && entry.finishedAt !== null) entry.reevaluatedAt = event.occurredAt;
        else entry.finishedAt = event.occurredAt;
        entry.summary = event.data.summary;
      }
      return registry;
    }
    case 'experiment.failed': {
      const d = event.data;
      if (d.identity === null || d.attempt === null) return registry; // failed before it had an identity
      const entry = registry.get(d.identity);
      if (entry && entry.attempt === d.attempt) {
        entry.status = 'failed';
        entry.finishedAt = event.occurredAt;
        entry.failure = { attempt: d.attempt, stage: d.stage, error: d.error };
      }
      return registry;
    }
    case 'experiment.cancelled': {
      const d = event.data;
      const entry = registry.get(d.identity);
      // Only a running attempt can be cancelled; the commands check that under the stream lock.
      if (entry && entry.attempt === d.attempt && entry.status === 'running') {
        entry.status = 'cancelled';
        entry.finishedAt = event.occurredAt;
        entry.cancellation = { attempt: d.attempt, kind: d.kind, reason: d.reason, by: `${d.by.user}@${d.by.host}` };
      }
      return registry;
    }
    default:
      return registry;
  }
}

function isReevaluation(summary: Record<string, number | string | null>): boolean {
  const round = summary.evaluation_round;
  return typeof round === 'number' && round > 1;
}

export function foldRegistry(events: readonly AssayEvent[]): RegistryEntry[] {
  const registry = new Map<string, RegistryEntry>();
  for (const e of events) evolveRegistry(registry, e);
  return [...registry.values()].sort((a, b) => (a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : a.identity < b.identity ? -1 : 1));
}

/**
 * How long a running attempt's stream may stay silent (no event appended) before a `--force`
 * request abandons it and starts a new attempt. Ten minutes: twice what a hung model server can
 * hold one prompt with the default timeout and retries (60 s x 5 tries plus backoff), so a run
 * that is slow but alive is never taken for dead.
 */
export const DEFAULT_STALE_AFTER_S = 600;

/** What to do with a request, given the identity's registry entry: a run is never repeated by accident, never run twice at once. */
export type RequestDecision =
  | { kind: 'skip'; reason: 'already_completed' | 'already_running'; attempt: number; runDir: string }
  | {
      kind: 'start';
      attempt: number;
      previousFailure: RegistryEntry['failure'];
      /** A running attempt this start replaces (forced, its stream silent for `idleS` seconds): record it as abandoned. */
      abandon: { attempt: number; idleS: number; staleAfterS: number } | null;
    };

/** How long the identity's stream has been silent, and how long a forced request lets it be before abandoning it. */
export interface StreamActivity {
  idleS: number;
  staleAfterS: number;
}

export function decideRequest(entry: RegistryEntry | undefined, force: boolean, activity: StreamActivity | null = null): RequestDecision {
  if (!entry) return { kind: 'start', attempt: 1, previousFailure: null, abandon: null };
  const next = { kind: 'start' as const, attempt: entry.attempt + 1, previousFailure: entry.failure, abandon: null };
  switch (entry.status) {
    case 'running':
      // A forced request for an attempt nothing has happened to for too long (its workers died,
      // its messages are gone) replaces it; otherwise a second request attaches: never two at once.
      if (force && activity && activity.idleS >= activity.staleAfterS) {
        return { ...next, abandon: { attempt: entry.attempt, idleS: activity.idleS, staleAfterS: activity.staleAfterS } };
      }
      return { kind: 'skip', reason: 'already_running', attempt: entry.attempt, runDir: entry.runDir };
    case 'completed':
      return force ? next : { kind: 'skip', reason: 'already_completed', attempt: entry.attempt, runDir: entry.runDir };
    // A failure is recorded, not a reason to refuse: the new attempt carries it so the user sees
    // what failed last time. A smoke-only pass has no results to reuse; a cancelled attempt was
    // stopped on purpose.
    case 'failed':
    case 'smoke_passed':
    case 'skipped':
    case 'cancelled':
      return next;
    default: {
      const never: never = entry.status;
      throw new Error(`unknown registry status ${String(never)}`);
    }
  }
}

/** Reads one identity's registry entry from its stream (the projection, folded on read). */
export function entryFromStream(events: readonly AssayEvent[], identity: string): RegistryEntry | undefined {
  return foldRegistry(events.filter((e) => isRegistryType(e.type))).find((e) => e.identity === identity);
}

/** Why a forced request abandoned a running attempt, for its experiment.cancelled event. */
export function abandonedReason(abandon: { idleS: number; staleAfterS: number }, replacedBy: number): string {
  return `no event in its stream for ${Math.round(abandon.idleS)} s (stale after ${abandon.staleAfterS} s): abandoned by a --force request, which started attempt ${replacedBy}`;
}

/** What `assay cancel` (or its HTTP twin) may do with an identity, given its registry entry. */
export type CancelDecision =
  | { kind: 'cancel'; attempt: number; runDir: string }
  | { kind: 'refuse'; problem: 'unknown' | 'not_running'; reason: string };

export function decideCancel(entry: RegistryEntry | undefined, identity: string): CancelDecision {
  if (!entry) return { kind: 'refuse', problem: 'unknown', reason: `no experiment '${identity}' in the registry (assay status lists them)` };
  if (entry.status !== 'running') {
    return { kind: 'refuse', problem: 'not_running', reason: `${identity} is not running: attempt ${entry.attempt} is ${entry.status}${entry.finishedAt ? ` (since ${entry.finishedAt})` : ''}; nothing to cancel` };
  }
  return { kind: 'cancel', attempt: entry.attempt, runDir: entry.runDir };
}
