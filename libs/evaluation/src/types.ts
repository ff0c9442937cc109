import type { ItemKind } from '@assay/contracts';
import type { Interval } from './bootstrap';

/**
 * Shapes produced by evaluate() and consumed by the report writer. Every number that can be
 * undefined (a correlation over constant values, a metric over zero points) is `null` with a
 * `note` saying why: a report never shows NaN.
 */

export type MetricName =
  | 'normalized_mae' // |predicted - actual| / (max - min), every kind: the cross-kind primary metric
  | 'accuracy'
  | 'balanced_accuracy'
  | 'f1'
  | 'predicted_positive_rate'
  | 'actual_positive_rate'
  | 'mae'
  | 'rmse'
  | 'exact_accuracy'
  | 'within_one_accuracy'
  | 'spearman'
  | 'pearson'
  | 'wasserstein'
  | 'variance_ratio'
  | 'under_dispersed_share'
  | 'respondent_correlation';

export interface MetricValue {
  value: number | null;
  /** Points the metric was computed over (items, for a mean over items). */
  n: number;
  /** Why value is null (or a caveat, e.g. "too few points for a correlation (n=2 < 3)"). */
  note?: string;
  /** 95% interval from a seeded cluster bootstrap over entities (headline metrics of the overall slice). */
  ci?: Interval;
}

export interface MetricDefinition {
  name: MetricName;
  kinds: ItemKind[] | 'all';
  /**
   * Which way is better; null for a descriptive metric that has no better direction (how often
   * the answer is yes describes a bias or the data, it does not grade the method).
   */
  higherIsBetter: boolean | null;
  description: string;
}

/**
 * Scores of one method over one slice (overall, a group, an item, an entity within a group).
 * `metrics` keys: `normalized_mae` over all kinds, then kind-qualified keys such as
 * `binary.accuracy`, `ordinal.mae`, `continuous.pearson` over the slice's items of that kind.
 */
export interface ScoreSummary {
  /** Samples in the slice. */
  n: number;
  /** Samples with a usable prediction (parsed, inference succeeded). */
  nScored: number;
  parseFailures: number;
  inferenceFailures: number;
  outliers: number;
  /** The sort key (worst first): normalized MAE, lower is better. */
  primary: { name: 'normalized_mae'; value: number | null; higherIsBetter: false };
  metrics: Record<string, MetricValue>;
}

export interface ItemScore {
  group: string;
  item: string;
  kind: ItemKind;
  summary: ScoreSummary;
}

export interface GroupScore {
  group: string;
  summary: ScoreSummary;
}

export interface EntityScore {
  group: string;
  entityId: string;
  summary: ScoreSummary;
}

export interface MethodScores {
  method: string;
  overall: ScoreSummary;
  /** Sorted worst first (primary descending, nulls first), ties by group name. */
  byGroup: GroupScore[];
  /** Sorted by group, then item. */
  byItem: ItemScore[];
  /** Sorted by group, then worst first, ties by entity id. */
  byEntity: EntityScore[];
}

export interface ValueRange {
  group: string;
  itemMin: number;
  itemMax: number;
  actual: { min: number | null; max: number | null; mean: number | null; std: number | null; n: number };
  predicted: { min: number | null; max: number | null; mean: number | null; std: number | null; n: number };
}

/**
 * A verdict (pass / warn / fail), or `todo`: a task for the researcher that no code can judge
 * (reading sample files, writing notes). A to-do never counts towards the overall verdict.
 */
export type ReviewStatus = 'pass' | 'warn' | 'fail' | 'todo';

export interface ReviewLine {
  check: string;
  status: ReviewStatus;
  detail: string;
}

export interface EvaluationResult {
  /** Version of parsing + scoring rules; part of the evaluation stage key. */
  evaluatorVersion: string;
  method: MethodScores;
  baselines: MethodScores[];
  valueRanges: ValueRange[];
  definitions: MetricDefinition[];
  review: ReviewLine[];
}
