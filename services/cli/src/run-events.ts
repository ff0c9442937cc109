import type { AssayEvent } from '@assay/contracts';

/** What one `assay run` follows: its own request, and the attempt that request was answered with. */
export interface Following {
  requestId: string;
  identity: string | null;
  attempt: number | null;
}

/** The planner's answers to a request: only the request's own CLI may act on them. */
const ANSWERS = new Set(['experiment.requested', 'experiment.started', 'experiment.skipped']);

/**
 * Whether a CLI following `f` should react to an event. Several CLIs may follow one identity (each
 * ran the same config): each reacts to its own request's answer ("started", or "already running:
 * attaching") and to the events of the attempt it follows (planned, completed, failed), never to
 * another CLI's answer, which would make it attach again and start its count over.
 */
export function concernsRun(event: AssayEvent, f: Following): boolean {
  if (event.metadata.correlationId === f.requestId) return true;
  if (ANSWERS.has(event.type)) return false;
  const d = event.data;
  return f.identity !== null && 'identity' in d && d.identity === f.identity && 'attempt' in d && d.attempt === f.attempt;
}
