import { compareCodeUnits } from '@assay/contracts';
import { distributionByGroupChart, renderSvg, type DistributionPoint } from '@assay/plots';
import type { PredictionRow } from './types';

/** Continuous items are shown in this many equal-width bins of their range. */
export const CONTINUOUS_BINS = 10;

/** Where a value lands on the chart's x axis: its scale point (rounded, clamped) or its bin's lower edge. */
/** What the chart needs of a row. */
export type DistributionRow = Pick<PredictionRow, 'group' | 'item' | 'kind' | 'min' | 'max' | 'actual' | 'predicted'>;

function levelOf(value: number, row: Pick<PredictionRow, 'kind' | 'min' | 'max'>): number {
  if (row.kind === 'continuous') {
    const width = (row.max - row.min) / CONTINUOUS_BINS;
    const bin = Math.min(CONTINUOUS_BINS - 1, Math.max(0, Math.floor((value - row.min) / width)));
    return Number((row.min + bin * width).toFixed(6));
  }
  return Math.min(row.max, Math.max(row.min, row.min + Math.round(value - row.min)));
}

function levelsOf(row: Pick<PredictionRow, 'kind' | 'min' | 'max'>): number[] {
  if (row.kind === 'continuous') return Array.from({ length: CONTINUOUS_BINS }, (_, b) => Number((row.min + (b * (row.max - row.min)) / CONTINUOUS_BINS).toFixed(6)));
  return Array.from({ length: Math.floor(row.max - row.min) + 1 }, (_, i) => row.min + i);
}

/**
 * Shares of answers per level, predicted and actual, for each item of the rows, over the scored
 * rows only (both distributions over the same respondents); every level appears, empty ones as 0.
 */
export function distributionPoints(rows: readonly DistributionRow[]): DistributionPoint[] {
  const byItem = new Map<string, DistributionRow[]>();
  for (const r of rows) {
    if (r.predicted === null) continue;
    const key = JSON.stringify([r.group, r.item]);
    const list = byItem.get(key);
    if (list) list.push(r);
    else byItem.set(key, [r]);
  }
  const points: DistributionPoint[] = [];
  const keys = [...byItem.keys()].sort(compareCodeUnits);
  for (const key of keys) {
    const scored = byItem.get(key)!;
    const first = scored[0];
    for (const source of ['actual', 'predicted'] as const) {
      const counts = new Map<number, number>();
      for (const r of scored) {
        const level = levelOf(source === 'actual' ? r.actual : (r.predicted as number), r);
        counts.set(level, (counts.get(level) ?? 0) + 1);
      }
      for (const level of levelsOf(first)) points.push({ group: first.group, item: first.item, level, source, share: (counts.get(level) ?? 0) / scored.length });
    }
  }
  return points;
}

/** The chart of one group's items: predicted vs actual answer distribution per item, as SVG. */
export function groupDistributionSvg(group: string, rows: readonly DistributionRow[]): Promise<string> {
  return renderSvg(distributionByGroupChart(distributionPoints(rows), `Group ${group}: predicted vs actual answers (share of scored respondents)`));
}
