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
import { countInStream, EventStore, findInStream, lockStream, type DataMatch, type Sql } from '@assay/event-store';
import { asPrediction, scoreBatch } from '@assay/experiments';
import { ProgressReporter, RunLog } from '@assay/messaging';
import { ServiceInfo } from '@assay/messaging/nest';
import { EvaluationAssembler } from './evaluation-assembler';

/** Scoring during the run is round 1; `assay reevaluate` adds later rounds (see Reevaluator). */
const RUN_ROUND = 1;

/**
 * Scores each batch as it arrives (evaluation.batch.scored); the batch that completes a phase
 * also triggers the smoke checks or the whole evaluation. The stream lock makes "is this the
 * last batch?" a question only one evaluator answers at a time.
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
      const started = await this.one<ExperimentStarted>(sql, stream, 'experiment.started', { attempt });
      runDir = started.data.runDir;
      const planned = await this.one<ExperimentPlanned>(sql, stream, 'experiment.planned', { attempt, phase });
      const request = await this.one<InferenceBatchRequested>(sql, stream, 'inference.batch.requested', { attempt, phase, batchId });

      const predictions = scoreBatch(request.data, event, planned.data.items, started.data.method);
      parseFailures = predictions.filter((p) => p.parseStatus === 'parse_failure').length;
      const ctx = causedBy(event, stream, 'evaluator', this.info.codeVersion);
      const scored = createEvent('evaluation.batch.scored', { identity, attempt, round: RUN_ROUND, phase, batchId, evaluatorVersion: EVALUATOR_VERSION, predictions }, ctx);
      const events: AnyEnvelope[] = [scored];

      if ((await countInStream(sql, stream, 'evaluation.batch.scored', { attempt, phase, round: RUN_ROUND })) + 1 === planned.data.batches) {
        const earlier = await this.all<EvaluationBatchScored>(sql, stream, 'evaluation.batch.scored', { attempt, phase, round: RUN_ROUND });
        const all = [...earlier.flatMap((e) => e.data.predictions), ...predictions];
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
