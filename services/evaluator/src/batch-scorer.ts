import { Injectable } from '@nestjs/common';
import {
  causedBy,
  createEvent,
  experimentStream,
  type AnyEnvelope,
  type EvaluationBatchScored,
  type ExperimentPlanned,
  type ExperimentStarted,
  type InferenceBatchRequested,
  type InferenceCompleted,
  type InferenceFailed,
} from '@assay/contracts';
import { EVALUATOR_VERSION, smokeChecks } from '@assay/evaluation';
import { countElementsInStream, countInStream, EventStore, findInStream, lockStream, type DataMatch, type Sql } from '@assay/event-store';
import { asPrediction, attemptEnd, decideAfterBatch, maxFailureShareOf, scoreBatch, tooManyFailuresMessage } from '@assay/experiments';
import { ProgressReporter, RunLog } from '@assay/messaging';
import { ServiceInfo } from '@assay/messaging/nest';
import { EvaluationAssembler } from './evaluation-assembler';

/** Selects the predictions of scored batches whose model call failed. */
const INFERENCE_FAILURES = { array: 'predictions', field: 'parseStatus', value: 'inference_failure' };

/** Scoring during the run is round 1; `assay reevaluate` adds later rounds (see Reevaluator). */
const RUN_ROUND = 1;

/**
 * Scores each batch as it arrives (evaluation.batch.scored); the batch that completes a phase
 * also triggers the smoke checks or the whole evaluation, and a batch that takes the phase's
 * failed model calls over model.max_failure_share fails the run at the inference stage. The stream
 * lock makes "is this the last batch?" a question only one evaluator answers at a time. Batches
 * of an attempt that has ended (failed, cancelled) are not scored: nothing may complete it.
 */
@Injectable()
export class BatchScorer {

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
    let parseFailures = 0;
    let finished: string | null = null;
    let runDir = '';
    const outcome = await this.store.handle('evaluator', event.id, async (sql) => {
      await lockStream(sql, stream);
      const ended = await attemptEnd(sql, identity, attempt);
      if (ended) return [];
      const started = await this.one<ExperimentStarted>(sql, stream, 'experiment.started', { attempt });
      runDir = started.data.runDir;
      const planned = await this.one<ExperimentPlanned>(sql, stream, 'experiment.planned', { attempt, phase });
      const request = await this.one<InferenceBatchRequested>(sql, stream, 'inference.batch.requested', { attempt, phase, batchId });

      const predictions = scoreBatch(request.data, event, planned.data.items, started.data.method);
      parseFailures = predictions.filter((p) => p.parseStatus === 'parse_failure').length;
      const ctx = causedBy(event, stream, 'evaluator', this.info.codeVersion);
      const scored = createEvent('evaluation.batch.scored', { identity, attempt, round: RUN_ROUND, phase, batchId, evaluatorVersion: EVALUATOR_VERSION, predictions }, ctx);
      const events: AnyEnvelope[] = [scored];

      // A batch without failed calls cannot take the phase over the threshold (a crossing ends the
      // attempt), so the earlier failures are counted only when this batch adds some.
      const failedHere = predictions.filter((p) => p.parseStatus === 'inference_failure').length;
      const failedEarlier = failedHere === 0 ? 0 : await countElementsInStream(sql, stream, 'evaluation.batch.scored', { attempt, phase, round: RUN_ROUND }, INFERENCE_FAILURES);
      const verdict = decideAfterBatch({
        phase,
        batchesScored: (await countInStream(sql, stream, 'evaluation.batch.scored', { attempt, phase, round: RUN_ROUND })) + 1,
        plannedBatches: planned.data.batches,
        plannedPrompts: planned.data.prompts,
        failedPrompts: failedEarlier + failedHere,
        maxFailureShare: maxFailureShareOf(started.data.config),
      });
      // Every prediction of the phase, read once the phase is decided either way.
      const phasePredictions = async () => [
        ...(await this.all<EvaluationBatchScored>(sql, stream, 'evaluation.batch.scored', { attempt, phase, round: RUN_ROUND })).flatMap((e) => e.data.predictions),
        ...predictions,
      ];
      if (verdict.kind === 'too_many_failures') {
        const errors = (await phasePredictions()).filter((p) => p.parseStatus === 'inference_failure').map((p) => p.parseError ?? 'unknown inference error');
        const message = tooManyFailuresMessage(verdict, errors);
        events.push(createEvent('experiment.failed', { requestId: started.data.requestId, identity, attempt, stage: 'inference', ...message }, ctx));
        finished = `FAILED at inference: ${message.error}`;
      } else if (verdict.kind === 'phase_complete') {
        const all = await phasePredictions();
        if (phase === 'smoke') {
          const result = smokeChecks({ predictions: all.map(asPrediction), items: planned.data.items });
          const outputs = new Map((event.type === 'inference.completed' ? event.data.results : []).map((r) => [r.promptId, r.outputText ?? r.error]));
          events.push(
            createEvent(
              'evaluation.smoke.checked',
              {
                identity,
                attempt,
                passed: result.passed,
                checks: result.checks,
                examples: all.map((p) => ({ entityId: p.entityId, group: p.group, item: p.item, output: outputs.get(p.promptId) ?? null, status: p.parseError ? `${p.parseStatus}: ${p.parseError}` : p.parseStatus })),
              },
              ctx,
            ),
          );
          finished = `smoke checks ${result.passed ? 'passed' : 'FAILED'}`;
        } else {
          events.push(await this.assembler.completed({ sql, stream, started, planned, round: RUN_ROUND, reevaluation: null, predictions: all, ctx }));
          finished = `evaluation of ${all.length} predictions complete`;
        }
      }
      return [{ stream, expected: 'any', events }];
    });
    if (outcome.duplicate) return;
    this.progress.add({ identity, attempt, phase }, { parseFailures });
    if (finished) this.runLog.write(runDir, finished);
  }

  private async all<T extends AnyEnvelope>(sql: Sql, stream: string, type: string, match: DataMatch): Promise<T[]> {
    return (await findInStream(sql, stream, type, match)) as unknown as T[];
  }

  private async one<T extends AnyEnvelope>(sql: Sql, stream: string, type: string, match: DataMatch): Promise<T> {
    const [event] = await this.all<T>(sql, stream, type, match);
    if (!event) throw new Error(`no ${type} matching ${JSON.stringify(match)} in ${stream}`);
    return event;
  }
}
