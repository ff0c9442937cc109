import type { AnyEnvelope, ExperimentCompleted, ExperimentFailed, ExperimentSkipped, ExperimentStarted, FailureStage } from '@assay/contracts';

/**
 * The registry (what ran, with which outcome, where; so nothing is run twice by accident) is a
 * projection of the log: folded from experiment events, never stored apart.
 *
 * `smoke_passed` is a --smoke-only run that stopped after its smoke test passed: it produced no
 * results, so it is not "completed" and a later normal request of the identity runs in full.
 */
export type RegistryStatus = 'running' | 'completed' | 'smoke_passed' | 'failed' | 'skipped';

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
  /** Requests answered by "already completed/running" since the last start. */
  skippedRequests: number;
  dataHashes: Record<string, string>;
}

export const REGISTRY_EVENT_TYPES = ['experiment.started', 'experiment.skipped', 'experiment.completed', 'experiment.failed'];

type RegistryEvent = ExperimentStarted | ExperimentSkipped | ExperimentCompleted | ExperimentFailed;

/** evolve(): one event applied to the registry; events must come in log order. */
export function evolveRegistry(registry: Map<string, RegistryEntry>, envelope: AnyEnvelope): Map<string, RegistryEntry> {
  const event = envelope as RegistryEvent;
  switch (event.type) {
    case 'experiment.started': {
      const d = event.data;
      registry.set(d.identity, {
        identity: d.identity,
        method: d.method,
        name: String((d.config as { name?: unknown }).name ?? d.method),
        status: 'running',
        attempt: d.attempt,
        runDir: d.runDir,
        codeVersion: d.codeVersion,
        startedAt: event.occurredAt,
        finishedAt: null,
        reevaluatedAt: null,
        summary: {},
        failure: registry.get(d.identity)?.failure ?? null,
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
    default:
      return registry;
  }
}

function isReevaluation(summary: Record<string, number | string | null>): boolean {
  const round = summary.evaluation_round;
  return typeof round === 'number' && round > 1;
}

export function foldRegistry(events: AnyEnvelope[]): RegistryEntry[] {
  const registry = new Map<string, RegistryEntry>();
  for (const e of events) evolveRegistry(registry, e);
  return [...registry.values()].sort((a, b) => (a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : a.identity < b.identity ? -1 : 1));
}

/**
 * What to do with a request, given the identity's registry entry: skip a completed identity,
 * attach to a running one, else run.
 */
export type RequestDecision =
  | { kind: 'skip'; reason: 'already_completed' | 'already_running'; attempt: number; runDir: string }
  | { kind: 'start'; attempt: number; previousFailure: RegistryEntry['failure'] };

export function decideRequest(entry: RegistryEntry | undefined, force: boolean): RequestDecision {
  if (!entry) return { kind: 'start', attempt: 1, previousFailure: null };
  switch (entry.status) {
    case 'running':
      // A second request for a running identity attaches to it, forced or not: never two at once.
      return { kind: 'skip', reason: 'already_running', attempt: entry.attempt, runDir: entry.runDir };
    case 'completed':
      return force
        ? { kind: 'start', attempt: entry.attempt + 1, previousFailure: entry.failure }
        : { kind: 'skip', reason: 'already_completed', attempt: entry.attempt, runDir: entry.runDir };
    // A failure is recorded, not a reason to refuse: the new attempt carries it so the user sees
    // what failed last time. A smoke-only pass has no results to reuse.
    case 'failed':
    case 'smoke_passed':
    case 'skipped':
      return { kind: 'start', attempt: entry.attempt + 1, previousFailure: entry.failure };
    default: {
      const never: never = entry.status;
      throw new Error(`unknown registry status ${String(never)}`);
    }
  }
}

/** Reads one identity's registry entry from its stream (the projection, folded on read). */
export function entryFromStream(events: AnyEnvelope[], identity: string): RegistryEntry | undefined {
  return foldRegistry(events.filter((e) => REGISTRY_EVENT_TYPES.includes(e.type))).find((e) => e.identity === identity);
}
