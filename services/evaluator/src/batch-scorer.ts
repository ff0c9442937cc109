import { Injectable } from '@nestjs/common';
import { ExperimentConfig } from '@assay/config';
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
import { hashFile, loadDataset, loadSplit } from '@assay/data';
import { buildEvaluation, EVALUATOR_VERSION, smokeChecks } from '@assay/evaluation';
import { countInStream, EventStore, findInStream, type DataMatch, type Sql } from '@assay/event-store';
import { applyLabels, asPrediction, baselinePredictions, samplesOf, scoreBatch, spotCheckPaths, type ScoredPrediction } from '@assay/experiments';
import { ProgressReporter, RunLog } from '@assay/messaging';
import { ServiceInfo } from '@assay/messaging/nest';

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
  ) {}

  async score(event: InferenceCompleted | InferenceFailed): Promise<void> {
    const { identity, attempt, phase, batchId } = event.data;
    const stream = experimentStream(identity);
    let parseFailures = 0;
    let finished: string | null = null;
    let runDir = '';
    const outcome = await this.store.handle('evaluator', event.id, async (sql) => {
      await sql.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [stream]);
      const started = await this.one<ExperimentStarted>(sql, stream, 'experiment.started', { attempt });
      runDir = started.data.runDir;
      const planned = await this.one<ExperimentPlanned>(sql, stream, 'experiment.planned', { attempt, phase });
      const request = await this.one<InferenceBatchRequested>(sql, stream, 'inference.batch.requested', { attempt, phase, batchId });

      const predictions = scoreBatch(request.data, event, planned.data.items, started.data.method);
      parseFailures = predictions.filter((p) => p.parseStatus === 'parse_failure').length;
      const ctx = causedBy(event, stream, 'evaluator', this.info.codeVersion);
      const scored = createEvent('evaluation.batch.scored', { identity, attempt, phase, batchId, evaluatorVersion: EVALUATOR_VERSION, predictions }, ctx);
      const events: AnyEnvelope[] = [scored];

      if ((await countInStream(sql, stream, 'evaluation.batch.scored', { attempt, phase })) + 1 === planned.data.batches) {
        const earlier = await this.all<EvaluationBatchScored>(sql, stream, 'evaluation.batch.scored', { attempt, phase });
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
          events.push(await this.evaluationCompleted(sql, stream, started, planned, all, ctx));
          finished = `evaluation of ${all.length} predictions complete`;
        }
      }
      return [{ stream, expected: 'any', events }];
    });
    if (outcome.duplicate) return;
    this.progress.add({ identity, attempt, phase }, { parseFailures });
    if (finished) this.runLog.write(runDir, finished);
  }

  private async evaluationCompleted(
    sql: Sql,
    stream: string,
    started: ExperimentStarted,
    planned: ExperimentPlanned,
    predictions: ScoredPrediction[],
    ctx: ReturnType<typeof causedBy>,
  ): Promise<AnyEnvelope> {
    const { identity, attempt } = started.data;
    const config = ExperimentConfig.parse(started.data.config);
    // Baselines train on the same split file and the same labels as the planner's prompts, checked
    // against the hashes the run started with (items too: their kinds decide the binary labels).
    for (const [role, path] of [['profiles', config.data.profiles], ['responses', config.data.responses], ['items', config.data.items], ['split', config.data.split]] as const) {
      const hash = await hashFile(path);
      if (hash !== started.data.dataHashes[role]) throw new Error(`data.${role} (${path}) changed since ${identity} started: baselines would use other data`);
    }
    const raw = await loadDataset({ profiles: config.data.profiles, responses: config.data.responses, items: config.data.items });
    const { split } = await loadSplit(config.data.split, raw.entities.map((e) => e.entityId));
    // The same labels the planner asked for (labels.mode): e.g. median-split 0/1 train values.
    const dataset = applyLabels(config.labels.mode, raw, split);
    const samples = samplesOf(predictions);
    const result = buildEvaluation({
      method: started.data.method,
      samples,
      predictions: predictions.map(asPrediction),
      items: planned.data.items,
      baselinePredictions: baselinePredictions(dataset, split, samples, planned.data.items),
      spotCheckPaths: spotCheckPaths(predictions),
    });
    // Per-entity scores are recomputed by the reporter from the scored predictions: with
    // hundreds of entities they would push this event past NATS's 1 MB message limit.
    const slim = { ...result, method: { ...result.method, byEntity: [] }, baselines: result.baselines.map((b) => ({ ...b, byEntity: [] })) };
    const completed = await this.all<InferenceCompleted>(sql, stream, 'inference.completed', { attempt, phase: 'full' });
    let promptTokens = 0;
    let cachedTokens = 0;
    let idealCached = 0;
    let idealKnown = true;
    for (const e of completed) {
      const ok = e.data.results.filter((r) => r.status === 'ok');
      for (const r of ok) {
        promptTokens += r.promptTokens ?? 0;
        cachedTokens += r.cachedTokens ?? 0;
      }
      // Ideal: the entity prefix computed once, then reused by every other prompt of the entity.
      if (e.data.prefixTokens === null) idealKnown = false;
      else idealCached += e.data.prefixTokens * Math.max(0, ok.length - 1);
    }
    return createEvent(
      'evaluation.completed',
      {
        identity,
        attempt,
        evaluatorVersion: EVALUATOR_VERSION,
        result: slim as unknown as Record<string, unknown>,
        cache: {
          promptTokens,
          cachedTokens,
          hitRate: promptTokens > 0 ? cachedTokens / promptTokens : null,
          idealHitRate: idealKnown && promptTokens > 0 ? idealCached / promptTokens : null,
        },
      },
      ctx,
    );
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
