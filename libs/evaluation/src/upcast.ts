import { METRIC_DEFINITIONS } from './metrics';
import { upcastReviewLine } from './review';
import type { EvaluationResult, MetricDefinition } from './types';

/**
 * A logged evaluation result read with today's meanings (stored rows are never rewritten):
 *  - metric definitions: evaluators before `higherIsBetter: null` existed logged `false` ("lower
 *    is better") for metrics that have no better direction (the positive rates); read as null;
 *  - review lines: see upcastReviewLine (the human tasks become to-dos).
 * Numbers are untouched: what was scored stays as scored.
 */
export function upcastEvaluationResult(logged: EvaluationResult): EvaluationResult {
  return { ...logged, definitions: logged.definitions.map(upcastDefinition), review: logged.review.map(upcastReviewLine) };
}

/**
 * The evaluation result an evaluation.completed event logged (its `result`, stored as plain JSON),
 * checked for the parts every reader uses (the method's scores, the baselines, definitions and review lines) and upcast (upcastEvaluationResult). `where` names the
 * event in the error.
 */
export function loggedEvaluationResult(result: Record<string, unknown>, where: string): EvaluationResult {
  const missing = [
    ...(typeof result.method === 'object' && result.method !== null ? [] : ['method']),
    ...['baselines', 'definitions', 'review'].filter((k) => !Array.isArray(result[k])),
  ];
  if (missing.length > 0) throw new Error(`${where}: the logged evaluation result lacks or mistypes ${missing.join(', ')}`);
  return upcastEvaluationResult(result as unknown as EvaluationResult);
}

const DIRECTIONLESS = new Set(METRIC_DEFINITIONS.filter((d) => d.higherIsBetter === null).map((d) => d.name));

function upcastDefinition(logged: MetricDefinition): MetricDefinition {
  return DIRECTIONLESS.has(logged.name) && logged.higherIsBetter === false ? { ...logged, higherIsBetter: null } : logged;
}
