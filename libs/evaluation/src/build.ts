import { createHash } from 'node:crypto';
import { compareCodeUnits, type ItemDef, type Prediction, type Sample } from '@assay/contracts';
import { valueRangesOfRows } from './diagnostics';
import { DEFAULT_BOOTSTRAP } from './bootstrap';
import { evaluate, evaluateRows, joinRows, type EvaluateScope } from './evaluate';
import { assertAllFinite } from './guard';
import { METRIC_DEFINITIONS } from './metrics';
import { reviewChecklist } from './review';
import type { BaselineRun } from './baselines';
import type { EvaluationResult, MethodScores } from './types';
import { EVALUATOR_VERSION } from './version';

function methodOf(predictions: Prediction[], what: string): string {
  if (predictions.length === 0) throw new Error(`${what}: no predictions, so no method name`);
  const methods = [...new Set(predictions.map((p) => p.method))];
  if (methods.length !== 1) throw new Error(`${what}: predictions from several methods: ${methods.map((m) => JSON.stringify(m)).join(', ')}`);
  return methods[0];
}

/**
 * What the baselines' scores depend on besides the train data: the samples scored (entity, item,
 * actual value; in any order) and the item definitions. Equal digests mean equal inputs, so
 * baselines scored before the method's answers were all in (while its inference ran) can be
 * shown beside the method's scores.
 */
export function baselineInputsDigest(samples: readonly Sample[], items: readonly ItemDef[]): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify(items));
  const order = samples.map((_, i) => i);
  const compare = (a: Sample, b: Sample): number => compareCodeUnits(a.group, b.group) || compareCodeUnits(a.item, b.item) || compareCodeUnits(a.entityId, b.entityId);
  order.sort((i, j) => compare(samples[i], samples[j]));
  for (const i of order) {
    const s = samples[i];
    hash.update(`\n${JSON.stringify([s.group, s.item, s.entityId, s.actual])}`);
  }
  return hash.digest('hex');
}

/** The baselines' scores on one set of samples (baselineInputsDigest), as buildEvaluation shows them. */
export interface ScoredBaselines {
  inputsDigest: string;
  scores: MethodScores[];
}

/**
 * Every baseline scored by the same evaluate() as the method on the same samples, in the given
 * order: the part of buildEvaluation that does not depend on the method's predictions. One
 * baseline at a time (its predictions are let go before the next predicts), yielding to the event
 * loop between them (each is a few hundred ms of CPU).
 */
export async function scoreBaselines(args: { method: string; samples: Sample[]; items: ItemDef[]; baselines: BaselineRun[]; scope?: EvaluateScope }): Promise<ScoredBaselines> {
  const { method, samples, items, baselines, scope } = args;
  const names = baselines.map((b) => b.method);
  if (names.includes(method)) throw new Error(`a baseline has the evaluated method's own name ${JSON.stringify(method)}`);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new Error(`baseline ${JSON.stringify(dup)} given twice`);
  const scores: MethodScores[] = [];
  for (const [i, baseline] of baselines.entries()) {
    if (i > 0) await new Promise((resolve) => setImmediate(resolve));
    const predictions = baseline.predict();
    const name = methodOf(predictions, `baseline ${i} (${baseline.method})`);
    if (name !== baseline.method) throw new Error(`baseline ${i} named ${JSON.stringify(baseline.method)} predicted as ${JSON.stringify(name)}`);
    scores.push(evaluate({ method: name, samples, predictions, items, scope }));
  }
  return { inputsDigest: baselineInputsDigest(samples, items), scores };
}

/**
 * Everything the evaluator publishes for one method: its scores, every baseline scored by the
 * same evaluate() on the same samples (scoreBaselines, on samples and items whose digest must
 * match these), value ranges, metric definitions and the review checklist.
 */
export function buildEvaluation(args: {
  method: string;
  samples: Sample[];
  predictions: Prediction[];
  items: ItemDef[];
  baselines: ScoredBaselines;
  spotCheckPaths: string[];
  /** What the caller never shows may be left out (evaluateRows); by default everything. */
  scope?: EvaluateScope;
}): EvaluationResult {
  const { method, samples, predictions, items, spotCheckPaths, scope } = args;
  const baselines = args.baselines.scores;
  const own = baselines.find((b) => b.method === method);
  if (own) throw new Error(`a baseline has the evaluated method's own name ${JSON.stringify(method)}`);
  if (args.baselines.inputsDigest !== baselineInputsDigest(samples, items)) throw new Error(`buildEvaluation(${method}): the baselines were scored on other samples or items than the method`);
  if (samples.length === 0) throw new Error(`evaluate(${method}): no samples`);
  // One join for the scores and the value ranges (evaluate() joins the same way).
  const rows = joinRows(samples, predictions, items, method);
  const scores = evaluateRows(method, rows, DEFAULT_BOOTSTRAP, scope);
  const ranges = valueRangesOfRows(rows, items);
  const result: EvaluationResult = {
    evaluatorVersion: EVALUATOR_VERSION,
    method: scores,
    baselines,
    valueRanges: ranges,
    definitions: METRIC_DEFINITIONS,
    review: reviewChecklist({ scores, baselines, ranges, predictions, spotCheckPaths }),
  };
  assertAllFinite(result, `buildEvaluation(${method})`);
  return result;
}
