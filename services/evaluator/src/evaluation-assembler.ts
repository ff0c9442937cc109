import { Injectable } from '@nestjs/common';
import { AnyExperimentConfig } from '@assay/config';
import { createEvent, experimentStream, type EvaluationCompleted, type EventContext, type ExperimentPlanned, type ExperimentStarted, type ItemDef } from '@assay/contracts';
import { loadDataset, loadSplit } from '@assay/data';
import { buildEvaluation } from '@assay/evaluation';
import { EventStore, forEachEventPage } from '@assay/event-store';
import { PoisonMessageError } from '@assay/messaging';
import { applyLabels, asPrediction, dataChangedSince, StageError, baselinePredictions, CacheUsageTally, samplesOf, spotCheckPaths, type ScoredPrediction } from '@assay/experiments';

/** Events per read when a whole run's events are folded. */
export const PAGE = 64;

/**
 * One round's evaluation.completed from its scored predictions: shared by the run's own round
 * (the batch that completes the full phase) and by re-evaluation rounds.
 */
@Injectable()
export class EvaluationAssembler {
  constructor(private readonly store: EventStore) {}

  /**
   * Baselines train on the same split file and the same labels as the planner's prompts: null
   * when the data files still have the hashes the run started with, else what changed.
   */
  async dataChangedSince(started: ExperimentStarted): Promise<string | null> {
    try {
      const changed = await dataChangedSince({ config: AnyExperimentConfig.parse(started.data.config), dataHashes: started.data.dataHashes });
      return changed && `${started.data.identity}: ${changed}: baselines would use other data`;
    } catch (error) {
      // A data file gone or unreadable: a reason to refuse, like a changed one.
      if (error instanceof StageError) return `${started.data.identity}: ${error.message}`;
      throw error;
    }
  }

  /** One round's evaluation (result and cache reuse) from its scored predictions: what evaluation.completed carries. */
  async evaluate(args: { started: ExperimentStarted; items: ItemDef[]; predictions: ScoredPrediction[] }): Promise<Pick<EvaluationCompleted['data'], 'result' | 'cache'>> {
    const { started, items, predictions } = args;
    const { identity, attempt } = started.data;
    const changed = await this.dataChangedSince(started);
    // Retrying cannot help: the run fails at evaluation at once; restore the files and `assay reevaluate`.
    if (changed) throw new PoisonMessageError(changed);
    const config = AnyExperimentConfig.parse(started.data.config);
    const raw = await loadDataset({ profiles: config.data.profiles, responses: config.data.responses, items: config.data.items });
    const { split } = await loadSplit(config.data.split, raw.entities.map((e) => e.entityId));
    // The same labels the planner asked for (labels.mode): e.g. median-split 0/1 train values.
    const dataset = applyLabels(config.labels.mode, raw, split);
    const samples = samplesOf(predictions);
    const result = buildEvaluation({
      method: started.data.method,
      samples,
      predictions: predictions.map(asPrediction),
      items,
      // A baseline's own run shows the other baselines beside it, not itself a second time.
      baselinePredictions: baselinePredictions(dataset, split, samples, items).filter((b) => b[0]?.method !== started.data.method),
      spotCheckPaths: spotCheckPaths(predictions),
      // Per-entity scores are recomputed by the reporter from the scored predictions: with
      // hundreds of entities they would push this event past NATS's 1 MB message limit.
      scope: { perEntity: false },
    });
    const slim: Record<string, unknown> = { ...result, method: { ...result.method, byEntity: [] }, baselines: result.baselines.map((b) => ({ ...b, byEntity: [] })) };
    // Page by page: every answer of the run is never in memory at once.
    const cache = new CacheUsageTally();
    await this.store.read((sql) => forEachEventPage(sql, experimentStream(identity), 'inference.completed', { attempt, phase: 'full' }, PAGE, (page) => page.forEach((e) => cache.add(e))));
    return { result: slim, cache: cache.result() };
  }
}
