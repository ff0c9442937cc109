export * from './types';
export { EVALUATOR_VERSION } from './version';
export { compareWorstFirst } from './order';
export { parseAnswer, toPrediction, type ParseResult } from './parse';
export { evaluate, evaluateEntities } from './evaluate';
export { METRIC_DEFINITIONS } from './metrics';
export {
  trainMeanBaseline,
  nearestNeighbourBaseline,
  majorityBaseline,
  linearBaseline,
  standardBaselines,
  standardBaselineRuns,
  standardTableBaselines,
  type BaselineRun,
  runBaseline,
  predictAll,
  assertTrainTestDisjoint,
  fitTrainMean,
  fitMajority,
  knnFitter,
  fitLinear,
  fitLinearYielding,
  KNN_METRICS,
  TRAIN_MEAN_METHOD,
  KNN_METHOD,
  MAJORITY_METHOD,
  LINEAR_METHOD,
  RIDGE_LAMBDA,
  MAX_CATEGORIES,
} from './baselines';
export { encodedEntities, featureTableOf } from './baseline-fit';
export type { BaselineAnswer, BaselineFitter, BaselinePredictor, BaselineRunArgs, BaselineTrainingData, FeatureRow, FeatureTable, KnnMetric } from './baselines';
export { valueRanges } from './diagnostics';
export { preflightWarningsLine, reviewChecklist, upcastReviewLine, PARSE_WARN_UP_TO } from './review';
export { loggedEvaluationResult, upcastEvaluationResult } from './upcast';
export { smokeChecks, type SmokeCheck, type SmokeResult } from './smoke';
export { baselineInputsDigest, buildEvaluation, buildTableEvaluation, scoreBaselines, scoreTableBaselines, tableInputsDigest, type ScoredBaselines, type TableBaseline } from './build';
export { TableBuilder, type AnswerColumns, type SampleTable, type TableAnswers } from './table';
export { assertAllFinite } from './guard';
export {
  BOOTSTRAP_RESAMPLES,
  BOOTSTRAP_SEED,
  CI_LEVEL,
  DEFAULT_BOOTSTRAP,
  pairedDifference,
  pairedFromDraws,
  resampledRatios,
  unpairedDifference,
  holmAdjust,
  ratioIntervals,
  type BootstrapOptions,
  type Interval,
  type EntitySums,
  type PairedDifference,
} from './bootstrap';
export { wasserstein1, varianceRatio, UNDER_DISPERSION_BELOW } from './distribution';
export { joinRows, evaluateRows, rowMeanSums, entityIndexOf, type Row } from './evaluate';
export { ROW_MEAN_METRICS } from './metrics';
