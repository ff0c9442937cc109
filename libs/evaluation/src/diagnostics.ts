import { max, mean, min, standardDeviation } from 'simple-statistics';
import type { ItemDef, Prediction, Sample } from '@assay/contracts';
import { joinRows, tableOfRows, type Row } from './evaluate';
import { ANSWER_OK, type AnswerColumns, type SampleTable } from './table';
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
  const { table, answers } = tableOfRows(rows);
  return valueRangesOfTable(table, answers.answers, items);
}

/** valueRanges of an evaluation's columns (rows sorted by group, so each group's rows are next to each other). */
export function valueRangesOfTable(table: SampleTable, answers: AnswerColumns, items: ItemDef[]): ValueRange[] {
  const result: ValueRange[] = [];
  let start = 0;
  for (let r = 1; r <= table.size; r++) {
    const group = table.items[table.item[start]].group;
    if (r < table.size && table.items[table.item[r]].group === group) continue;
    // Declared range over every item of the group, including items without samples here.
    const groupItems = items.filter((it) => it.group === group);
    const actual: number[] = [];
    const predicted: number[] = [];
    for (let i = start; i < r; i++) {
      actual.push(table.actual[i]);
      if (answers.status[i] === ANSWER_OK) predicted.push(answers.predicted[i]);
    }
    result.push({
      group,
      itemMin: min(groupItems.map((it) => it.min)),
      itemMax: max(groupItems.map((it) => it.max)),
      actual: describe(actual),
      predicted: describe(predicted),
    });
    start = r;
  }
  result.sort((a, b) => compareCodeUnits(a.group, b.group));
  assertAllFinite(result, 'valueRanges');
  return result;
}
