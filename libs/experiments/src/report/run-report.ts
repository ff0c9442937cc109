import type { AssayEvent, AssayEventType, EventOfType, ExperimentPlanned, ExperimentRequested, ExperimentStarted, InferenceBatchRequested, InferenceCompleted, ItemDef } from '@assay/contracts';
import { AnyExperimentConfig } from '@assay/config';
import { compareCodeUnits, itemKey } from '@assay/contracts';
import { evaluateEntities, EVALUATOR_VERSION, loggedEvaluationResult, type EntityScore, type EvaluationResult } from '@assay/evaluation';
import type { EntityInputCall, PredictionRow, RunWideReport, StageReuse } from '@assay/report';
import { methodCatalog } from '@assay/methods/registry';
import { runMode } from '@assay/report';
import { stringify } from 'yaml';
import { z } from 'zod';
import { evaluationRounds, roundOf } from '../re-evaluate/evaluation-rounds';
import { foldRegistry } from '../request/registry';
import { asPrediction, samplesOf, type ScoredPrediction } from '../score/scoring';

/** The registry's key numbers of an evaluation (one round's): what `assay status` and the CLI show. */
export function evaluationSummary(result: EvaluationResult, cache: { hitRate: number | null }, round: number): Record<string, number | string | null> {
  const overall = result.method.overall;
  const summary: Record<string, number | string | null> = {
    normalized_mae: overall.primary.value,
    n: overall.n,
    scored: overall.nScored,
    parse_failures: overall.parseFailures,
    inference_failures: overall.inferenceFailures,
    outliers: overall.outliers,
    cache_hit_rate: cache.hitRate,
  };
  for (const b of result.baselines) summary[`${b.method}.normalized_mae`] = b.overall.primary.value;
  summary.evaluation_round = round;
  return summary;
}

/**
 * Which stages of an attempt were answered from another experiment's stage of the same key, from
 * its inference.completed events (results with reusedFrom.identity), by stage and source.
 */
export function stagesReusedOf(started: Pick<ExperimentStarted['data'], 'stages'>, completions: InferenceCompleted[]): StageReuse[] {
  const tally = new AttemptCompletions(started);
  for (const c of completions) tally.add(c);
  return tally.stagesReused();
}

/**
 * What a report needs of an attempt's inference.completed events (every phase), folded one event
 * at a time so a reader can take them a page at a time: the stages reused from other experiments,
 * and of the full phase the last completion of each batch (the one its rows show: a batch answered
 * twice shows its last answer), its worker and whether a call of it failed over.
 */
export class AttemptCompletions {
  private readonly reused = new Map<string, StageReuse>();
  private readonly last = new Map<string, { id: string; worker: string; failover: boolean }>();

  constructor(private readonly started: Pick<ExperimentStarted['data'], 'stages'>) {}

  add(c: InferenceCompleted): void {
    const stage = this.started.stages?.find((s) => s.phase === c.data.phase);
    if (!stage) throw new Error(`inference.completed ${c.id} (phase ${c.data.phase}) belongs to no stage recorded in experiment.started`);
    const counted = new Set<string>();
    for (const r of c.data.results) {
      const from = r.reusedFrom?.identity;
      if (from === undefined) continue;
      const at = JSON.stringify([stage.name, from]);
      const entry = this.reused.get(at) ?? { stage: stage.name, stageKey: stage.key, fromIdentity: from, batches: 0, prompts: 0 };
      entry.prompts += 1;
      if (!counted.has(at)) entry.batches += 1;
      counted.add(at);
      this.reused.set(at, entry);
    }
    if (c.data.phase === 'full') this.last.set(c.data.batchId, { id: c.id, worker: c.data.worker, failover: c.data.results.some((r) => r.failoverFrom !== undefined) });
  }

  stagesReused(): StageReuse[] {
    return [...this.reused.values()].sort((a, b) => compareCodeUnits(a.stage, b.stage) || compareCodeUnits(a.fromIdentity, b.fromIdentity));
  }

  /** The workers of the full phase's last completions, sorted. */
  workers(): string[] {
    return [...new Set([...this.last.values()].map((c) => c.worker))].sort();
  }

  /** Whether a call of a full-phase batch's last completion failed over to another replica. */
  anyFailover(): boolean {
    return [...this.last.values()].some((c) => c.failover);
  }

  /** The id of the batch's last full-phase completion; undefined when it has none. */
  lastCompletionOf(batchId: string): string | undefined {
    return this.last.get(batchId)?.id;
  }
}

/** The log's latest round was scored by other rules than this code's: a replay cannot reproduce it. */
export class EvaluatorVersionMismatchError extends Error {
  constructor(
    readonly identity: string,
    readonly attempt: number,
    readonly round: number,
    readonly loggedVersion: string,
  ) {
    super(
      `${identity} (attempt ${attempt}, evaluation round ${round}) was evaluated by ${loggedVersion}, this code is ${EVALUATOR_VERSION}: ` +
        `the tree cannot be rebuilt byte for byte with other scoring rules; run 'assay reevaluate ${identity}' to score its logged inference results again (no model calls)`,
    );
    this.name = 'EvaluatorVersionMismatchError';
  }
}

function only<K extends AssayEventType>(events: AssayEvent[], type: K, what: string): EventOfType<K> {
  const found = events.filter((e): e is EventOfType<K> => e.type === type);
  if (found.length !== 1) throw new Error(`expected one ${type} for ${what}, found ${found.length}`);
  return found[0];
}

/**
 * The run-wide part of the run directory's content as a pure function of the log: the run's own
 * events but its full phase's batches (inference.batch.requested, inference.completed,
 * evaluation.batch.scored: the bulk, read a group at a time by the reporter, see sliceRowsOf),
 * folded into `completions` instead; the experiment.requested of the attempt, from its request
 * stream, for requestedAt; and the registry events recorded before the evaluation round shown
 * (for "comparison context"), so a replay later, after other runs, rebuilds the same bytes.
 * Per-entity scores are not in it (see entityScoresOf).
 */
export function assembleRunReport(runEvents: AssayEvent[], attempt: number, round: number, earlierRegistryEvents: readonly AssayEvent[], completions: AttemptCompletions): RunWideReport {
  const mine = runEvents.filter((e) => 'attempt' in e.data && e.data.attempt === attempt);
  const what = `attempt ${attempt}`;
  const started = only(mine, 'experiment.started', what);
  const { identity, method } = started.data;
  const planned = mine.filter((e): e is ExperimentPlanned => e.type === 'experiment.planned' && e.data.phase === 'full');
  if (planned.length !== 1) throw new Error(`expected one full-phase experiment.planned for ${identity} ${what}`);
  const ofRound = mine.filter((e) => e.type === 'evaluation.completed' && roundOf(e) === round);
  const evaluation = only(ofRound, 'evaluation.completed', `${identity} ${what} round ${round}`);
  if (evaluation.data.evaluatorVersion !== EVALUATOR_VERSION) throw new EvaluatorVersionMismatchError(identity, attempt, round, evaluation.data.evaluatorVersion);
  const bulk = mine.find((e) => (e.type === 'inference.batch.requested' || e.type === 'inference.completed' || e.type === 'evaluation.batch.scored') && e.data.phase === 'full');
  if (bulk) throw new Error(`assembleRunReport takes the run-wide events only: ${bulk.type} ${bulk.id} of the full phase is read a group at a time (sliceRowsOf)`);
  const result = loggedEvaluationResult(evaluation.data.result, `evaluation.completed ${evaluation.id} of ${identity} ${what} round ${round}`);

  const config = reportedConfigOf(started);
  const model = config.model;
  const methodLabel = methodLabelOf(started);
  const split = planned[0].data.split;
  // The request of this attempt, when the caller passed it in (it is logged in the request's own stream).
  const requested = runEvents.find((e): e is ExperimentRequested => e.type === 'experiment.requested' && e.data.requestId === started.data.requestId);
  const stagesReused = completions.stagesReused();
  const workers = completions.workers();
  const sameData = (h: Record<string, string>) =>
    h.profiles === started.data.dataHashes.profiles && h.responses === started.data.dataHashes.responses && h.split === started.data.dataHashes.split;
  const comparison = foldRegistry(earlierRegistryEvents)
    .filter((e) => e.identity !== identity && sameData(e.dataHashes))
    .map((e) => ({ identity: e.identity, method: e.method, status: e.status, primary: typeof e.summary.normalized_mae === 'number' ? e.summary.normalized_mae : null }));

  return {
    identity,
    method,
    methodLabel,
    attempt,
    evaluationRound: {
      round,
      evaluatorVersion: evaluation.data.evaluatorVersion,
      evaluatorCodeVersion: evaluation.metadata.codeVersion,
      evaluatedAt: evaluation.occurredAt,
      reason: evaluation.data.reevaluation?.reason ?? null,
    },
    // Said once each: a warning can be both the request's and the planner's.
    warnings: [...new Set([...started.data.warnings, ...planned[0].data.preflightWarnings])],
    configYaml: stringify(started.data.config, { sortMapEntries: true }),
    config: started.data.config,
    metadata: {
      identity,
      attempt,
      codeVersion: started.data.codeVersion,
      identityAlgorithm: started.data.identityAlgorithm,
      configHash: started.data.configHash,
      requestedAt: requested?.occurredAt ?? null,
      startedAt: started.occurredAt,
      evaluatedAt: evaluation.occurredAt,
      hosts: { planner: started.data.host, workers },
      dataHashes: started.data.dataHashes,
      warnings: started.data.warnings,
      preflightWarnings: planned[0].data.preflightWarnings,
      forced: started.data.forced,
      previousFailure: started.data.previousFailure,
      evaluatorVersion: evaluation.data.evaluatorVersion,
      // Stages whose answers came from another experiment (the stage cache), with the experiment they came from.
      stagesReused: stagesReused.map((r) => ({ stage: r.stage, stageKey: r.stageKey, fromIdentity: r.fromIdentity, batches: r.batches, prompts: r.prompts })),
      // The adapter makes it an SFT run: said here for scripts, as README.txt says it for people.
      model: model === undefined ? null : { id: model.id, mode: runMode(methodLabel, model.lora_adapter), adapter: model.lora_adapter },
      evaluationRound: round,
      // Every round of this attempt: later ones re-scored the same inference results, no model calls.
      evaluationRounds: evaluationRounds(runEvents)
        .filter((r) => r.attempt === attempt)
        .map((r) => ({
          round: r.round,
          evaluatorVersion: r.evaluatorVersion,
          evaluatorCodeVersion: r.codeVersion,
          evaluatedAt: r.evaluatedAt,
          modelCalls: r.round === 1,
          requestedBy: r.reevaluation?.requestedBy ?? null,
          reason: r.reevaluation?.reason ?? null,
        })),
    },
    scope: {
      dataFiles: (['profiles', 'responses', 'items'] as const).map((role) => ({ role, path: config.data[role], sha256: started.data.dataHashes[role] })),
      split: { path: split.path, sha256: split.sha256, seed: split.seed, testFraction: split.testFraction, train: split.train, test: split.test },
      entities: planned[0].data.entities,
      items: planned[0].data.items.length,
      groups: planned[0].data.groups,
    },
    model:
      model === undefined
        ? null
        : {
            id: model.id,
            mode: runMode(methodLabel, model.lora_adapter),
            adapter: model.lora_adapter,
            chatTemplate: model.chat_template,
            temperature: model.temperature,
            maxTokens: model.max_tokens,
          },
    purpose: config.purpose ?? null,
    evaluation: result,
    cache: evaluation.data.cache,
    stagesReused,
    comparison,
    ...entityInputsOf(mine, method),
  };
}

/** Whether the attempt's method is fitted without a model (a baseline): its rows come from scored predictions alone. */
export function isFitted(started: ExperimentStarted): boolean {
  return (started.data.stages ?? []).some((s) => s.kind === 'fit');
}

/** The planned items by itemKey, for the rows' scale. */
export function plannedItems(planned: ExperimentPlanned): Map<string, ItemDef> {
  return new Map(planned.data.items.map((i) => [itemKey(i.group, i.item), i]));
}

/**
 * One item group's slice of an attempt's full phase, or one entity's part of it, as the reporter
 * reads it (every array cut to the slice's elements).
 */
export interface GroupSlice {
  /** The slice's prompts of each batch that has some, in log order. */
  requests: readonly InferenceBatchRequested[];
  /** The results of those prompts in each batch's last completion (see AttemptCompletions.lastCompletionOf), by batchId. */
  completions: ReadonlyMap<string, InferenceCompleted>;
  /** The round's scored predictions of the slice, in log order. */
  predictions: readonly ScoredPrediction[];
}

/**
 * A slice's rows, the same rows assembleRunReport made of the whole log before (model calls: a
 * request's prompts with their predictions and results; a fitted method: its predictions). The
 * rows' inputs are their prefixes (by prefixId, the batch's id: the source keeps them, see the
 * reporter's row source) plus their suffixes. The group's per-entity scores are entityScoresOf
 * its predictions.
 */
export function sliceRowsOf(slice: GroupSlice, args: { fitted: boolean; items: ReadonlyMap<string, ItemDef>; round: number }): PredictionRow[] {
  const predictions = new Map(slice.predictions.map((p) => [p.promptId, p]));
  const rows: PredictionRow[] = [];
  for (const request of slice.requests) {
    for (const row of modelCallRows(request, slice.completions.get(request.data.batchId), predictions, args.items, args.round)) rows.push(row);
  }
  if (args.fitted) for (const row of fittedRows(predictions.values(), args.items)) rows.push(row);
  return rows;
}

/**
 * Per-entity scores (byEntity) of some predictions, e.g. one group's. An entity's score in a group
 * is a function of that group's rows only (the evaluation partitions by group and entity, each part
 * in item order), so scoring a group at a time gives the same numbers, bit for bit, as scoring the
 * whole run. They are not in evaluation.completed (size): recomputed here with the same scoring.
 */
export function entityScoresOf(method: string, predictions: ScoredPrediction[], items: readonly ItemDef[]): EntityScore[] {
  return evaluateEntities({ method, samples: samplesOf(predictions), predictions: predictions.map(asPrediction), items: [...items] });
}

/**
 * The rows of one entity batch of model calls: its request's prompts with their scored
 * predictions (by promptId) and the call's outcome. Depends on this batch's events and the plan's
 * items only, so the reporter renders a batch's item files as soon as the batch is scored.
 */
export function modelCallRows(
  request: InferenceBatchRequested,
  completion: InferenceCompleted | undefined,
  predictions: ReadonlyMap<string, ScoredPrediction>,
  items: ReadonlyMap<string, ItemDef>,
  round: number,
): PredictionRow[] {
  const d = request.data;
  const m = d.model;
  // One object per batch, shared by its rows (a full run has ~40k of them).
  const call = { model: m.id, loraAdapter: m.loraAdapter, temperature: m.temperature, maxTokens: m.maxTokens, seed: m.seed, stop: m.stop, guidedJson: m.guidedJson };
  const results = new Map((completion?.data.results ?? []).map((r) => [r.promptId, r]));
  const rows: PredictionRow[] = [];
  for (const prompt of d.prompts) {
    const p = predictions.get(prompt.promptId);
    if (!p) throw new Error(`prompt ${prompt.promptId} (entity ${JSON.stringify(d.entityId)}) has no scored prediction of round ${round} in the log`);
    const item = items.get(itemKey(prompt.group, prompt.item));
    if (!item) throw new Error(`prompt ${prompt.promptId} asks item ${JSON.stringify(prompt.item)} of group ${JSON.stringify(prompt.group)}, which is not among the planned items`);
    const r = results.get(prompt.promptId);
    rows.push(
      predictionRow(p, item, {
        prefixId: d.batchId,
        suffix: prompt.suffix,
        outputText: r?.outputText ?? null,
        promptTokens: r?.promptTokens ?? null,
        completionTokens: r?.completionTokens ?? null,
        cachedTokens: r?.cachedTokens ?? null,
        latencyMs: r?.latencyMs ?? null,
        attempts: r?.attempts ?? 0,
        worker: completion?.data.worker ?? null,
        inferenceError: r?.error ?? (p.parseStatus === 'inference_failure' ? (p.parseError ?? null) : null),
        finishReason: r?.finishReason ?? null,
        call,
        fitted: null,
        // Workers have always sent a run's calls to the request's base URL; logs from before the
        // result recorded its replica are therefore filled in from there, not left blank.
        replica: r ? (r.replica ?? m.baseUrl) : null,
        failoverFrom: r?.failoverFrom ?? null,
        startedAt: r?.startedAt ?? null,
        finishedAt: r?.finishedAt ?? null,
      }),
    );
  }
  return rows;
}

/** The rows of predictions made without a model call (a fitted method's), with what the method used. */
export function fittedRows(predictions: Iterable<ScoredPrediction>, items: ReadonlyMap<string, ItemDef>): PredictionRow[] {
  const rows: PredictionRow[] = [];
  for (const p of predictions) {
    const item = items.get(itemKey(p.group, p.item));
    if (!item) throw new Error(`prediction for item ${JSON.stringify(p.item)} of group ${JSON.stringify(p.group)} (entity ${JSON.stringify(p.entityId)}) is not among the planned items`);
    rows.push(
      predictionRow(p, item, {
        failoverFrom: null,
        prefixId: '',
        suffix: '',
        outputText: null,
        promptTokens: null,
        completionTokens: null,
        cachedTokens: null,
        latencyMs: null,
        attempts: 0,
        worker: null,
        inferenceError: p.parseStatus === 'inference_failure' ? (p.parseError ?? null) : null,
        finishReason: null,
        call: null,
        fitted: p.metadata,
        replica: null,
        startedAt: null,
        finishedAt: null,
      }),
    );
  }
  return rows;
}

/**
 * The fields of the resolved config a report shows, as experiment.started recorded it. The config
 * is logged as a free-form record (its schema evolves), so these few are checked here and a missing
 * or malformed one is an error naming the experiment, not a blank in the report.
 */
const ReportedConfig = z.object({
  purpose: z.string().optional(),
  data: z.object({ profiles: z.string(), responses: z.string(), items: z.string() }),
  /** Absent for a method fitted without a model (a baseline). */
  model: z.object({ id: z.string(), lora_adapter: z.string().nullable(), chat_template: z.string(), temperature: z.number(), max_tokens: z.number() }).optional(),
});

function reportedConfigOf(started: ExperimentStarted): z.infer<typeof ReportedConfig> {
  const parsed = ReportedConfig.safeParse(started.data.config);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `config.${i.path.join('.')}: ${i.message}`).join('; ');
  throw new Error(`experiment.started ${started.id} of ${started.data.identity} (attempt ${started.data.attempt}) has a config the report cannot read: ${problems}`);
}

/** The method's own label for this run (MethodDefinition.label), from the settings experiment.started recorded. */
function methodLabelOf(started: ExperimentStarted): string {
  const parsed = AnyExperimentConfig.safeParse(started.data.config);
  if (!parsed.success) throw new Error(`experiment.started ${started.id} of ${started.data.identity}: the config is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const catalog = methodCatalog();
  return catalog.get(parsed.data.method).label(catalog.settingsOf(parsed.data));
}

const isSummaryRequest = (e: AssayEvent): e is InferenceBatchRequested => e.type === 'inference.batch.requested' && e.data.phase === 'summary';
const isSummaryCompletion = (e: AssayEvent): e is InferenceCompleted => e.type === 'inference.completed' && e.data.phase === 'summary';

/** The calls of the method's entity-input stage (phase 'summary'), by entity; nothing for a method without one. */
function entityInputsOf(mine: AssayEvent[], method: string): { entityInputs?: Map<string, EntityInputCall> } {
  const requests = mine.filter(isSummaryRequest);
  if (requests.length === 0) return {};
  const stage = methodCatalog().get(method).entityInput;
  if (stage === undefined) throw new Error(`the log has entity-input calls (phase 'summary') for method '${method}', which declares no entity-input stage`);
  const completions = new Map(mine.filter(isSummaryCompletion).map((e) => [e.data.batchId, e]));
  const calls = new Map<string, EntityInputCall>();
  for (const request of requests) {
    const d = request.data;
    const m = d.model;
    const completion = completions.get(d.batchId);
    const r = completion?.data.results[0];
    calls.set(d.entityId, {
      entityId: d.entityId,
      file: stage.file,
      stage: stage.stage,
      input: d.prefix + d.prompts[0].suffix,
      outputText: r?.outputText ?? null,
      error: r?.error ?? null,
      finishReason: r?.finishReason ?? null,
      promptTokens: r?.promptTokens ?? null,
      completionTokens: r?.completionTokens ?? null,
      cachedTokens: r?.cachedTokens ?? null,
      latencyMs: r?.latencyMs ?? null,
      attempts: r?.attempts ?? 0,
      worker: completion?.data.worker ?? null,
      call: { model: m.id, loraAdapter: m.loraAdapter, temperature: m.temperature, maxTokens: m.maxTokens, seed: m.seed, stop: m.stop, guidedJson: m.guidedJson },
    });
  }
  return { entityInputs: calls };
}

/** What a row says about the call (or its absence); the scored cell's fields come from the prediction. */
type CallFields = Omit<PredictionRow, 'entityId' | 'group' | 'item' | 'kind' | 'min' | 'max' | 'actual' | 'predicted' | 'absError' | 'parseStatus' | 'parseError' | 'outlier' | 'promptId'>;

/**
 * One row: what every prediction row says whatever made the prediction (the scored cell and its
 * item's scale), then the call's fields. One literal with every field: a full run makes ~40k rows
 * (~400k at 10x), and spreading one object into another made the rows' assembly a third of the
 * report's load time.
 */
function predictionRow(p: ScoredPrediction, item: ItemDef, c: CallFields): PredictionRow {
  return {
    entityId: p.entityId,
    group: p.group,
    item: p.item,
    kind: item.kind,
    min: item.min,
    max: item.max,
    actual: p.actual,
    predicted: p.predicted,
    absError: p.predicted === null ? null : Math.abs(p.predicted - p.actual),
    parseStatus: p.parseStatus,
    parseError: p.parseError ?? null,
    outlier: p.outlier,
    promptId: p.promptId,
    prefixId: c.prefixId,
    suffix: c.suffix,
    outputText: c.outputText,
    promptTokens: c.promptTokens,
    completionTokens: c.completionTokens,
    cachedTokens: c.cachedTokens,
    latencyMs: c.latencyMs,
    attempts: c.attempts,
    worker: c.worker,
    inferenceError: c.inferenceError,
    finishReason: c.finishReason,
    call: c.call,
    fitted: c.fitted,
    replica: c.replica,
    failoverFrom: c.failoverFrom,
    startedAt: c.startedAt,
    finishedAt: c.finishedAt,
  };
}
