import { createHash } from 'node:crypto';
import { compareCodeUnits, type ItemDef, type Prediction, type Sample } from '@assay/contracts';
import { valueRangesOfTable } from './diagnostics';
import { DEFAULT_BOOTSTRAP } from './bootstrap';
import { evaluate, evaluateTable, tableOf, type EvaluateScope } from './evaluate';
import { assertAllFinite } from './guard';
import { METRIC_DEFINITIONS } from './metrics';
import { answerFactsOfTable, reviewChecklist } from './review';
import type { SampleTable, TableAnswers, TableBaseline } from './table';

export type { TableBaseline } from './table';
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

/** baselineInputsDigest of a table's samples (its rows are in the digest's order already). */
export function tableInputsDigest(table: SampleTable, items: readonly ItemDef[]): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify(items));
  for (let r = 0; r < table.size; r++) {
    const it = table.items[table.item[r]];
    hash.update(`\n${JSON.stringify([it.group, it.item, table.entityIds[table.entity[r]], table.actual[r]])}`);
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

/** scoreBaselines on a table: each baseline's answers are columns, scored and let go before the next baseline answers. */
export async function scoreTableBaselines(args: { method: string; table: SampleTable; items: readonly ItemDef[]; baselines: TableBaseline[]; scope?: EvaluateScope }): Promise<ScoredBaselines> {
  const { method, table, items, baselines, scope } = args;
  const names = baselines.map((b) => b.method);
  if (names.includes(method)) throw new Error(`a baseline has the evaluated method's own name ${JSON.stringify(method)}`);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new Error(`baseline ${JSON.stringify(dup)} given twice`);
  if (table.size === 0) throw new Error(`evaluate(${method}): no samples`);
  const scores: MethodScores[] = [];
  for (const [i, baseline] of baselines.entries()) {
    if (i > 0) await new Promise((resolve) => setImmediate(resolve));
    const answers = baseline.answer(table);
    if (answers.method !== baseline.method) throw new Error(`baseline ${i} named ${JSON.stringify(baseline.method)} predicted as ${JSON.stringify(answers.method)}`);
    scores.push(evaluateTable(baseline.method, table, answers, DEFAULT_BOOTSTRAP, scope));
  }
  return { inputsDigest: tableInputsDigest(table, items), scores };
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
  const own = args.baselines.scores.find((b) => b.method === method);
  if (own) throw new Error(`a baseline has the evaluated method's own name ${JSON.stringify(method)}`);
  if (args.baselines.inputsDigest !== baselineInputsDigest(samples, items)) throw new Error(`buildEvaluation(${method}): the baselines were scored on other samples or items than the method`);
  if (samples.length === 0) throw new Error(`evaluate(${method}): no samples`);
  const { table, answers } = tableOf(samples, predictions, items, method);
  return buildTableEvaluation({ method, table, answers, items, baselines: args.baselines, spotCheckPaths, scope });
}

/** buildEvaluation of a method's answers held as columns (TableBuilder): what the evaluator publishes, without an object per prediction. */
export function buildTableEvaluation(args: {
  method: string;
  table: SampleTable;
  answers: TableAnswers;
  items: ItemDef[];
  baselines: ScoredBaselines;
  spotCheckPaths: string[];
  scope?: EvaluateScope;
}): EvaluationResult {
  const { method, table, answers, items, spotCheckPaths, scope } = args;
  const baselines = args.baselines.scores;
  const own = baselines.find((b) => b.method === method);
  if (own) throw new Error(`a baseline has the evaluated method's own name ${JSON.stringify(method)}`);
  if (args.baselines.inputsDigest !== tableInputsDigest(table, items)) throw new Error(`buildEvaluation(${method}): the baselines were scored on other samples or items than the method`);
  if (table.size === 0) throw new Error(`evaluate(${method}): no samples`);
  const scores = evaluateTable(method, table, answers.answers, DEFAULT_BOOTSTRAP, scope);
  const ranges = valueRangesOfTable(table, answers.answers, items);
  const result: EvaluationResult = {
    evaluatorVersion: EVALUATOR_VERSION,
    method: scores,
    baselines,
    valueRanges: ranges,
    definitions: METRIC_DEFINITIONS,
    review: reviewChecklist({ scores, baselines, ranges, predictions: answerFactsOfTable(table, answers), spotCheckPaths }),
  };
  assertAllFinite(result, `buildEvaluation(${method})`);
  return result;
}
