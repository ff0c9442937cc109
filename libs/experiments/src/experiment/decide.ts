import {
  causedBy,
  createEvent,
  experimentStream,
  requestStream,
  type AnyEnvelope,
  type AssayEvent,
  type EvaluationCompleted,
  type EvaluationRequested,
  type EvaluationSmokeChecked,
  type EventContext,
  type ExperimentPlanned,
  type ExperimentRequested,
  type ExperimentStarted,
  type FailureStage,
  type InferenceBatchRequested,
  type InferenceCompleted,
  type InferenceFailed,
  type ItemDef,
  type Phase,
  type RequestedBy,
} from '@assay/contracts';
import { EVALUATOR_VERSION, smokeChecks } from '@assay/evaluation';
import { describeEnd } from '../request/attempt-end';
import { stageOfGivenUp } from '../request/give-up';
import { decideAfterBatch, inferenceErrorOf, maxFailureShareOf, tooManyFailuresMessage } from '../score/inference-failures';
import { abandonedReason, decideCancel, decideRequest, DEFAULT_STALE_AFTER_S } from '../request/registry';
import { asPrediction, scoreBatch, type ScoredPrediction } from '../score/scoring';
import { decideReevaluation } from '../re-evaluate/evaluation-rounds';
import { allEvents, concatPages, type EventPages } from '../plan/plan-pages';
import { stageOfPhase, progressOf, tallyOf, type AttemptState, type ExperimentState } from './state';
import { stageRecords, stagesOf, type Stage } from './stages';

/**
 * The experiment decider: decide(command, state) says what a command appends to the experiment's
 * stream, from the state folded from it (evolve). Pure; what a decision needs from outside (the
 * pre-flight's plan, a batch's prompts, the smoke phase's scored predictions, the assembled evaluation)
 * it asks for with a `need`, and the consumer calls decide again with that input. Consumers:
 * parse, load state, decide, append with expected = state.version, ack.
 */

/** Scoring during the run is round 1; `assay reevaluate` adds later rounds. */
export const RUN_ROUND = 1;

/** Who decides: the producer and code version stamped on the events. */
export interface Producer {
  producer: string;
  codeVersion: string;
}

/**
 * Makes one model stage's plan events (experiment.planned + its batch requests), from a plan
 * already made (deterministic); as pages, so a full plan is made a page at a time when appended.
 */
export type PlanMaker = (args: { ctx: EventContext; identity: string; attempt: number; stage: Stage }) => EventPages;

export type PreflightOutcome = { ok: true; plan: PlanMaker } | { ok: false; stage: FailureStage; error: string; details: string[] };

/** experiment.requested whose identity is known: start an attempt, attach to the running one, or skip a completed one. */
export interface RequestCommand {
  type: 'request';
  request: ExperimentRequested;
  /** experiment.started's data, but for what the decision sets (attempt, previous failure, stages). */
  start: Omit<ExperimentStarted['data'], 'attempt' | 'previousFailure' | 'stages'>;
  /** Seconds the stream has been silent (the database's clock): a forced request abandons an attempt silent for longer than stale-after. */
  idleS: number;
  by: Producer;
  /** The expensive checks, asked for only when the request starts a run. */
  preflight?: PreflightOutcome;
}

/** evaluation.smoke.checked: fail the attempt, finish a --smoke-only one, or plan the stages the smoke test gated. */
export interface SmokeResultCommand {
  type: 'smoke_result';
  event: EvaluationSmokeChecked;
  by: Producer;
  nextPlan?: { ok: true; plan: PlanMaker } | { ok: false; error: string };
}

/** inference.completed/failed: score the batch; the last batch of a stage triggers its gate's checks or the stages that read it. */
export interface ScoreBatchCommand {
  type: 'score_batch';
  event: InferenceCompleted | InferenceFailed;
  by: Producer;
  request?: InferenceBatchRequested;
  /** Predictions of the smoke stage's batches scored before this one (round 1): a few examples, for its checks. */
  earlierPredictions?: ScoredPrediction[];
  /** inferenceErrorOf each inference failure of the stage's batches scored before this one (round 1), in log order: for the too-many-failures message. */
  earlierFailureErrors?: string[];
  /** The evaluation, and how many predictions it evaluated (this batch's and the earlier ones the evaluator read from the log). */
  evaluation?: Pick<EvaluationCompleted['data'], 'result' | 'cache'> & { predictions: number };
}

/** evaluation.completed (of the run, or of a re-evaluation round): the run directory was written from it → report.generated + experiment.completed. */
export interface ReportCommand {
  type: 'report';
  event: EvaluationCompleted;
  by: Producer;
  /** The tree written (always from the latest round of the latest evaluated attempt, whichever event triggered it). */
  built?: { attempt: number; round: number; runDir: string; files: number; treeHash: string; summary: Record<string, number | string | null> };
}

/** A service gave up on one of the experiment's messages (dead letter): the attempt fails at that stage. */
export interface GiveUpCommand {
  type: 'give_up';
  event: AssayEvent;
  reason: string;
  by: Producer;
}

/**
 * experiment.started of an attempt whose method is fitted without a model (a baseline): the
 * evaluator runs the fit stage (its plan and its predictions, one batch per test entity), then
 * scoring, and appends them in one decision. An attempt without a fit stage decides nothing.
 */
export interface FitCommand {
  type: 'fit';
  event: ExperimentStarted;
  by: Producer;
  fitted?: FitResult;
  evaluation?: Pick<EvaluationCompleted['data'], 'result' | 'cache'>;
}

/** A fit stage's output: what experiment.planned says of it, and its predictions per test entity. */
export interface FitResult {
  planned: Omit<ExperimentPlanned['data'], 'identity' | 'attempt' | 'phase' | 'stageKey'>;
  batches: Array<{ batchId: string; predictions: ScoredPrediction[] }>;
}

/** `assay cancel` (or its HTTP twin): stop the running attempt. */
export interface CancelCommand {
  type: 'cancel';
  identity: string;
  reason: string;
  requestedBy: RequestedBy;
  by: Producer;
}

/**
 * evaluation.requested (`assay reevaluate`): a new evaluation round of an attempt, scored from the
 * inference results in the log, or evaluation.rejected (in the request's stream) saying why not.
 */
export interface ReevaluateCommand {
  type: 'reevaluate';
  event: EvaluationRequested;
  by: Producer;
  /** The experiment stream's events the decision reads (its scored batches are not needed), and the ids of those a consumer gave up on (dead letters). */
  inputs?: { events: AnyEnvelope[]; givenUp: ReadonlySet<string> };
  /** Null when the data files still hash as when the attempt started, else what changed: baselines would use other data. */
  dataChanged?: string | null;
  evaluation?: Pick<EvaluationCompleted['data'], 'result' | 'cache'>;
}


/**
 * Makes one entity's batch of a stage that reads an entity-input stage, from that entity's input
 * text (its persona summary); `withPlanned`: the stage's experiment.planned goes first (its first batch).
 */
export type StreamPlanMaker = (args: {
  ctx: EventContext;
  identity: string;
  attempt: number;
  stage: Stage;
  entityId: string;
  input: string;
  withPlanned: boolean;
  /** prefixDigest of every prefix the stage requested earlier in the attempt (for the ideal hit rate). */
  earlierPrefixes: ReadonlySet<string>;
}) => AssayEvent[];

/** inference.completed/failed of an entity-input stage (a persona summary): start the entity's batches of the stages that read it. */
export interface StreamInputCommand {
  type: 'stream_input';
  event: InferenceCompleted | InferenceFailed;
  by: Producer;
  streamPlan?: { ok: true; plan: StreamPlanMaker } | { ok: false; error: string };
}

export type ExperimentCommand = RequestCommand | SmokeResultCommand | ScoreBatchCommand | StreamInputCommand | ReportCommand | GiveUpCommand | CancelCommand | ReevaluateCommand | FitCommand;

export type Need =
  | { input: 'preflight' }
  | { input: 'next_plan' }
  | { input: 'stream_plan' }
  | { input: 'batch_request' }
  | { input: 'report' }
  /** The smoke stage's earlier predictions (a few examples): its checks read them all at once. */
  | { input: 'earlier_predictions' }
  /** The errors of the stage's earlier inference failures (at most about max_failure_share of its prompts). */
  | { input: 'earlier_failure_errors' }
  | { input: 'reevaluation_inputs' }
  /** Whether the data files changed since the attempt started (I/O: hashing them). */
  | { input: 'data_changed'; started: ExperimentStarted }
  /** The fit stage's output (the data files and the method's fit: I/O and CPU). */
  | { input: 'fit'; started: ExperimentStarted; stage: Stage }
  /** The scoring stage's evaluation of these predictions (baselines need the data files: I/O). */
  | EvaluationNeed;

/**
 * The evaluation of `predictions` and, when `earlier` is given, of the predictions of that phase's
 * batches already scored in that round of the attempt: a run's last batch leaves those in the log,
 * for the evaluator to read page by page into the evaluation's columns, rather than have a whole
 * run's predictions in one array (hundreds of MB at scale).
 */
export interface EvaluationNeed {
  input: 'evaluation';
  started: ExperimentStarted;
  items: ItemDef[];
  predictions: ScoredPrediction[];
  earlier: { phase: Phase; round: number } | null;
}

export type Decision =
  /**
   * Append these events (none: nothing to do); `said` are lines for the run's log. `plan`: the
   * events of a plan, after `events`, made a page at a time as they are appended (see appendInChunks).
   */
  | { kind: 'append'; events: AssayEvent[]; said: string[]; plan?: EventPages }
  | { kind: 'need'; need: Need }
  | { kind: 'refuse'; problem: 'unknown' | 'not_running'; reason: string };

const append = (events: AssayEvent[], ...said: string[]): Decision => ({ kind: 'append', events, said });
const need = (n: Need): Decision => ({ kind: 'need', need: n });
const NOTHING = append([]);

export function decide(command: ExperimentCommand, state: ExperimentState): Decision {
  switch (command.type) {
    case 'request':
      return decideOnRequest(command, state);
    case 'smoke_result':
      return decideOnSmokeResult(command, state);
    case 'score_batch':
      return decideOnScoredBatch(command, state);
    case 'stream_input':
      return decideOnStreamInput(command, state);
    case 'fit':
      return decideOnFit(command, state);
    case 'report':
      return decideOnReport(command, state);
    case 'give_up':
      return decideOnGiveUp(command, state);
    case 'cancel':
      return decideOnCancel(command, state);
    case 'reevaluate':
      return reevaluationOf(command, state);
    default: {
      const never: never = command;
      throw new Error(`decide: unknown command ${JSON.stringify((never as { type: unknown }).type)}`);
    }
  }
}

/** The attempt a message refers to: its experiment.started must be in the log before anything else of it. */
export function attemptOf(state: ExperimentState, identity: string, attempt: number, what: string): AttemptState {
  const found = state.attempts.get(attempt);
  if (!found) throw new Error(`${what} for ${identity} attempt ${attempt} has no experiment.started in the log`);
  return found;
}

/** Stages that can start once `done` have finished: every stage they read or wait for is done, and they have not started. */
export function readyStages(attempt: AttemptState, done: ReadonlySet<string>): Stage[] {
  return attempt.stages.filter((s) => !done.has(s.name) && !started(attempt, s) && [...s.reads, ...s.after].every((name) => done.has(name)));
}

function started(attempt: AttemptState, stage: Stage): boolean {
  if (stage.kind === 'llm_inference' || stage.kind === 'llm_input' || stage.kind === 'fit') return progressOf(attempt, stage).planned !== null;
  if (stage.kind === 'scoring') return attempt.rounds.size > 0;
  return false;
}

/**
 * Stages finished in round 1 of the run: a gate once its checks passed (they run when its last
 * batch is scored), another model stage once all of its planned batches are scored.
 */
function finishedStages(attempt: AttemptState, justScored?: { stage: Stage; batchId: string }): Set<string> {
  const done = new Set<string>();
  for (const stage of attempt.stages) {
    if (stage.kind !== 'llm_inference') continue;
    if (stage.gate) {
      if (attempt.smoke?.data.passed === true) done.add(stage.name);
      continue;
    }
    const progress = progressOf(attempt, stage);
    if (!progress.planned) continue;
    const scored = new Set(tallyOf(progress, RUN_ROUND).batches);
    if (justScored?.stage.name === stage.name) scored.add(justScored.batchId);
    if (scored.size === progress.planned.data.batches) done.add(stage.name);
  }
  return done;
}

function decideOnRequest(command: RequestCommand, state: ExperimentState): Decision {
  const { request, start, by } = command;
  if (state.handled.has(request.id)) return NOTHING;
  const stream = experimentStream(start.identity);
  const ctx = causedBy(request, stream, by.producer, by.codeVersion);
  const decision = decideRequest(state.registry, request.data.force, { idleS: command.idleS, staleAfterS: request.data.staleAfterS ?? DEFAULT_STALE_AFTER_S });
  if (decision.kind === 'skip') {
    return append([createEvent('experiment.skipped', { requestId: request.data.requestId, identity: start.identity, reason: decision.reason, attempt: decision.attempt, runDir: decision.runDir }, ctx)]);
  }
  if (!command.preflight) return need({ input: 'preflight' });
  const attempt = decision.attempt;
  const stages = stagesOf(start);
  const startedEvent = createEvent('experiment.started', { ...start, attempt, previousFailure: decision.previousFailure, stages: stageRecords(stages) }, ctx);
  const events: AssayEvent[] = [];
  // The silent attempt ends first, so its workers drop its batches and its CLIs say why.
  if (decision.abandon) {
    events.push(
      createEvent(
        'experiment.cancelled',
        { identity: start.identity, attempt: decision.abandon.attempt, reason: abandonedReason(decision.abandon, attempt), kind: 'abandoned', by: request.data.requestedBy, requestId: request.data.requestId },
        ctx,
      ),
    );
  }
  events.push(startedEvent);
  const preflight = command.preflight;
  if (!preflight.ok) {
    events.push(createEvent('experiment.failed', { requestId: request.data.requestId, identity: start.identity, attempt, stage: preflight.stage, error: preflight.error, details: preflight.details }, ctx));
    return append(events);
  }
  const attemptState: AttemptState = { attempt, started: startedEvent, stages, progress: new Map(), smoke: null, rounds: new Map(), end: null };
  const ready = readyStages(attemptState, new Set());
  // A run with nothing to start would wait forever (e.g. --smoke-only for a method without a smoke
  // test). A fit stage starts too: the evaluator runs it on experiment.started.
  if (ready.length === 0) {
    const error = `method '${start.method}' has no stage to run${start.smokeOnly ? ' with --smoke-only (it has no smoke test)' : ''}`;
    events.push(createEvent('experiment.failed', { requestId: request.data.requestId, identity: start.identity, attempt, stage: 'preflight', error, details: [] }, ctx));
    return append(events, `FAILED: ${error}`);
  }
  // Appended with the start in one transaction: the plan is made whole here (a smoke test's is one batch).
  for (const stage of planStages(ready)) events.push(...allEvents(preflight.plan({ ctx, identity: start.identity, attempt, stage })));
  return append(events);
}

/**
 * The ready stages a planner plans (model stages). A fit stage is the evaluator's: it runs it on
 * experiment.started (FitCommand). Any other kind ready at this point has no decider branch yet.
 */
function planStages(ready: Stage[]): Stage[] {
  const planned = ready.filter((s) => s.kind !== 'fit');
  for (const s of planned) if (s.kind !== 'llm_inference' && s.kind !== 'llm_input') throw new Error(`stage '${s.name}' (${s.kind}) is ready to start, but only model stages are planned before a run's inference`);
  return planned;
}

function decideOnFit(command: FitCommand, state: ExperimentState): Decision {
  const { event, by } = command;
  const { identity, attempt: n } = event.data;
  if (state.handled.has(event.id)) return NOTHING;
  const attempt = attemptOf(state, identity, n, 'fit');
  const stage = attempt.stages.find((s) => s.kind === 'fit');
  // A model method's attempt (nothing to fit), or one that ended before its fit (pre-flight failed, cancelled).
  if (!stage || attempt.end) return NOTHING;
  if (progressOf(attempt, stage).planned) return NOTHING;
  if (!command.fitted) return need({ input: 'fit', started: attempt.started, stage });
  const { planned, batches } = command.fitted;
  const all = batches.flatMap((b) => b.predictions);
  const scoring = attempt.stages.find((s) => s.kind === 'scoring' && s.reads.includes(stage.name));
  if (!scoring) throw new Error(`fit stage '${stage.name}' of ${identity} has no scoring stage reading it`);
  if (!command.evaluation) return need({ input: 'evaluation', started: attempt.started, items: planned.items, predictions: all, earlier: null });
  const ctx = causedBy(event, experimentStream(identity), by.producer, by.codeVersion);
  const { result, cache } = command.evaluation;
  return append(
    [
      createEvent('experiment.planned', { identity, attempt: n, phase: 'full', ...planned, stageKey: stage.key }, ctx),
      ...batches.map((b) =>
        createEvent('evaluation.batch.scored', { identity, attempt: n, round: RUN_ROUND, phase: 'full', batchId: b.batchId, evaluatorVersion: EVALUATOR_VERSION, predictions: b.predictions }, ctx),
      ),
      createEvent('evaluation.completed', { identity, attempt: n, round: RUN_ROUND, evaluatorVersion: EVALUATOR_VERSION, reevaluation: null, result, cache, stageKey: scoring.key }, ctx),
    ],
    `${stage.name}: ${all.length} predictions for ${batches.length} test entities`,
    `evaluation of ${all.length} predictions complete`,
  );
}

function decideOnSmokeResult(command: SmokeResultCommand, state: ExperimentState): Decision {
  const { event, by } = command;
  const { identity, attempt: n } = event.data;
  const attempt = attemptOf(state, identity, n, 'smoke result');
  // Decided before: nothing new, unless the planner stopped between chunks of the plan it made
  // then (see appendInChunks): the same plan again, whose stored chunks are skipped.
  const unfinished = attempt.stages.filter((s) => {
    const p = progressOf(attempt, s);
    return p.planned?.metadata.causationId === event.id && p.requested.size < p.planned.data.batches;
  });
  if (state.handled.has(event.id) && unfinished.length === 0) return NOTHING;
  // Cancelled during its smoke test: no full run. (A cancel landing later finds the batches dropped by the workers.)
  if (attempt.end) return append([], `smoke result not acted on: the attempt ended (${describeEnd(attempt.end)})`);
  const ctx = causedBy(event, experimentStream(identity), by.producer, by.codeVersion);
  const { requestId, runDir, smokeOnly } = attempt.started.data;
  const examples = event.data.examples.map((x) => `${x.entityId} / ${x.group} / ${x.item}: ${x.status}: ${JSON.stringify(x.output)}`);
  if (!event.data.passed) {
    const failedChecks = event.data.checks.filter((c) => !c.passed).map((c) => `${c.check}: ${c.detail}`);
    return append(
      [createEvent('experiment.failed', { requestId, identity, attempt: n, stage: 'smoke', error: `smoke test failed: ${failedChecks.join('; ')}`, details: examples }, ctx)],
      `smoke test FAILED: ${failedChecks.join('; ')}`,
    );
  }
  if (smokeOnly) {
    return append([createEvent('experiment.completed', { identity, attempt: n, runDir, smokeOnly: true, summary: { smoke: 'passed', examples: examples.length } }, ctx)], 'smoke test passed (--smoke-only: stopping here)');
  }
  const withSmoke: AttemptState = { ...attempt, smoke: event };
  const ready = unfinished.length > 0 ? unfinished : planStages(readyStages(withSmoke, finishedStages(withSmoke)));
  if (ready.length === 0) return NOTHING;
  if (!command.nextPlan) return need({ input: 'next_plan' });
  if (!command.nextPlan.ok) {
    return append([createEvent('experiment.failed', { requestId, identity, attempt: n, stage: 'preflight', error: command.nextPlan.error, details: [] }, ctx)], `FAILED: ${command.nextPlan.error}`);
  }
  const plan = command.nextPlan.plan;
  return { kind: 'append', events: [], said: ['smoke test passed: full run planned'], plan: concatPages(ready.map((stage) => plan({ ctx, identity, attempt: n, stage }))) };
}

function decideOnScoredBatch(command: ScoreBatchCommand, state: ExperimentState): Decision {
  const { event, by } = command;
  const { identity, attempt: n, phase, batchId } = event.data;
  if (state.handled.has(event.id)) return NOTHING;
  const attempt = attemptOf(state, identity, n, `${event.type} of batch ${batchId}`);
  // Nothing may complete an attempt that has ended (failed, cancelled).
  if (attempt.end) return NOTHING;
  const stage = stageOfPhase(attempt, phase);
  // An entity input (a persona summary) is not a prediction: stream_input acts on it.
  if (stage.kind === 'llm_input') return NOTHING;
  const progress = progressOf(attempt, stage);
  const planned = progress.planned;
  if (!planned) throw new Error(`${event.type} of batch ${batchId} for ${identity} attempt ${n}: no experiment.planned of its ${phase} phase in the log`);
  const tally = tallyOf(progress, RUN_ROUND);
  // A batch answered twice (redelivered to a second worker) is scored once.
  if (tally.batches.has(batchId)) return NOTHING;
  if (!command.request) return need({ input: 'batch_request' });

  const started = attempt.started.data;
  const ctx = causedBy(event, experimentStream(identity), by.producer, by.codeVersion);
  const predictions = scoreBatch(command.request.data, event, planned.data.items, started.method);
  const scored = createEvent('evaluation.batch.scored', { identity, attempt: n, round: RUN_ROUND, phase, batchId, evaluatorVersion: EVALUATOR_VERSION, predictions }, ctx);
  const failedHere = predictions.filter((p) => p.parseStatus === 'inference_failure').length;
  const verdict = decideAfterBatch({
    phase,
    batchesScored: tally.batches.size + 1,
    plannedBatches: planned.data.batches,
    plannedPrompts: planned.data.prompts,
    failedPrompts: tally.inferenceFailures + failedHere,
    maxFailureShare: maxFailureShareOf(started.config),
  });
  if (verdict.kind === 'continue') return append([scored]);

  if (verdict.kind === 'too_many_failures') {
    if (!command.earlierFailureErrors) return need({ input: 'earlier_failure_errors' });
    const errors = [...command.earlierFailureErrors, ...predictions.filter((p) => p.parseStatus === 'inference_failure').map(inferenceErrorOf)];
    const message = tooManyFailuresMessage(verdict, errors);
    return append([scored, createEvent('experiment.failed', { requestId: started.requestId, identity, attempt: n, stage: 'inference', ...message }, ctx)], `FAILED at inference: ${message.error}`);
  }
  if (stage.gate) {
    if (!command.earlierPredictions) return need({ input: 'earlier_predictions' });
    const all = [...command.earlierPredictions, ...predictions];
    const result = smokeChecks({ predictions: all.map(asPrediction), items: planned.data.items });
    const outputs = new Map((event.type === 'inference.completed' ? event.data.results : []).map((r) => [r.promptId, r.outputText ?? r.error]));
    const examples = all.map((p) => ({ entityId: p.entityId, group: p.group, item: p.item, output: outputs.get(p.promptId) ?? null, status: p.parseError ? `${p.parseStatus}: ${p.parseError}` : p.parseStatus }));
    return append([scored, createEvent('evaluation.smoke.checked', { identity, attempt: n, passed: result.passed, checks: result.checks, examples, stageKey: stage.key }, ctx)], `smoke checks ${result.passed ? 'passed' : 'FAILED'}`);
  }
  const ready = readyStages(attempt, finishedStages(attempt, { stage, batchId }));
  const scoring = ready.filter((s) => s.kind === 'scoring');
  const other = ready.filter((s) => s.kind !== 'scoring');
  if (other.length > 0) throw new Error(`stages ${other.map((s) => `'${s.name}' (${s.kind})`).join(', ')} became ready after '${stage.name}', but the evaluator only starts scoring stages`);
  if (scoring.length === 0) return append([scored]);
  if (scoring.length > 1) throw new Error(`more than one scoring stage of ${identity} (${scoring.map((s) => s.name).join(', ')}) became ready at once; a run has one evaluation per round`);
  // This batch's predictions; the earlier batches' stay in the log, for the evaluator to read a page at a time.
  if (!command.evaluation) return need({ input: 'evaluation', started: attempt.started, items: planned.data.items, predictions, earlier: { phase, round: RUN_ROUND } });
  const { result, cache } = command.evaluation;
  return append(
    [scored, createEvent('evaluation.completed', { identity, attempt: n, round: RUN_ROUND, evaluatorVersion: EVALUATOR_VERSION, reevaluation: null, result, cache, stageKey: scoring[0].key }, ctx)],
    `evaluation of ${command.evaluation.predictions} predictions complete`,
  );
}

/** The stages whose prompts read `input` (an entity-input stage): each is planned entity by entity. */
export function readersOf(attempt: AttemptState, input: Stage): Stage[] {
  return attempt.stages.filter((s) => s.reads.includes(input.name));
}

function decideOnStreamInput(command: StreamInputCommand, state: ExperimentState): Decision {
  const { event, by } = command;
  const { identity, attempt: n, phase, batchId, entityId } = event.data;
  if (state.handled.has(event.id)) return NOTHING;
  const attempt = attemptOf(state, identity, n, `${event.type} of batch ${batchId}`);
  if (attempt.end) return NOTHING;
  const stage = stageOfPhase(attempt, phase);
  if (stage.kind !== 'llm_input') return NOTHING;
  // The first outcome of a batch counts: a second answer (a redelivered batch) plans nothing again.
  const first = progressOf(attempt, stage).outcomes.get(batchId);
  if (first !== undefined && first !== event.id) return NOTHING;
  const readers = readersOf(attempt, stage);
  for (const r of readers) {
    if (r.kind !== 'llm_inference' || r.after.length > 0) throw new Error(`stage '${r.name}' (${r.kind}) reads entity-input stage '${stage.name}' but only model stages without a gate are planned entity by entity`);
  }
  const ctx = causedBy(event, experimentStream(identity), by.producer, by.codeVersion);
  const fail = (error: string) =>
    append([createEvent('experiment.failed', { requestId: attempt.started.data.requestId, identity, attempt: n, stage: 'inference', error, details: [] }, ctx)], `FAILED at inference: ${error}`);
  // An entity without its input cannot be predicted as the method says; the run fails rather than send prompts without it.
  const where = `stage '${stage.name}' of entity ${JSON.stringify(entityId)} (batch ${batchId})`;
  if (event.type === 'inference.failed') return fail(`${where} failed: ${event.data.error}`);
  const [result] = event.data.results;
  if (result.status !== 'ok') return fail(`${where} failed: ${result.error ?? 'no error recorded'}`);
  const text = (result.outputText ?? '').trim();
  if (text.length === 0) return fail(`${where} returned an empty output (finish_reason ${result.finishReason ?? 'n/a'}): the entity's items cannot be asked without it`);
  if (readers.length === 0) return NOTHING;
  if (!command.streamPlan) return need({ input: 'stream_plan' });
  if (!command.streamPlan.ok) return fail(command.streamPlan.error);
  const plan = command.streamPlan.plan;
  return append(
    readers.flatMap((r) => {
      const progress = progressOf(attempt, r);
      return plan({ ctx, identity, attempt: n, stage: r, entityId, input: text, withPlanned: progress.planned === null, earlierPrefixes: progress.requestedPrefixes });
    }),
  );
}

function decideOnReport(command: ReportCommand, state: ExperimentState): Decision {
  const { event, by, built } = command;
  const { identity } = event.data;
  if (state.handled.has(event.id)) return NOTHING;
  const attempt = attemptOf(state, identity, event.data.attempt, 'evaluation');
  // The run's own evaluation of an attempt cancelled (or failed) meanwhile completes nothing: the
  // attempt stays as it ended. A re-evaluation round is asked for, so it always reports.
  if (event.data.reevaluation === null && attempt.end && attempt.end.type !== 'experiment.completed') return NOTHING;
  if (!built) return need({ input: 'report' });
  const shown = attemptOf(state, identity, built.attempt, 'report');
  const report = shown.stages.find((s) => s.kind === 'report');
  const ctx = causedBy(event, experimentStream(identity), by.producer, by.codeVersion);
  return append([
    createEvent('report.generated', { identity, attempt: built.attempt, round: built.round, runDir: built.runDir, files: built.files, treeHash: built.treeHash, ...(report ? { stageKey: report.key } : {}) }, ctx),
    createEvent('experiment.completed', { identity, attempt: built.attempt, runDir: built.runDir, smokeOnly: false, summary: built.summary }, ctx),
  ]);
}

function decideOnGiveUp(command: GiveUpCommand, state: ExperimentState): Decision {
  const { event, reason, by } = command;
  const stage = stageOfGivenUp(event.type);
  if (stage === null || !('identity' in event.data) || !('attempt' in event.data)) return NOTHING;
  const { identity, attempt: n } = event.data;
  if (typeof identity !== 'string' || typeof n !== 'number') return NOTHING;
  const attempt = state.attempts.get(n);
  // Nothing to fail: no such attempt, or it ended already (a failed re-evaluation of a completed run leaves it completed; its dead letter keeps the error).
  if (!attempt || attempt.end) return NOTHING;
  const stream = experimentStream(identity);
  const failed = createEvent(
    'experiment.failed',
    {
      requestId: attempt.started.data.requestId,
      identity,
      attempt: n,
      stage,
      error: `${by.producer} gave up on ${event.type} ${event.id}: ${reason}`,
      details: [`the message is kept in the dead_letters table (message_id ${event.id}); fix the cause, then 'assay run --force'${stage === 'evaluation' || stage === 'report' ? ` or, when inference finished, 'assay reevaluate ${identity}'` : ''}`],
    },
    causedBy(event, stream, by.producer, by.codeVersion),
  );
  return append([failed]);
}

function decideOnCancel(command: CancelCommand, state: ExperimentState): Decision {
  const { identity, reason, requestedBy, by } = command;
  const decision = decideCancel(state.registry, identity);
  if (decision.kind === 'refuse') return { kind: 'refuse', problem: decision.problem, reason: decision.reason };
  const attempt = attemptOf(state, identity, decision.attempt, 'cancel');
  const ctx: EventContext = { stream: experimentStream(identity), correlationId: attempt.started.metadata.correlationId, causationId: null, producer: by.producer, codeVersion: by.codeVersion };
  return append([createEvent('experiment.cancelled', { identity, attempt: decision.attempt, reason, kind: 'cancel', by: requestedBy, requestId: null }, ctx)]);
}

/**
 * A re-evaluation round: which attempt and round (decideReevaluation, from the stream's events), the
 * batches re-scored by this code, and the round's evaluation; or a rejection in the request's
 * stream. Appended with the expected version of the experiment stream: a round decided while the
 * run's own scoring appended is decided again on the new state.
 */
function reevaluationOf(command: ReevaluateCommand, state: ExperimentState): Decision {
  const { event, by } = command;
  const { requestId, identity, attempt: requestedAttempt, reason, requestedBy } = event.data;
  if (state.handled.has(event.id)) return NOTHING;
  const reject = (attempt: number | null, why: string): Decision =>
    append([createEvent('evaluation.rejected', { requestId, identity, attempt, reason: why }, causedBy(event, requestStream(requestId), by.producer, by.codeVersion))]);
  if (!command.inputs) return need({ input: 'reevaluation_inputs' });
  const decision = decideReevaluation({ identity, events: command.inputs.events, requestedAttempt, givenUp: command.inputs.givenUp });
  if (decision.kind === 'reject') return reject(decision.attempt, decision.reason);
  if (command.dataChanged === undefined) return need({ input: 'data_changed', started: decision.started });
  if (command.dataChanged !== null) return reject(decision.attempt, command.dataChanged);

  const { attempt, round, started, planned } = decision;
  const ctx = causedBy(event, experimentStream(identity), by.producer, by.codeVersion);
  const scored = decision.batches.map(({ request, outcome }) => ({
    batchId: request.data.batchId,
    predictions: scoreBatch(request.data, outcome, planned.data.items, started.data.method),
  }));
  const predictions = scored.flatMap((s) => s.predictions);
  if (!command.evaluation) return need({ input: 'evaluation', started, items: planned.data.items, predictions, earlier: null });
  const { result, cache } = command.evaluation;
  const parseFailures = predictions.filter((p) => p.parseStatus === 'parse_failure').length;
  return append(
    [
      ...scored.map((s) => createEvent('evaluation.batch.scored', { identity, attempt, round, phase: 'full', batchId: s.batchId, evaluatorVersion: EVALUATOR_VERSION, predictions: s.predictions }, ctx)),
      createEvent('evaluation.completed', { identity, attempt, round, evaluatorVersion: EVALUATOR_VERSION, reevaluation: { requestId, reason, requestedBy }, result, cache }, ctx),
    ],
    `evaluation round ${round} of attempt ${attempt} (${EVALUATOR_VERSION}): re-scored ${scored.length} batches from the log, no model calls; ${parseFailures} parse failures`,
  );
}
