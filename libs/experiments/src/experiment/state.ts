import { prefixDigest } from '@assay/prompting';
import type {
  AssayEvent,
  EvaluationCompleted,
  EvaluationSmokeChecked,
  ExperimentPlanned,
  ExperimentStarted,
  Phase,
} from '@assay/contracts';
import type { AttemptEnd } from '../request/attempt-end';
import { evolveRegistry, type RegistryEntry } from '../request/registry';
import { GrowingMap, GrowingSet } from './growing';
import { stagesOfStarted, type Stage } from './stages';

/**
 * An experiment as the decider sees it: the fold of its stream (experiment-<identity>). The big
 * payloads (prompts, raw outputs, predictions) are not kept, only what decisions need: which
 * batches of which stage were requested, answered and scored, and how many calls failed.
 */
export interface ExperimentState {
  identity: string | null;
  /** Position of the last event folded in (0: no stream yet): the expected version of the next append. */
  version: bigint;
  /** Attempts by number. */
  attempts: ReadonlyMap<number, AttemptState>;
  /** The identity's registry entry (status of its latest attempt, its last failure, ...). */
  registry: RegistryEntry | undefined;
  /** Ids of the messages whose events are in the stream: a command redelivered after its events were appended decides nothing new. */
  handled: GrowingSet<string>;
}

export interface AttemptState {
  attempt: number;
  started: ExperimentStarted;
  /** The attempt's stage DAG (recorded in experiment.started, or derived from it for older events). */
  stages: Stage[];
  /** Progress of each model stage, by stage name. */
  progress: ReadonlyMap<string, StageProgress>;
  smoke: EvaluationSmokeChecked | null;
  /** Completed evaluation rounds, by round. */
  rounds: ReadonlyMap<number, EvaluationCompleted>;
  /** The event that ended the attempt (completed, failed or cancelled), null while it runs. */
  end: AttemptEnd | null;
}

/** One model stage's batches. */
export interface StageProgress {
  planned: ExperimentPlanned | null;
  /** Batch ids requested. */
  requested: GrowingSet<string>;
  /**
   * prefixDigest of each requested batch's prefix, for a stage planned entity by entity from an
   * entity-input stage (empty for others): whether a new entity's prefix repeats an earlier one.
   */
  requestedPrefixes: GrowingSet<string>;
  /** Batch id -> id of the event with its outcome (inference.completed or inference.failed). */
  outcomes: GrowingMap<string, string>;
  /** By evaluation round: the batches scored and the predictions whose model call failed. */
  scored: ReadonlyMap<number, RoundTally>;
}

export interface RoundTally {
  batches: GrowingSet<string>;
  inferenceFailures: number;
}

export const initialState = (): ExperimentState => ({ identity: null, version: 0n, attempts: new Map(), registry: undefined, handled: GrowingSet.empty() });

const NO_TALLY: RoundTally = { batches: GrowingSet.empty(), inferenceFailures: 0 };
const EMPTY_PROGRESS: StageProgress = { planned: null, requested: GrowingSet.empty(), requestedPrefixes: GrowingSet.empty(), outcomes: GrowingMap.empty(), scored: new Map() };

/** The model stage (or fit stage) whose events carry `phase`. */
export function stageOfPhase(attempt: AttemptState, phase: Phase): Stage {
  const stage = attempt.stages.find((s) => s.phase === phase);
  if (!stage) throw new Error(`attempt ${attempt.attempt} of ${attempt.started.data.identity} has no model stage with phase '${phase}' (its stages: ${attempt.stages.map((s) => s.name).join(', ')})`);
  return stage;
}

/** Whether a stage reads an entity-input stage (a persona summary): it is planned entity by entity. */
export function readsEntityInput(attempt: AttemptState, stage: Stage): boolean {
  return stage.reads.some((name) => attempt.stages.some((s) => s.name === name && s.kind === 'llm_input'));
}

export function progressOf(attempt: AttemptState, stage: Stage): StageProgress {
  return attempt.progress.get(stage.name) ?? EMPTY_PROGRESS;
}

export function tallyOf(progress: StageProgress, round: number): RoundTally {
  return progress.scored.get(round) ?? NO_TALLY;
}

/** The latest attempt (the one the registry and the run directory show), undefined before any start. */
export function latestAttempt(state: ExperimentState): AttemptState | undefined {
  const n = state.registry?.attempt;
  return n === undefined ? undefined : state.attempts.get(n);
}

const REGISTRY_TYPES = new Set<AssayEvent['type']>(['experiment.started', 'experiment.skipped', 'experiment.completed', 'experiment.failed', 'experiment.cancelled']);

/**
 * evolve(): one event of the stream applied to the state, in stream order. Pure: the state given is
 * left as it is (consumers share loaded states), only what the event touches is copied.
 */
export function evolve(state: ExperimentState, event: AssayEvent): ExperimentState {
  const next: ExperimentState = {
    ...state,
    version: state.version + 1n,
    handled: state.handled.with(event.metadata.causationId),
    registry: REGISTRY_TYPES.has(event.type) ? foldRegistryEntry(state.registry, event) : state.registry,
  };
  const withAttempt = (attempt: number | null, change: (a: AttemptState) => AttemptState): ExperimentState => {
    const current = attempt === null ? undefined : state.attempts.get(attempt);
    if (!current || attempt === null) return next;
    return { ...next, attempts: new Map(state.attempts).set(attempt, change(current)) };
  };
  const withStage = (attempt: number, phase: Phase, change: (p: StageProgress, stage: Stage, a: AttemptState) => StageProgress) =>
    withAttempt(attempt, (a) => {
      const stage = stageOfPhase(a, phase);
      return { ...a, progress: new Map(a.progress).set(stage.name, change(progressOf(a, stage), stage, a)) };
    });

  switch (event.type) {
    case 'experiment.started': {
      const d = event.data;
      const attempt: AttemptState = { attempt: d.attempt, started: event, stages: stagesOfStarted(d), progress: new Map(), smoke: null, rounds: new Map(), end: null };
      return { ...next, identity: d.identity, attempts: new Map(state.attempts).set(d.attempt, attempt) };
    }
    case 'experiment.planned':
      return withStage(event.data.attempt, event.data.phase, (p) => ({ ...p, planned: event }));
    case 'inference.batch.requested':
      return withStage(event.data.attempt, event.data.phase, (p, stage, a) => ({
        ...p,
        requested: p.requested.with(event.data.batchId),
        ...(readsEntityInput(a, stage) ? { requestedPrefixes: p.requestedPrefixes.with(prefixDigest(event.data.prefix)) } : {}),
      }));
    case 'inference.completed':
    case 'inference.failed':
      // The first outcome of a batch counts (a redelivered batch may be answered twice).
      return withStage(event.data.attempt, event.data.phase, (p) => (p.outcomes.has(event.data.batchId) ? p : { ...p, outcomes: p.outcomes.withNew(event.data.batchId, event.id) }));
    case 'evaluation.batch.scored': {
      const { round, batchId, predictions } = event.data;
      const failures = predictions.filter((x) => x.parseStatus === 'inference_failure').length;
      return withStage(event.data.attempt, event.data.phase, (p) => {
        const tally = tallyOf(p, round);
        if (tally.batches.has(batchId)) return p;
        return { ...p, scored: new Map(p.scored).set(round, { batches: tally.batches.with(batchId), inferenceFailures: tally.inferenceFailures + failures }) };
      });
    }
    case 'evaluation.smoke.checked':
      return withAttempt(event.data.attempt, (a) => ({ ...a, smoke: event }));
    case 'evaluation.completed':
      return withAttempt(event.data.attempt, (a) => ({ ...a, rounds: new Map(a.rounds).set(event.data.round, event) }));
    case 'experiment.completed':
    case 'experiment.cancelled':
      // A re-evaluation round completes an attempt again: the first end stays the end.
      return withAttempt(event.data.attempt, (a) => (a.end ? a : { ...a, end: event }));
    case 'experiment.failed':
      return withAttempt(event.data.attempt, (a) => (a.end ? a : { ...a, end: event }));
    case 'experiment.skipped':
    case 'experiment.requested':
    case 'evaluation.requested':
    case 'evaluation.rejected':
    case 'report.generated':
      return next;
    default: {
      const never: never = event;
      throw new Error(`evolve: unknown event type ${JSON.stringify((never as { type: unknown }).type)}`);
    }
  }
}

/** The registry fold of this one identity (evolveRegistry), on a copy so the given state stays as it is. */
function foldRegistryEntry(entry: RegistryEntry | undefined, event: AssayEvent): RegistryEntry | undefined {
  const one = new Map<string, RegistryEntry>();
  if (entry) one.set(entry.identity, { ...entry });
  const folded = evolveRegistry(one, event);
  return [...folded.values()][0];
}

export function fold(events: readonly AssayEvent[], from: ExperimentState = initialState()): ExperimentState {
  return events.reduce(evolve, from);
}
