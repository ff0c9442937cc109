import { Injectable, Logger } from '@nestjs/common';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { errorMessage, experimentStream, type EvaluationCompleted, type ExperimentStarted, type ItemDef } from '@assay/contracts';
import { buildTableEvaluation, tableInputsDigest, type SampleTable, type ScoredBaselines } from '@assay/evaluation';
import { EventStore, forEachEventPage, type Sql } from '@assay/event-store';
import { PoisonMessageError } from '@assay/messaging';
import { CacheUsageTally, runDataChanged, scoreRunBaselinesFromData, ScoredPredictionColumnsBuilder, type EarlyBaselines, type EvaluationNeed } from '@assay/experiments';
import type { EarlyBaselinesReply } from './early-baselines.thread';

/** Events per read when a whole run's events are folded. */
export const PAGE = 64;

/** Runs `work` in a transaction: the caller's deciding one when it holds the stream's lock, else one of its own. */
export type InTransaction = <T>(work: (sql: Sql) => Promise<T>) => Promise<T>;

/** Attempts whose baselines this process scored ahead of their evaluation; a few runs at once at most. */
const EARLY_BASELINES_KEPT = 8;

/**
 * One round's evaluation.completed from its scored predictions: shared by the run's own round
 * (the batch that completes the full phase) and by re-evaluation rounds.
 */
@Injectable()
export class EvaluationAssembler {
  private readonly logger = new Logger(EvaluationAssembler.name);
  /**
   * Baselines scored while a run's inference ran (scoreEarly), by identity and attempt: they do
   * not depend on the model's answers, so the last batch's evaluation only scores the method.
   * Only a speed-up: a process that has none (restarted, or the early scoring failed) scores them
   * at the end, and one scored on other samples or items is not used (the digests differ).
   */
  private readonly early = new Map<string, Promise<ScoredBaselines | null>>();

  constructor(private readonly store: EventStore) {}

  /** Null when the data files still have the hashes the run started with, else what changed (runDataChanged). */
  dataChangedSince(started: ExperimentStarted): Promise<string | null> {
    return runDataChanged(started);
  }

  /**
   * Starts scoring the baselines of a run whose prompts are all requested (earlyBaselinesOf),
   * once per attempt, without waiting for it: the run's last batch picks the result up.
   */
  scoreEarly(early: EarlyBaselines): void {
    const key = earlyKey(early.started);
    if (this.early.has(key)) return;
    const began = performance.now();
    const scoring = this.scoreFromRequests(early).then(
      (scored) => {
        this.logger.log(`${key}: baselines scored ahead in ${((performance.now() - began) / 1000).toFixed(1)} s`);
        return scored;
      },
      (error: unknown) => {
        // Not an error of the run: the last batch scores the baselines itself, and fails the run if it must.
        this.logger.warn(`${key}: baselines not scored ahead (${errorMessage(error)}); the evaluation scores them`);
        return null;
      },
    );
    this.early.set(key, scoring);
    if (this.early.size > EARLY_BASELINES_KEPT) this.early.delete(this.early.keys().next().value!);
  }

  /**
   * The baselines on the stage's samples, read from its batch requests, scored on a thread of
   * their own (early-baselines.thread): seconds of CPU on this event loop would run while a
   * scoring transaction of this process holds the run's stream lock, and every worker's commit
   * would wait for them.
   */
  private scoreFromRequests(early: EarlyBaselines): Promise<ScoredBaselines> {
    return new Promise((resolve, reject) => {
      // The compiled thread sits beside this file (dist/services/evaluator/src/).
      const thread = new Worker(join(__dirname, 'early-baselines.thread.js'), { workerData: early });
      let replied = false;
      thread.once('message', (reply: EarlyBaselinesReply) => {
        replied = true;
        if ('error' in reply) reject(new Error(reply.error));
        else resolve(reply.scored);
      });
      thread.once('error', reject);
      thread.once('exit', (code) => {
        if (!replied) reject(new Error(`the baselines thread exited (code ${code}) without an answer`));
      });
    });
  }

  /** The baselines scored ahead for these samples and items, if this process has them. */
  private async earlyBaselines(started: ExperimentStarted, table: SampleTable, items: ItemDef[]): Promise<ScoredBaselines | null> {
    const key = earlyKey(started);
    const early = await this.early.get(key);
    if (!early) return null;
    if (early.inputsDigest === tableInputsDigest(table, items)) return early;
    this.logger.warn(`${key}: the baselines scored ahead were scored on other samples or items than the evaluation's; the evaluation scores them`);
    return null;
  }

  /**
   * One round's evaluation (result and cache reuse) from its scored predictions: what
   * evaluation.completed carries, and how many predictions it evaluated. The need's earlier
   * predictions are read with `read`, a page of scored batches at a time straight into the
   * evaluation's columns: a run's last batch passes its deciding transaction, the only one that
   * sees the batches decided before it in its group commit.
   */
  async evaluate(need: EvaluationNeed, read: InTransaction): Promise<Pick<EvaluationCompleted['data'], 'result' | 'cache'> & { predictions: number }> {
    const { started, items } = need;
    const { identity, attempt } = started.data;
    const began = performance.now();
    const changed = await this.dataChangedSince(started);
    // Retrying cannot help: the run fails at evaluation at once; restore the files and `assay reevaluate`.
    if (changed) throw new PoisonMessageError(changed);
    const columns = new ScoredPredictionColumnsBuilder(items, started.data.method);
    if (need.earlier) {
      const { phase, round } = need.earlier;
      await read((sql) => forEachEventPage(sql, experimentStream(identity), 'evaluation.batch.scored', { attempt, phase, round }, PAGE, (page) => page.forEach((e) => columns.add(e.data.predictions))));
    }
    columns.add(need.predictions);
    const predictions = columns.count;
    const { table, answers, spotCheckPaths } = columns.finish();
    const early = await this.earlyBaselines(started, table, items);
    const baselines = early ?? (await scoreRunBaselinesFromData(started, table, items));
    const result = buildTableEvaluation({
      method: started.data.method,
      table,
      answers,
      items,
      baselines,
      spotCheckPaths,
      // Per-entity scores are recomputed by the reporter from the scored predictions: with
      // hundreds of entities they would push this event past NATS's 1 MB message limit.
      scope: { perEntity: false },
    });
    const slim: Record<string, unknown> = { ...result, method: { ...result.method, byEntity: [] }, baselines: result.baselines.map((b) => ({ ...b, byEntity: [] })) };
    // Page by page: every answer of the run is never in memory at once.
    const cache = new CacheUsageTally();
    await this.store.read((sql) => forEachEventPage(sql, experimentStream(identity), 'inference.completed', { attempt, phase: 'full' }, PAGE, (page) => page.forEach((e) => cache.add(e))));
    this.logger.log(`${earlyKey(started)}: evaluation of ${predictions} predictions built in ${((performance.now() - began) / 1000).toFixed(1)} s (baselines ${early ? 'scored ahead' : 'scored now'})`);
    return { result: slim, cache: cache.result(), predictions };
  }
}

function earlyKey(started: ExperimentStarted): string {
  return `${started.data.identity}#${started.data.attempt}`;
}
