import { isPlainObject } from '@assay/config';
import type {
  AnyEnvelope,
  EvaluationCompleted,
  ExperimentFailed,
  ExperimentPlanned,
  ExperimentStarted,
  InferenceBatchRequested,
  InferenceCompleted,
  InferenceFailed,
} from '@assay/contracts';

/**
 * Evaluation rounds: re-evaluation without re-inference, since model calls are the expensive stage
 * and parsing or scoring fixes must not cost them again. Round 1 is the evaluation made
 * during the run; `assay reevaluate` adds round n+1, scored from the same logged inference
 * results by the evaluator's current code. The run directory shows the latest round.
 */

/** The round of an evaluation event as stored: events logged before rounds existed are round 1. */
export function roundOf(event: AnyEnvelope): number {
  const round = dataField(event, 'round');
  if (round === undefined || round === null) return 1;
  if (typeof round !== 'number') throw new Error(`${event.type} ${event.id}: round must be a number, got ${JSON.stringify(round)}`);
  return round;
}

function attemptOf(event: AnyEnvelope): unknown {
  return dataField(event, 'attempt');
}

/** A field of an event's data as stored, undefined when absent (the events given are of every type, not all have it). */
function dataField(event: AnyEnvelope, key: string): unknown {
  return isPlainObject(event.data) ? event.data[key] : undefined;
}

export interface EvaluationRoundInfo {
  attempt: number;
  round: number;
  evaluatorVersion: string;
  /** Code version of the evaluator process that scored it. */
  codeVersion: string;
  evaluatedAt: string;
  reevaluation: EvaluationCompleted['data']['reevaluation'];
}

/** Every completed evaluation round of a stream's events, attempt then round order. */
export function evaluationRounds(events: AnyEnvelope[]): EvaluationRoundInfo[] {
  return events
    .filter((e): e is EvaluationCompleted => e.type === 'evaluation.completed')
    .map((e) => ({
      attempt: e.data.attempt,
      round: roundOf(e),
      evaluatorVersion: e.data.evaluatorVersion,
      codeVersion: e.metadata.codeVersion,
      evaluatedAt: e.occurredAt,
      reevaluation: e.data.reevaluation ?? null,
    }))
    .sort((a, b) => a.attempt - b.attempt || a.round - b.round);
}

/** What the run directory shows: the latest round of the latest evaluated attempt (null: none yet). */
export function latestEvaluation(events: AnyEnvelope[]): { attempt: number; round: number } | null {
  const rounds = evaluationRounds(events);
  const last = rounds[rounds.length - 1];
  return last ? { attempt: last.attempt, round: last.round } : null;
}

export interface RescoreBatch {
  request: InferenceBatchRequested;
  outcome: InferenceCompleted | InferenceFailed;
}

export type ReevaluationDecision =
  | { kind: 'reject'; attempt: number | null; reason: string }
  | { kind: 'rescore'; attempt: number; round: number; previousRound: number | null; started: ExperimentStarted; planned: ExperimentPlanned; batches: RescoreBatch[] };

/**
 * Whether an attempt's logged inference results can be evaluated again, and as which round.
 * `events` are the experiment stream's (scored batches are not needed); `givenUp` holds the ids
 * of events a consumer dead-lettered, the evidence that a round 1 without an end crashed rather
 * than is still in progress.
 */
export function decideReevaluation(args: { identity: string; events: AnyEnvelope[]; requestedAttempt: number | null; givenUp: ReadonlySet<string> }): ReevaluationDecision {
  const { identity, events, requestedAttempt, givenUp } = args;
  const reject = (attempt: number | null, reason: string): ReevaluationDecision => ({ kind: 'reject', attempt, reason });
  const starts = events.filter((e): e is ExperimentStarted => e.type === 'experiment.started');
  if (starts.length === 0) return reject(requestedAttempt, `no experiment with identity '${identity}' in the event log (see 'assay status')`);
  const latest = Math.max(...starts.map((s) => s.data.attempt));
  const attempt = requestedAttempt ?? latest;
  const started = starts.find((s) => s.data.attempt === attempt);
  if (!started) return reject(attempt, `${identity} has no attempt ${attempt} (its attempts: 1 to ${latest})`);
  if (attempt !== latest) {
    return reject(attempt, `attempt ${attempt} of ${identity} was superseded by attempt ${latest}, which the run directory and the registry show: reevaluate attempt ${latest}`);
  }
  const mine = events.filter((e) => attemptOf(e) === attempt);
  const failure = mine.find((e): e is ExperimentFailed => e.type === 'experiment.failed');
  if (started.data.smokeOnly) return reject(attempt, `attempt ${attempt} of ${identity} was a --smoke-only run: it has no full-run inference results to evaluate`);
  const full = <T extends AnyEnvelope>(type: T['type']) => mine.filter((e): e is T => e.type === type && dataField(e, 'phase') === 'full');
  const [planned] = full<ExperimentPlanned>('experiment.planned');
  if (!planned) {
    return reject(
      attempt,
      failure
        ? `attempt ${attempt} of ${identity} failed at ${failure.data.stage} before its full run (${failure.data.error}): there are no inference results to evaluate`
        : `attempt ${attempt} of ${identity} is still running: its full run is not planned yet`,
    );
  }
  const requests = full<InferenceBatchRequested>('inference.batch.requested');
  const outcomes = new Map([...full<InferenceCompleted>('inference.completed'), ...full<InferenceFailed>('inference.failed')].map((e) => [e.data.batchId, e]));
  const missing = requests.filter((r) => !outcomes.has(r.data.batchId));
  const notRequested = planned.data.batches - requests.length;
  if (missing.length > 0 || notRequested > 0) {
    const lacking = missing.length + Math.max(0, notRequested);
    const example = missing[0] ? ` (e.g. entity ${JSON.stringify(missing[0].data.entityId)}, batch ${missing[0].data.batchId})` : '';
    const state = failure ? `failed at ${failure.data.stage} (${failure.data.error}) and` : 'is still running:';
    return reject(
      attempt,
      `attempt ${attempt} of ${identity} ${state} ${lacking} of its ${planned.data.batches} batches have no inference result${example}; re-evaluation needs every batch's result` +
        (failure ? `: run it again with 'assay run --force'` : ''),
    );
  }
  const evaluated = mine.filter((e) => e.type === 'evaluation.completed').map(roundOf);
  const ended = mine.some((e) => e.type === 'experiment.completed' || e.type === 'experiment.failed');
  const crashed = requests.some((r) => givenUp.has(outcomes.get(r.data.batchId)!.id));
  if (evaluated.length === 0 && !ended && !crashed) {
    return reject(attempt, `attempt ${attempt} of ${identity} is still being evaluated: its inference finished and the evaluator has not finished round 1 (nor given up on it); wait for the run to end`);
  }
  const previousRound = evaluated.length > 0 ? Math.max(...evaluated) : null;
  return {
    kind: 'rescore',
    attempt,
    // Round 1 belongs to the run's own evaluation, even when it crashed before completing.
    round: Math.max(1, previousRound ?? 1) + 1,
    previousRound,
    started,
    planned,
    batches: requests.map((request) => ({ request, outcome: outcomes.get(request.data.batchId)! })),
  };
}
