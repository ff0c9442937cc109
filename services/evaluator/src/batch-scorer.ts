import { Injectable } from '@nestjs/common';
import { experimentStream, type InferenceCompleted, type InferenceFailed } from '@assay/contracts';
import { EventStore, findOneEvent, forEachEventPage, forEachEventPageKeeping, type Sql } from '@assay/event-store';
import { decide, earlyBaselinesOf, ExperimentStates, handleExperimentCommands, inferenceErrorOf, RUN_ROUND, type GroupedCommand, type HandledCommand, type Provide, type ScoreBatchCommand, type ScoredPrediction } from '@assay/experiments';
import { GroupedByKey, ProgressReporter, RunLog } from '@assay/messaging';
import { ServiceInfo } from '@assay/messaging/nest';
import { EvaluationAssembler, PAGE, type InTransaction } from './evaluation-assembler';

/** Batches of one experiment decided in one transaction at most: enough to share a lock turn widely, few enough that a turn stays short. */
export const SCORE_GROUP_MAX = 16;

/** Of a scored batch's predictions, Postgres ships only the inference failures (the too-many-failures message reads their errors). */
const INFERENCE_FAILURES = { array: 'predictions', field: 'parseStatus', values: ['inference_failure'] };

/**
 * inference.completed / inference.failed → the experiment decider's score_batch: the batch's
 * predictions (evaluation.batch.scored) and, for the last batch of a stage, the smoke checks, the
 * evaluation, or the failure of a run whose failed calls passed model.max_failure_share. This class
 * only supplies what the decider asks for (the batch's prompts, the smoke stage's earlier
 * predictions, the errors of the stage's earlier failed calls, the assembled evaluation, which
 * reads the earlier batches' predictions page by page) and says what happened. Once a stage's
 * batches are all requested, it has the evaluation's baselines scored ahead
 * (EvaluationAssembler.scoreEarly).
 *
 * Batches of one experiment that wait for its stream's lock are decided together (group commit):
 * one transaction, one lock, one commit for up to SCORE_GROUP_MAX of them, each acked once it
 * commits. The workers append to the same stream all the time, so a lock per batch left the
 * evaluator waiting most of the run and scoring far behind inference.
 */
@Injectable()
export class BatchScorer {
  private readonly states = new ExperimentStates();
  private readonly groups = new GroupedByKey<GroupedCommand<ScoreBatchCommand>, HandledCommand>(SCORE_GROUP_MAX, (identity, messages) =>
    handleExperimentCommands({
      store: this.store,
      states: this.states,
      consumer: 'evaluator',
      identity,
      messages,
      lock: 'the workers append the answers of other batches all the time; none of them changes how this batch is scored',
    }),
  );

  constructor(
    private readonly store: EventStore,
    private readonly info: ServiceInfo,
    private readonly runLog: RunLog,
    private readonly progress: ProgressReporter,
    private readonly assembler: EvaluationAssembler,
  ) {}

  async score(event: InferenceCompleted | InferenceFailed): Promise<void> {
    const { identity, attempt, phase, batchId } = event.data;
    const stream = experimentStream(identity);
    const provide: Provide<ScoreBatchCommand> = async (need, command, _state, locked) => {
      // Under the lock, read in the deciding transaction: it holds the scores of the batches decided before this one in its group.
      const read: InTransaction = (work) => (locked ? work(locked) : this.store.read(work));
      switch (need.input) {
        case 'batch_request':
          return { ...command, request: await read((sql) => findOneEvent(sql, stream, 'inference.batch.requested', { attempt, phase, batchId })) };
        case 'earlier_predictions': {
          // The smoke stage's (a few examples): page by page all the same, the scored events (rows, JSON, parsed) never all in memory at once.
          const earlierPredictions: ScoredPrediction[] = [];
          await read((sql) => forEachEventPage(sql, stream, 'evaluation.batch.scored', { attempt, phase, round: RUN_ROUND }, PAGE, (page) => {
            for (const e of page) for (const p of e.data.predictions) earlierPredictions.push(p);
          }));
          return { ...command, earlierPredictions };
        }
        case 'earlier_failure_errors': {
          const earlierFailureErrors: string[] = [];
          await read((sql) => forEachEventPageKeeping(sql, stream, 'evaluation.batch.scored', { attempt, phase, round: RUN_ROUND }, INFERENCE_FAILURES, PAGE, (page) => {
            for (const e of page) for (const p of e.data.predictions) earlierFailureErrors.push(inferenceErrorOf(p));
          }));
          return { ...command, earlierFailureErrors };
        }
        case 'evaluation':
          // The earlier batches' predictions are read in `read`: under the lock, the deciding transaction.
          return { ...command, evaluation: await this.assembler.evaluate(need, read) };
        default:
          throw new Error(`the batch scorer cannot supply '${need.input}'`);
      }
    };
    let command: ScoreBatchCommand = { type: 'score_batch', event, by: { producer: 'evaluator', codeVersion: this.info.codeVersion } };
    // The batch's request never changes: read it before taking the stream's lock, which every
    // batch of the run waits for, rather than while holding it (a look without the lock says
    // whether the decision will need it).
    const seen = await this.states.load(this.store, identity);
    const look = decide(command, seen);
    if (look.kind === 'need' && look.need.input === 'batch_request') command = await provide(look.need, command, seen);
    const { decision, state, handled } = await this.groups.submit(identity, { messageId: event.id, command, provide });
    if (handled.duplicate || decision.kind !== 'append') return;
    // The evaluation's baselines need the stage's prompts, not its answers: scored while the others come in.
    const early = earlyBaselinesOf(state, attempt, phase);
    if (early) this.assembler.scoreEarly(early);
    const scored = decision.events.find((e) => e.type === 'evaluation.batch.scored');
    if (scored?.type === 'evaluation.batch.scored') this.progress.add({ identity, attempt, phase }, { parseFailures: scored.data.predictions.filter((p) => p.parseStatus === 'parse_failure').length });
    const runDir = state.attempts.get(attempt)?.started.data.runDir;
    if (runDir) for (const line of decision.said) this.runLog.write(runDir, attempt, line);
  }
}
