import type { ExperimentConfig } from '@assay/config';
import { itemKey, type ItemDef } from '@assay/contracts';
import { ObservationColumns, type Dataset, type SplitFile } from '@assay/data';

/**
 * Label modes (config `labels.mode`): what the ground truth of a run is.
 *
 * `raw` keeps the values of responses.csv. `binary` is a median split per item (the `binary`
 * preset), computed on the TRAIN split only, so nothing about the test entities leaks
 * into the labels:
 *
 *  - threshold = the median of the item's train values (for an even count, the mean of the two
 *    middle values);
 *  - every observation of the item, train and test alike, becomes 1 if value > threshold, else 0.
 *    Ties go low: a value equal to the median is 0 ("above the median" is the positive class),
 *    so with many answers at the median the classes are unbalanced rather than arbitrary;
 *  - the item's definition becomes kind `binary`, min 0, max 1 (the question text is unchanged),
 *    so prompts ask for 0/1, parsing and metrics treat it as binary, and baselines predict a class;
 *  - an item that is already `binary` (0/1 by the dataset contract) keeps its values: a median
 *    split of 0/1 values is either the identity (median < 1) or, when most answered 1, labels
 *    everyone 0 — the split would only ever destroy information.
 *
 * An item whose labels could not separate anyone is an error naming the item (fail fast: a constant
 * column would score as if it were data), never a silently constant column: no train values at all,
 * constant train values, or a median equal to the largest train value (more than half the train
 * entities at the top of the scale, so `> median` is 0 for all of them).
 *
 * Every component that needs ground truth for a run (the planner's prompts and actual values, the
 * evaluator's baselines) goes through {@link applyLabels}, so they all see the same labels.
 */
export class LabelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LabelError';
  }
}

export type LabelsMode = ExperimentConfig['labels']['mode'];

/** The threshold of one item's median split. */
export interface MedianSplit {
  group: string;
  item: string;
  /** null for items that were binary already (kept as they are). */
  median: number | null;
  nTrain: number;
  /** Train observations labelled 1. */
  positivesTrain: number;
}

/** The median of a non-empty list (mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const named = (item: ItemDef) => `item ${JSON.stringify(item.item)} of group ${JSON.stringify(item.group)}`;

/** The per-item thresholds of a median split on the train entities of `split`. */
export function medianSplits(dataset: Dataset, split: Pick<SplitFile, 'train'>): MedianSplit[] {
  const train = new Set(split.train);
  const trainValues = new Map<string, number[]>();
  for (const o of dataset.observations) {
    if (!train.has(o.entityId)) continue;
    const key = itemKey(o.group, o.item);
    const list = trainValues.get(key);
    if (list) list.push(o.value);
    else trainValues.set(key, [o.value]);
  }
  return dataset.items.map((item) => {
    const values = trainValues.get(itemKey(item.group, item.item)) ?? [];
    const prefix = `labels.mode binary: ${named(item)}`;
    if (values.length === 0) throw new LabelError(`${prefix} has no train observations, so it has no median to split at`);
    const lowest = Math.min(...values);
    const highest = Math.max(...values);
    if (lowest === highest) throw new LabelError(`${prefix}: every train value is ${lowest} (${values.length} train observations), so a median split cannot separate anyone`);
    if (item.kind === 'binary') return { group: item.group, item: item.item, median: null, nTrain: values.length, positivesTrain: values.filter((v) => v === 1).length };
    const m = median(values);
    if (m === highest) {
      throw new LabelError(
        `${prefix}: the train median is ${m}, the largest train value, so no train value is above it and every label would be 0 ` +
          `(more than half of the ${values.length} train observations are ${m}); use labels.mode raw for this item's data`,
      );
    }
    return { group: item.group, item: item.item, median: m, nTrain: values.length, positivesTrain: values.filter((v) => v > m).length };
  });
}

/**
 * The dataset with median-split labels (see the module doc): same entities and observations in
 * the same order, values 0/1, item definitions binary. Pure; the input is not modified.
 */
export function binarize(dataset: Dataset, split: Pick<SplitFile, 'train'>): Dataset {
  const thresholds = new Map(medianSplits(dataset, split).map((s) => [itemKey(s.group, s.item), s.median]));
  const observations = new ObservationColumns();
  for (const o of dataset.observations) {
    const key = itemKey(o.group, o.item);
    if (!thresholds.has(key)) throw new LabelError(`labels.mode binary: ${JSON.stringify(o.item)} of group ${JSON.stringify(o.group)} (line ${o.line}) is not in the items file`);
    const m = thresholds.get(key)!;
    observations.push({ ...o, value: m === null ? o.value : o.value > m ? 1 : 0 });
  }
  const items: ItemDef[] = dataset.items.map((i) => ({ ...i, kind: 'binary', min: 0, max: 1 }));
  return { ...dataset, observations, items };
}

/** The one place a run's labels are decided: the planner and the evaluator both call this. */
export function applyLabels(mode: LabelsMode, dataset: Dataset, split: Pick<SplitFile, 'train'>): Dataset {
  switch (mode) {
    case 'raw':
      return dataset;
    case 'binary':
      return binarize(dataset, split);
    default: {
      const never: never = mode;
      throw new Error(`unknown labels.mode ${String(never)}`);
    }
  }
}
