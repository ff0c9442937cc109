import type { EvaluationBatchScored, InferenceBatchRequested, InferenceCompleted, InferenceFailed, ItemDef, Prediction, Sample } from '@assay/contracts';
import { observationsWhere, type Dataset, type SplitFile } from '@assay/data';
import { groupEntityKey, itemKey } from '@assay/contracts';
import { scoreTableBaselines, standardTableBaselines, TableBuilder, toPrediction, type FeatureTable, type SampleTable, type ScoredBaselines, type TableAnswers } from '@assay/evaluation';
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

/** What the baselines learn from: the train split's answers to the asked items, and every entity's profile features. */
function baselineTraining(dataset: Dataset, split: SplitFile, items: ItemDef[]): { trainSamples: Sample[]; features: FeatureTable } {
  const train = new Set(split.train);
  const asked = new Set(items.map((i) => itemKey(i.group, i.item)));
  const trainSamples: Sample[] = observationsWhere(dataset.observations, (o) => train.has(o.entityId) && asked.has(itemKey(o.group, o.item)))
    .map((o) => ({ entityId: o.entityId, group: o.group, item: o.item, actual: o.value }));
  const features: FeatureTable = new Map(dataset.entities.map((e) => [e.entityId, e]));
  return { trainSamples, features };
}

/**
 * The baselines shown beside a run's method, scored on its test samples (a table of them, see
 * TableBuilder; the method's own name left out: a baseline's own run shows the others, not itself
 * twice). Each baseline answers into columns, scored and let go before the next. Per-entity scores
 * are left out, as everywhere in evaluation.completed (the reporter recomputes them).
 */
export async function scoreRunBaselines(args: { dataset: Dataset; split: SplitFile; table: SampleTable; items: ItemDef[]; method: string }): Promise<ScoredBaselines> {
  const { dataset, split, table, items, method } = args;
  const { trainSamples, features } = baselineTraining(dataset, split, items);
  const baselines = standardTableBaselines({ trainSamples, items, features }).filter((b) => b.method !== method);
  return scoreTableBaselines({ method, table, items, baselines, scope: { perEntity: false } });
}

/**
 * A run's scored predictions as the evaluation reads them: columns of samples and answers (each
 * prediction carries its sample) and the spot-check item files, with no object kept per prediction.
 */
export interface ScoredPredictionColumns {
  table: SampleTable;
  answers: TableAnswers;
  spotCheckPaths: string[];
}

/** scoredPredictionColumns of one list (see ScoredPredictionColumnsBuilder for a run read page by page). */
export function scoredPredictionColumns(items: ItemDef[], method: string, predictions: Iterable<ScoredPrediction>): ScoredPredictionColumns {
  const builder = new ScoredPredictionColumnsBuilder(items, method);
  builder.add(predictions);
  return builder.finish();
}

/**
 * scoredPredictionColumns a page at a time: a caller that reads a run's scored batches from the log
 * adds each page's predictions and lets the page go, so the run's predictions are never all in
 * memory as objects. The columns do not depend on where the pages break (the table is sorted, the
 * spot checks go by prompt id).
 */
export class ScoredPredictionColumnsBuilder {
  private readonly table: TableBuilder;
  private readonly spotChecks = new SpotCheckPicker();
  private added = 0;
  private finished = false;

  constructor(items: ItemDef[], method: string) {
    this.table = new TableBuilder(items, method);
  }

  add(predictions: Iterable<ScoredPrediction>): void {
    if (this.finished) throw new Error('predictions added after the evaluation columns were finished');
    for (const p of predictions) {
      this.table.addSample(p);
      this.table.addPrediction(p);
      this.spotChecks.add(p);
      this.added++;
    }
  }

  /** Predictions added so far. */
  get count(): number {
    return this.added;
  }

  finish(): ScoredPredictionColumns {
    this.finished = true;
    return { ...this.table.build(), spotCheckPaths: this.spotChecks.paths() };
  }
}

/**
 * Five item files for a human to read after the run (numbers alone do not show a prompt that
 * says the wrong thing or an answer parsed by luck): the worst error, a parse failure if any, and
 * evenly spaced others, chosen from the data alone so replays pick the same ones.
 */
export function spotCheckPaths(predictions: ScoredPrediction[]): string[] {
  const picker = new SpotCheckPicker();
  for (const p of predictions) picker.add(p);
  return picker.paths();
}

/**
 * spotCheckPaths one prediction at a time, keeping a few numbers per prediction (its prompt id,
 * error, status and cell as indices) rather than the prediction: for a caller that reads a run's
 * predictions page by page. Prompt order decides the picks: the worst error (first in prompt
 * order among equals), the first failure in prompt order, then every fifth in prompt order.
 */
export class SpotCheckPicker {
  private readonly promptIds: string[] = [];
  private readonly errors: number[] = [];
  private readonly failed: number[] = [];
  private readonly dirOf: number[] = [];
  private readonly fileOf: number[] = [];
  private readonly dirs = new Interned();
  private readonly files = new Interned();

  add(p: Pick<ScoredPrediction, 'promptId' | 'entityId' | 'group' | 'item' | 'predicted' | 'actual' | 'parseStatus'>): void {
    this.promptIds.push(p.promptId);
    this.errors.push(p.predicted === null ? Number.NaN : Math.abs(p.predicted - p.actual));
    this.failed.push(p.parseStatus === 'ok' ? 0 : 1);
    // An entity's directory and an item's file name repeat across prompts: each kept once.
    this.dirOf.push(this.dirs.of(groupEntityKey(p.group, p.entityId), () => entityDir(p.group, p.entityId)));
    this.fileOf.push(this.files.of(p.item, () => itemFileName(p.item)));
  }

  paths(): string[] {
    const ids = this.promptIds;
    // Stable, like sorting the predictions: equal ids keep the order they were added in.
    const byId = Int32Array.from(ids.keys()).sort((a, b) => (ids[a] < ids[b] ? -1 : ids[a] > ids[b] ? 1 : a - b));
    const picks: number[] = [];
    let worst = -1;
    for (const i of byId) if (!Number.isNaN(this.errors[i]) && (worst === -1 || this.errors[i] > this.errors[worst])) worst = i;
    if (worst !== -1) picks.push(worst);
    const failure = byId.find((i) => this.failed[i] === 1);
    if (failure !== undefined) picks.push(failure);
    for (let k = 0; picks.length < 5 && k < 5; k++) {
      const i = byId[Math.floor((k * byId.length) / 5)];
      if (i !== undefined && !picks.includes(i)) picks.push(i);
    }
    return picks.map((i) => `${this.dirs.values[this.dirOf[i]]}/${this.files.values[this.fileOf[i]]}`);
  }
}

/** Values kept once each, by key, with their positions. */
class Interned {
  readonly values: string[] = [];
  private readonly index = new Map<string, number>();

  of(key: string, make: () => string): number {
    let at = this.index.get(key);
    if (at === undefined) {
      at = this.values.length;
      this.index.set(key, at);
      this.values.push(make());
    }
    return at;
  }
}
