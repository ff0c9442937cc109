import { compareCodeUnits } from '@assay/contracts';
import { distributionByGroupChart, type ChartSpec, type DistributionPoint } from '@assay/plots';
import type { PredictionPoints } from '@assay/report';

/**
 * The run page's plots as Vega-Lite specs (rendered to SVG on the server by libs/plots), built
 * from predictions.parquet's columns and metrics.json. Each is served as its own SVG image, so the
 * page is interactive before any chart is drawn, and an SVG shown as an image runs no script
 * whatever its labels say. Sizes are bounded at 42K predictions: counts are aggregated here, and
 * the continuous scatter shows an even sample of at most SCATTER_POINTS_PER_GROUP per group.
 */

export type PlotName = 'confusion' | 'scatter' | 'distributions' | 'metric-by-group';

export interface PlotInfo {
  name: PlotName;
  title: string;
}

export const SCATTER_POINTS_PER_GROUP = 150;
const SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';

function isDiscrete(kind: string): boolean {
  return kind === 'binary' || kind === 'ordinal';
}

/** Predicted vs actual counts of binary and ordinal items, one heatmap per group (prediction rounded to the scale). */
export function confusionSpec(p: PredictionPoints): ChartSpec | null {
  const counts = new Map<string, { group: string; actual: number; predicted: number; count: number }>();
  for (let i = 0; i < p.group.length; i++) {
    const predicted = p.predicted[i];
    if (!isDiscrete(p.kind[i]) || predicted === null) continue;
    const cell = { group: p.group[i], actual: p.actual[i], predicted: Math.round(predicted) };
    const key = JSON.stringify([cell.group, cell.actual, cell.predicted]);
    const seen = counts.get(key);
    if (seen) seen.count++;
    else counts.set(key, { ...cell, count: 1 });
  }
  if (counts.size === 0) return null;
  const values = [...counts.values()].sort((a, b) => compareCodeUnits(a.group, b.group) || a.actual - b.actual || a.predicted - b.predicted);
  return {
    $schema: SCHEMA,
    data: { values },
    facet: { column: { field: 'group', type: 'nominal', title: 'group' } },
    spec: {
      width: 140,
      height: 140,
      mark: 'rect',
      encoding: {
        x: { field: 'actual', type: 'ordinal', title: 'actual' },
        y: { field: 'predicted', type: 'ordinal', title: 'predicted (rounded)', sort: 'descending' },
        color: { field: 'count', type: 'quantitative', title: 'predictions', scale: { scheme: 'blues' } },
      },
    },
    resolve: { scale: { x: 'independent', y: 'independent' } },
    config: { font: 'sans-serif' },
  } as ChartSpec;
}

/** Predicted vs actual of continuous items, one scatter per group, with the line of perfect predictions. */
export function scatterSpec(p: PredictionPoints, perGroup = SCATTER_POINTS_PER_GROUP): ChartSpec | null {
  const byGroup = new Map<string, Array<{ group: string; actual: number; predicted: number }>>();
  for (let i = 0; i < p.group.length; i++) {
    const predicted = p.predicted[i];
    if (p.kind[i] !== 'continuous' || predicted === null) continue;
    const list = byGroup.get(p.group[i]) ?? [];
    list.push({ group: p.group[i], actual: p.actual[i], predicted });
    byGroup.set(p.group[i], list);
  }
  if (byGroup.size === 0) return null;
  const values = [...byGroup.keys()].sort(compareCodeUnits).flatMap((g) => {
    const all = byGroup.get(g)!;
    const step = Math.max(1, all.length / perGroup);
    return Array.from({ length: Math.min(all.length, perGroup) }, (_, k) => all[Math.floor(k * step)]);
  });
  const shown = values.length;
  const total = [...byGroup.values()].reduce((n, l) => n + l.length, 0);
  return {
    $schema: SCHEMA,
    title: shown < total ? `${shown} of ${total} continuous predictions (an even sample per group)` : `${total} continuous predictions`,
    data: { values },
    facet: { column: { field: 'group', type: 'nominal', title: 'group' } },
    spec: {
      width: 160,
      height: 160,
      layer: [
        { mark: { type: 'point', size: 10, opacity: 0.5 }, encoding: { x: { field: 'actual', type: 'quantitative' }, y: { field: 'predicted', type: 'quantitative' } } },
        { mark: { type: 'line', color: '#888', strokeDash: [4, 3] }, encoding: { x: { field: 'actual', type: 'quantitative' }, y: { field: 'actual', type: 'quantitative' } } },
      ],
    },
    config: { font: 'sans-serif' },
  } as ChartSpec;
}

/** Shares of each answer level per binary/ordinal item, predicted (rounded) beside actual. */
export function distributionPoints(p: PredictionPoints): DistributionPoint[] {
  const counts = new Map<string, DistributionPoint>();
  const totals = new Map<string, number>();
  const add = (group: string, item: string, source: 'predicted' | 'actual', level: number) => {
    const itemKey = JSON.stringify([group, item, source]);
    totals.set(itemKey, (totals.get(itemKey) ?? 0) + 1);
    const key = JSON.stringify([group, item, source, level]);
    const seen = counts.get(key);
    if (seen) seen.share++;
    else counts.set(key, { group, item, level, source, share: 1 });
  };
  for (let i = 0; i < p.group.length; i++) {
    if (!isDiscrete(p.kind[i])) continue;
    add(p.group[i], p.item[i], 'actual', p.actual[i]);
    const predicted = p.predicted[i];
    if (predicted !== null) add(p.group[i], p.item[i], 'predicted', Math.round(predicted));
  }
  return [...counts.values()]
    .map((d) => ({ ...d, share: d.share / totals.get(JSON.stringify([d.group, d.item, d.source]))! }))
    .sort((a, b) => compareCodeUnits(a.group, b.group) || compareCodeUnits(a.item, b.item) || compareCodeUnits(a.source, b.source) || a.level - b.level);
}

export function distributionsSpec(p: PredictionPoints): ChartSpec | null {
  const points = distributionPoints(p);
  return points.length === 0 ? null : distributionByGroupChart(points, 'binary and ordinal items');
}

/** metrics.json sideBySide.byGroup: the primary metric of each method per group (worst group first). */
export interface MetricByGroup {
  group: string;
  normalized_mae: Array<{ method: string; value: number | null }>;
}

export function metricByGroupSpec(rows: readonly MetricByGroup[]): ChartSpec | null {
  const values = rows.flatMap((r) => r.normalized_mae.filter((m) => m.value !== null).map((m) => ({ group: r.group, method: m.method, value: m.value })));
  if (values.length === 0) return null;
  const y = { field: 'group', type: 'nominal', title: null, sort: rows.map((r) => r.group) } as const;
  return {
    $schema: SCHEMA,
    title: 'normalized_mae per group (lower is better), worst group first',
    width: 360,
    data: { values },
    mark: 'bar',
    encoding: {
      y,
      yOffset: { field: 'method', type: 'nominal' },
      x: { field: 'value', type: 'quantitative', title: 'normalized_mae' },
      color: { field: 'method', type: 'nominal', title: 'method' },
    },
    config: { font: 'sans-serif' },
  } as ChartSpec;
}

export const PLOT_TITLES: Record<PlotName, string> = {
  confusion: 'Predicted vs actual per group: binary and ordinal items',
  scatter: 'Predicted vs actual per group: continuous items',
  distributions: 'Answer distributions per item: predicted vs actual',
  'metric-by-group': 'Primary metric per group beside the baselines',
};

export const PLOT_NAMES = Object.keys(PLOT_TITLES) as PlotName[];

/** The spec of one plot from the run's data; null when the run has nothing to draw for it. */
export function plotSpec(name: PlotName, points: PredictionPoints, byGroup: readonly MetricByGroup[]): ChartSpec | null {
  switch (name) {
    case 'confusion':
      return confusionSpec(points);
    case 'scatter':
      return scatterSpec(points);
    case 'distributions':
      return distributionsSpec(points);
    case 'metric-by-group':
      return metricByGroupSpec(byGroup);
  }
}

/** Which plots a run has: the discrete and continuous ones only when it has such items. */
export function availablePlots(kinds: ReadonlySet<string>): PlotInfo[] {
  const has = (name: PlotName) =>
    name === 'confusion' || name === 'distributions' ? kinds.has('binary') || kinds.has('ordinal') : name === 'scatter' ? kinds.has('continuous') : true;
  return PLOT_NAMES.filter(has).map((name) => ({ name, title: PLOT_TITLES[name] }));
}
