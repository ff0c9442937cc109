import type { AssayEvent, ExperimentStarted, ReportGenerated } from '@assay/contracts';
import { entryFromStream, REGISTRY_EVENT_TYPES, type RegistryEntry } from '@assay/experiments';

/** The event types experimentDetail folds: a reader that left one out would get, say, no evaluated attempts. */
export const EXPERIMENT_DETAIL_EVENT_TYPES = [...REGISTRY_EVENT_TYPES, 'report.generated', 'evaluation.completed'] as const;

/** What `GET /api/experiments/:identity` answers, less the metrics (read from the run directory). */
export interface ExperimentDetail {
  identity: string;
  name: string;
  method: string;
  status: RegistryEntry['status'];
  attempt: number;
  codeVersion: string;
  startedAt: string;
  finishedAt: string | null;
  runDir: string;
  /** The resolved config of the attempt shown, as the experiment.started event recorded it (no secrets by construction). */
  config: Record<string, unknown>;
  summary: RegistryEntry['summary'];
  failure: RegistryEntry['failure'];
  cancellation: RegistryEntry['cancellation'];
  /** The last report written for this attempt, if any. */
  report: { files: number; treeHash: string } | null;
  /** Attempts that reached evaluation, i.e. what a replay can rebuild. */
  evaluatedAttempts: number[];
}

/**
 * Folds one experiment stream (in stream order) into its detail; undefined when the identity never
 * started (no experiment.started event). Pure: the same events give the same answer.
 */
export function experimentDetail(events: readonly AssayEvent[], identity: string): ExperimentDetail | undefined {
  const entry = entryFromStream(events, identity);
  if (!entry) return undefined;
  const started = events.find((e): e is ExperimentStarted => e.type === 'experiment.started' && e.data.attempt === entry.attempt);
  const reports = events.filter((e): e is ReportGenerated => e.type === 'report.generated' && e.data.attempt === entry.attempt);
  const report = reports[reports.length - 1];
  const evaluatedAttempts = [...new Set(events.flatMap((e) => (e.type === 'evaluation.completed' ? [e.data.attempt] : [])))].sort((a, b) => a - b);
  return {
    identity: entry.identity,
    name: entry.name,
    method: entry.method,
    status: entry.status,
    attempt: entry.attempt,
    codeVersion: entry.codeVersion,
    startedAt: entry.startedAt,
    finishedAt: entry.finishedAt,
    runDir: entry.runDir,
    config: started?.data.config ?? {},
    summary: entry.summary,
    failure: entry.failure,
    cancellation: entry.cancellation,
    report: report ? { files: report.data.files, treeHash: report.data.treeHash } : null,
    evaluatedAttempts,
  };
}
