/**
 * Version of the parsing and scoring rules; bump on any change that can alter a number (stage key).
 * A run evaluated by another version is not replayed: `assay reevaluate` scores it again.
 *
 * eval/v2: an answer to a binary item must be 0 or 1 (0.7 was kept as 0.7).
 * eval/v3: distribution metrics (Wasserstein, variance ratio, correlation across respondents) and
 *   bootstrap intervals on the overall mean-type metrics.
 */
export const EVALUATOR_VERSION = 'eval/v3';
