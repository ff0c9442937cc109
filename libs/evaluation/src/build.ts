import type { ItemDef, Prediction, Sample } from '@assay/contracts';
import { valueRanges } from './diagnostics';
import { evaluate, type EvaluateScope } from './evaluate';
import { assertAllFinite } from './guard';
import { METRIC_DEFINITIONS } from './metrics';
import { reviewChecklist } from './review';
import type { EvaluationResult } from './types';
import { EVALUATOR_VERSION } from './version';

function methodOf(predictions: Prediction[], what: string): string {
  if (predictions.length === 0) throw new Error(`${what}: no predictions, so no method name`);
  const methods = [...new Set(predictions.map((p) => p.method))];
  if (methods.length !== 1) throw new Error(`${what}: predictions from several methods: ${methods.map((m) => JSON.stringify(m)).join(', ')}`);
  return methods[0];
}

/**
 * Everything the evaluator publishes for one method: its scores, every baseline scored by the
 * same evaluate() on the same samples, value ranges, metric definitions and the review checklist.
 */
export function buildEvaluation(args: {
  method: string;
  samples: Sample[];
  predictions: Prediction[];
  items: ItemDef[];
  baselinePredictions: Prediction[][];
  spotCheckPaths: string[];
  /** What the caller never shows may be left out (evaluateRows); by default everything. */
  scope?: EvaluateScope;
}): EvaluationResult {
  const { method, samples, predictions, items, baselinePredictions, spotCheckPaths, scope } = args;
  const scores = evaluate({ method, samples, predictions, items, scope });
  const baselines = baselinePredictions.map((preds, i) => {
    const name = methodOf(preds, `baselinePredictions[${i}]`);
    if (name === method) throw new Error(`baseline ${i} has the evaluated method's own name ${JSON.stringify(method)}`);
    return evaluate({ method: name, samples, predictions: preds, items, scope });
  });
  const names = baselines.map((b) => b.method);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new Error(`baseline ${JSON.stringify(dup)} given twice`);
  const ranges = valueRanges(samples, predictions, items);
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
