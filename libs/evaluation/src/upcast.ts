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

const DIRECTIONLESS = new Set(METRIC_DEFINITIONS.filter((d) => d.higherIsBetter === null).map((d) => d.name));

function upcastDefinition(logged: MetricDefinition): MetricDefinition {
  return DIRECTIONLESS.has(logged.name) && logged.higherIsBetter === false ? { ...logged, higherIsBetter: null } : logged;
}
