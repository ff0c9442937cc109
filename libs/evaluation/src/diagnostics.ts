import { max, mean, min, standardDeviation } from 'simple-statistics';
import type { ItemDef, Prediction, Sample } from '@assay/contracts';
import { joinRows, type Row } from './evaluate';
import { assertAllFinite } from './guard';
import { compareCodeUnits } from '@assay/contracts';
import type { ValueRange } from './types';

type Stats = ValueRange['actual'];

/** min/max/mean and population std (the spread of these values, not an estimate of a wider population). */
export function describe(values: number[]): Stats {
  if (values.length === 0) return { min: null, max: null, mean: null, std: null, n: 0 };
  return { min: min(values), max: max(values), mean: mean(values), std: standardDeviation(values), n: values.length };
}

/**
 * Diagnostics as outputs in their own right, per group: the items' declared range, and actual vs
 * predicted value ranges, sorted by group. `actual` covers every sample of the group; `predicted`
 * only usable predictions, so a predicted max above itemMax shows outliers at a glance.
 */
export function valueRanges(samples: Sample[], predictions: Prediction[], items: ItemDef[]): ValueRange[] {
  return valueRangesOfRows(joinRows(samples, predictions, items), items);
}

/** valueRanges of rows already joined (joinRows), for a caller that scores the same rows. */
export function valueRangesOfRows(rows: readonly Row[], items: ItemDef[]): ValueRange[] {
  const groups = [...new Set(rows.map((r) => r.sample.group))].sort(compareCodeUnits);
  const result = groups.map((group): ValueRange => {
    const groupRows = rows.filter((r) => r.sample.group === group);
    // Declared range over every item of the group, including items without samples here.
    const groupItems = items.filter((it) => it.group === group);
    const predicted: number[] = [];
    for (const r of groupRows) if (r.predicted !== null) predicted.push(r.predicted);
    return {
      group,
      itemMin: min(groupItems.map((it) => it.min)),
      itemMax: max(groupItems.map((it) => it.max)),
      actual: describe(groupRows.map((r) => r.sample.actual)),
      predicted: describe(predicted),
    };
  });
  assertAllFinite(result, 'valueRanges');
  return result;
}
