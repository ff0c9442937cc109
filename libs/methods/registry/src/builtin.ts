import type { AnyMethod } from '@assay/methods/core';
import { baselineKnn, baselineLinear, baselineMajority, baselineTrainMean } from '@assay/methods/baselines';
import { llmFewShot } from '@assay/methods/llm-few-shot';
import { llmPersonaTwoStage } from '@assay/methods/llm-persona-two-stage';
import { llmZeroShot } from '@assay/methods/llm-zero-shot';

/** The methods assay ships: one line per method. */
export const BUILTIN_METHODS: readonly AnyMethod[] = [
  llmZeroShot,
  llmFewShot,
  llmPersonaTwoStage,
  baselineTrainMean,
  baselineMajority,
  baselineKnn,
  baselineLinear,
];
