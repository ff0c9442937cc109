import { z } from 'zod';
import { defineMethod, type MethodStage } from '@assay/methods/core';
import { fitLinearYielding, fitMajority, fitTrainMean, KNN_METRICS, knnFitter, type KnnMetric } from '@assay/evaluation';

/**
 * Baselines as methods of their own: each is fitted on the train split in the evaluator (no model,
 * no `model` section) and runs as an experiment with its own identity, run directory and report.
 * They use the same fitters that score the baselines shown beside every LLM run, so a baseline's
 * own run and the baseline column of an LLM run on the same split give the same numbers.
 */

const fitStage = (description: string): MethodStage[] => [{ name: 'fit', kind: 'fit', description, reads: [] }];

export const baselineTrainMean = defineMethod<null>({
  name: 'baseline_train_mean',
  label: () => 'baseline: train mean',
  description: 'Per item, the mean of the train answers (the majority class for a binary item).',
  section: null,
  stages: fitStage('per item: the train mean (binary: the majority class)'),
  fit: (train) => fitTrainMean(train),
});

export const baselineMajority = defineMethod<null>({
  name: 'baseline_majority',
  label: () => 'baseline: majority',
  description: 'Per item, the most frequent train answer (a tie goes to the smaller value).',
  section: null,
  stages: fitStage('per item: the most frequent train answer'),
  fit: (train) => fitMajority(train),
});

export const KnnSection = z.strictObject({
  /** Neighbours averaged per test cell (among the train entities that answered the item). */
  k: z.int().min(1).default(5),
  /** Distance on the train-learnt encoding of the profile (numeric z-scored, few-valued text one-hot). */
  metric: z.enum(KNN_METRICS as [KnnMetric, ...KnnMetric[]]).default('euclidean'),
});
export type KnnSettings = z.infer<typeof KnnSection>;

export const baselineKnn = defineMethod<KnnSettings>({
  name: 'baseline_knn',
  label: ({ k, metric }) => `baseline: kNN (k=${k}${metric === 'euclidean' ? '' : `, ${metric}`})`,
  description: 'The mean answer of the k nearest train respondents by profile distance.',
  section: KnnSection,
  stages: fitStage('per test entity: its k nearest train entities; per item, the mean of their answers'),
  fit: ({ settings, ...train }) => knnFitter(settings.k, settings.metric)(train),
});

export const baselineLinear = defineMethod<null>({
  name: 'baseline_linear',
  label: () => 'baseline: linear (ridge / logistic)',
  description: 'Per item, a linear model of the profile fitted on the train split: ridge (ordinal, continuous) or L2 logistic (binary).',
  section: null,
  stages: fitStage('per item: ridge regression or penalised logistic regression on the encoded profile'),
  // Yields between items: the logistic fits take seconds in all, and the evaluator must keep answering.
  fit: (train) => fitLinearYielding(train),
});
