import type { EvaluationBatchScored, InferenceBatchRequested, InferenceCompleted, InferenceFailed, ItemDef, Prediction, Sample } from '@assay/contracts';
import { observationsWhere, type Dataset, type SplitFile } from '@assay/data';
import { itemKey } from '@assay/contracts';
import { scoreBaselines, standardBaselineRuns, toPrediction, type BaselineRun, type ScoredBaselines } from '@assay/evaluation';
import { entityDir, itemFileName } from '@assay/report';
import { serverCacheDelta, type ServerCacheReading } from '@assay/inference';

export type ScoredPrediction = EvaluationBatchScored['data']['predictions'][number];

function itemLookup(items: ItemDef[]): (group: string, item: string) => ItemDef {
  const byKey = new Map(items.map((i) => [itemKey(i.group, i.item), i]));
  return (group, item) => {
    const def = byKey.get(itemKey(group, item));
    if (!def) throw new Error(`item ${JSON.stringify(item)} of group ${JSON.stringify(group)} is not in the planned items`);
    return def;
  };
}

/**
 * A batch's raw outputs parsed into Predictions, one per prompt: a parse failure keeps its raw
 * text and reason, an inference failure its error. Nothing is dropped.
 */
export function scoreBatch(
  request: InferenceBatchRequested['data'],
  outcome: InferenceCompleted | InferenceFailed,
  items: ItemDef[],
  method: string,
): ScoredPrediction[] {
  const itemOf = itemLookup(items);
  const results = outcome.type === 'inference.completed' ? new Map(outcome.data.results.map((r) => [r.promptId, r])) : null;
  return request.prompts.map((p) => {
    const sample: Sample = { entityId: request.entityId, group: p.group, item: p.item, actual: p.actual };
    const result = results?.get(p.promptId);
    const prediction =
      outcome.type === 'inference.failed'
        ? toPrediction({ sample, item: itemOf(p.group, p.item), method, raw: null, inferenceError: outcome.data.error })
        : !result
          ? toPrediction({ sample, item: itemOf(p.group, p.item), method, raw: null, inferenceError: `no result for prompt ${p.promptId} in the worker's answer` })
          : result.status === 'error'
            ? toPrediction({ sample, item: itemOf(p.group, p.item), method, raw: null, inferenceError: result.error ?? 'unknown inference error' })
            : toPrediction({ sample, item: itemOf(p.group, p.item), method, raw: result.outputText ?? '' });
    return { ...prediction, promptId: p.promptId, actual: p.actual };
  });
}

export interface CacheUsage {
  promptTokens: number;
  cachedTokens: number;
  hitRate: number | null;
  idealHitRate: number | null;
  source: 'usage' | 'server-counters' | 'unknown';
  shared?: boolean;
}

/**
 * Prefix-cache reuse the workers measured vs the ideal (an upper bound, see idealBatchCachedTokens).
 * Only answers of model calls made for this attempt count: a reused answer (reusedFrom: an earlier
 * attempt, or another experiment's stage of the same key) sent nothing to the server, and its
 * recorded cached tokens describe the other run's cache, so it is left out of both sums and the
 * ideal. A run whose answers were all reused has no hit rate (null).
 * The hit rate comes from the answers' usage.cached_tokens where every answer has it; else from
 * the servers' prefix-cache counters over the run (server-wide, so `shared` when they counted
 * more prompt tokens than the run sent); else it is unknown (null), never 0.
 */
export function cacheUsage(completions: Iterable<InferenceCompleted>): CacheUsage {
  const tally = new CacheUsageTally();
  for (const e of completions) tally.add(e);
  return tally.result();
}

/** cacheUsage one completion at a time, for a caller that reads a run's completions page by page. */
export class CacheUsageTally {
  private promptTokens = 0;
  private cachedTokens = 0;
  private everyAnswerHasCached = true;
  private answered = 0;
  private idealCached = 0;
  private idealKnown = true;
  private readonly readings: ServerCacheReading[] = [];

  add(e: InferenceCompleted): void {
    const ok = e.data.results.filter((r) => r.status === 'ok' && r.reusedFrom === undefined);
    if (ok.length === 0) return;
    for (const r of ok) {
      this.answered++;
      this.promptTokens += r.promptTokens ?? 0;
      if (r.cachedTokens === null) this.everyAnswerHasCached = false;
      else this.cachedTokens += r.cachedTokens;
    }
    if (e.data.serverCache) this.readings.push(e.data.serverCache);
    if (e.data.idealCachedTokens !== undefined) {
      if (e.data.idealCachedTokens === null) this.idealKnown = false;
      else this.idealCached += e.data.idealCachedTokens;
    }
    // Logged before the bound was recorded: the entity prefix computed once, reused by the others.
    else if (e.data.prefixTokens === null) this.idealKnown = false;
    else this.idealCached += e.data.prefixTokens * Math.max(0, ok.length - 1);
  }

  result(): CacheUsage {
    const { promptTokens, cachedTokens, answered } = this;
    const idealHitRate = this.idealKnown && promptTokens > 0 ? this.idealCached / promptTokens : null;
    // No answer of this attempt came from a model call (every one reused, or none answered): nothing was sent, so no source is needed.
    if (answered === 0) return { promptTokens, cachedTokens, hitRate: null, idealHitRate, source: 'usage' };
    if (this.everyAnswerHasCached && answered > 0) return { promptTokens, cachedTokens, hitRate: promptTokens > 0 ? cachedTokens / promptTokens : null, idealHitRate, source: 'usage' };
    const counters = serverCacheDelta(this.readings);
    if (counters && counters.queries > 0) {
      return { promptTokens, cachedTokens, hitRate: counters.hits / counters.queries, idealHitRate, source: 'server-counters', shared: counters.queries > promptTokens };
    }
    return { promptTokens, cachedTokens, hitRate: null, idealHitRate, source: 'unknown' };
  }
}

export function samplesOf(predictions: ScoredPrediction[]): Sample[] {
  return predictions.map((p) => ({ entityId: p.entityId, group: p.group, item: p.item, actual: p.actual }));
}

export function asPrediction(p: ScoredPrediction): Prediction {
  const { promptId: _promptId, actual: _actual, ...prediction } = p;
  return prediction;
}

/** Baselines from the train split, scored by the same evaluate() as the LLM, so the numbers compare. */
export function baselinePredictions(dataset: Dataset, split: SplitFile, testSamples: Sample[], items: ItemDef[]): Prediction[][] {
  return baselineRuns(dataset, split, testSamples, items).map((b) => b.predict());
}

/** baselinePredictions one baseline at a time, each predicting when asked. */
export function baselineRuns(dataset: Dataset, split: SplitFile, testSamples: Sample[], items: ItemDef[]): BaselineRun[] {
  const train = new Set(split.train);
  const asked = new Set(items.map((i) => itemKey(i.group, i.item)));
  const trainSamples: Sample[] = observationsWhere(dataset.observations, (o) => train.has(o.entityId) && asked.has(itemKey(o.group, o.item)))
    .map((o) => ({ entityId: o.entityId, group: o.group, item: o.item, actual: o.value }));
  const features = new Map(dataset.entities.map((e) => [e.entityId, e]));
  return standardBaselineRuns({ trainSamples, testSamples, items, features });
}

/**
 * The baselines shown beside a run's method, scored on its test samples (the method's own name
 * left out: a baseline's own run shows the others, not itself twice). Per-entity scores are left
 * out, as everywhere in evaluation.completed (the reporter recomputes them).
 */
export async function scoreRunBaselines(args: { dataset: Dataset; split: SplitFile; samples: Sample[]; items: ItemDef[]; method: string }): Promise<ScoredBaselines> {
  const { dataset, split, samples, items, method } = args;
  const baselines = baselineRuns(dataset, split, samples, items).filter((b) => b.method !== method);
  return scoreBaselines({ method, samples, items, baselines, scope: { perEntity: false } });
}

/**
 * Five item files for a human to read after the run (numbers alone do not show a prompt that
 * says the wrong thing or an answer parsed by luck): the worst error, a parse failure if any, and
 * evenly spaced others, chosen from the data alone so replays pick the same ones.
 */
export function spotCheckPaths(predictions: ScoredPrediction[]): string[] {
  const byId = [...predictions].sort((a, b) => (a.promptId < b.promptId ? -1 : a.promptId > b.promptId ? 1 : 0));
  const picks: ScoredPrediction[] = [];
  const worst = [...byId].filter((p) => p.predicted !== null).sort((a, b) => Math.abs(b.predicted! - b.actual) - Math.abs(a.predicted! - a.actual))[0];
  if (worst) picks.push(worst);
  const failure = byId.find((p) => p.parseStatus !== 'ok');
  if (failure) picks.push(failure);
  for (let i = 0; picks.length < 5 && i < 5; i++) {
    const p = byId[Math.floor((i * byId.length) / 5)];
    if (p && !picks.includes(p)) picks.push(p);
  }
  return picks.map((p) => `${entityDir(p.group, p.entityId)}/${itemFileName(p.item)}`);
}
