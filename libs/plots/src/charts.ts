import type { TopLevelSpec } from 'vega-lite';

/** One bar: the share of answers at one level of one item, predicted or actual. */
export interface DistributionPoint {
  group: string;
  item: string;
  /** The answer level, as shown on the x axis. */
  level: number;
  source: 'predicted' | 'actual';
  /** Share of the item's answers at this level, 0..1. */
  share: number;
}

/** One row of a forest plot: a paired difference with its confidence interval. */
export interface DeltaInterval {
  /** Row label, e.g. a group name. */
  label: string;
  /** Series label, e.g. "candidate vs baseline"; one colour per series. */
  series: string;
  delta: number;
  low: number;
  high: number;
}

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';
const SOURCE_COLOURS = { domain: ['actual', 'predicted'], range: ['#4c78a8', '#f58518'] };

/**
 * Predicted vs actual answer distributions: one small panel per item, panels in rows by group,
 * bars side by side per answer level.
 */
export function distributionByGroupChart(points: readonly DistributionPoint[], title: string): TopLevelSpec {
  return {
    $schema: SCHEMA,
    title,
    data: { values: points.map((p) => ({ ...p })) },
    facet: {
      row: { field: 'group', type: 'nominal', title: 'group' },
      column: { field: 'item', type: 'nominal', title: 'item' },
    },
    resolve: { scale: { x: 'independent', xOffset: 'independent' } },
    spec: {
      width: 120,
      height: 80,
      mark: 'bar',
      encoding: {
        x: { field: 'level', type: 'ordinal', title: 'answer' },
        xOffset: { field: 'source', type: 'nominal' },
        y: { field: 'share', type: 'quantitative', title: 'share', scale: { domain: [0, 1] } },
        color: { field: 'source', type: 'nominal', scale: SOURCE_COLOURS, title: null },
      },
    },
    config: { font: 'sans-serif' },
  } as TopLevelSpec;
}

/**
 * Paired differences with confidence intervals (a forest plot): a point per row and series,
 * a horizontal error bar from low to high, and a rule at zero (no difference).
 */
export function pairedDeltaChart(rows: readonly DeltaInterval[], title: string, axisTitle: string): TopLevelSpec {
  const values = rows.map((r) => ({ ...r }));
  const y = { field: 'label', type: 'nominal', title: null, sort: null } as const;
  return {
    $schema: SCHEMA,
    title,
    width: 360,
    data: { values },
    layer: [
      { mark: { type: 'rule', color: '#888', strokeDash: [4, 3] }, data: { values: [{ zero: 0 }] }, encoding: { x: { field: 'zero', type: 'quantitative' } } },
      {
        mark: { type: 'rule', strokeWidth: 2 },
        encoding: {
          y,
          yOffset: { field: 'series', type: 'nominal' },
          x: { field: 'low', type: 'quantitative', title: axisTitle },
          x2: { field: 'high' },
          color: { field: 'series', type: 'nominal', title: null },
        },
      },
      {
        mark: { type: 'point', filled: true, size: 40 },
        encoding: {
          y,
          yOffset: { field: 'series', type: 'nominal' },
          x: { field: 'delta', type: 'quantitative' },
          color: { field: 'series', type: 'nominal', title: null },
        },
      },
    ],
    config: { font: 'sans-serif' },
  } as TopLevelSpec;
}
