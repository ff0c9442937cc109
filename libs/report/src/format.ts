import { compareCodeUnits } from '@assay/contracts';
import type { MetricDefinition, MetricValue, ScoreSummary } from '../../evaluation/src/types';

/** Best first for a lower-is-better metric: ascending, nulls last. */
export function compareBestFirst(a: number | null, b: number | null): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? 1 : -1;
  return a - b;
}

/** Metrics and other derived numbers in text files: fixed 4 decimals. */
export function fmt4(value: number | null | undefined): string {
  return value === null || value === undefined ? 'n/a' : value.toFixed(4);
}

/** A metric with its bootstrap interval when it has one: "0.1234 [0.1100, 0.1400]". */
export function fmtWithCi(metric: MetricValue | undefined, value: number | null = metric?.value ?? null): string {
  const ci = metric?.ci;
  return ci === undefined || value === null ? fmt4(value) : `${fmt4(value)} [${fmt4(ci.low)}, ${fmt4(ci.high)}]`;
}

export function fmtPercent(value: number | null | undefined): string {
  return value === null || value === undefined ? 'n/a' : `${(value * 100).toFixed(2)}%`;
}

/** Data values (actual, predicted, ranges) as given: rounding would hide what the model said. */
export function fmtValue(value: number | null | undefined): string {
  return value === null || value === undefined ? 'n/a' : String(value);
}

/** An id or free text on one line of a text file: JSON-quoted when it could break the layout. */
export function show(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text === '' || /[\u0000-\u001f\u007f\u2028\u2029]/.test(text) || text.trim() !== text
    ? JSON.stringify(text)
    : text;
}

/** Fixed-width text table: columns padded to their widest cell, two spaces apart, no trailing blanks. */
export function textTable(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ').trimEnd())
    .join('\n');
}

const KIND_ORDER = ['binary', 'ordinal', 'continuous'];
const METRIC_ORDER = [
  'normalized_mae',
  'accuracy',
  'balanced_accuracy',
  'f1',
  'predicted_positive_rate',
  'actual_positive_rate',
  'mae',
  'rmse',
  'exact_accuracy',
  'within_one_accuracy',
  'spearman',
  'pearson',
  'wasserstein',
  'variance_ratio',
  'under_dispersed_share',
  'respondent_correlation',
];

function rank(list: string[], value: string): number {
  const i = list.indexOf(value);
  return i < 0 ? list.length : i;
}

/** normalized_mae first, then kind-qualified keys by kind and metric, unknown keys last by name. */
export function compareMetricKeys(a: string, b: string): number {
  const key = (k: string): [number, number, number] => {
    if (k === 'normalized_mae') return [0, 0, 0];
    const dot = k.indexOf('.');
    if (dot < 0) return [2, 0, rank(METRIC_ORDER, k)];
    return [1, rank(KIND_ORDER, k.slice(0, dot)), rank(METRIC_ORDER, k.slice(dot + 1))];
  };
  const ka = key(a);
  const kb = key(b);
  for (let i = 0; i < 3; i++) if (ka[i] !== kb[i]) return ka[i] - kb[i];
  return compareCodeUnits(a, b);
}

/** Metric keys (other than normalized_mae, which has its own column) present in any summary. */
export function kindMetricKeys(summaries: Iterable<ScoreSummary | undefined>): string[] {
  const keys = new Set<string>();
  for (const s of summaries) if (s) for (const k of Object.keys(s.metrics)) if (k !== 'normalized_mae') keys.add(k);
  return [...keys].sort(compareMetricKeys);
}

/** A metrics record with its keys in canonical order, whatever order the producer used. */
export function orderedMetrics(metrics: Record<string, MetricValue>): Record<string, MetricValue> {
  const out: Record<string, MetricValue> = {};
  for (const k of Object.keys(metrics).sort(compareMetricKeys)) out[k] = metrics[k];
  return out;
}

export function orderedSummary(s: ScoreSummary): ScoreSummary {
  return { ...s, metrics: orderedMetrics(s.metrics) };
}

export function metricValue(s: ScoreSummary | undefined, key: string): number | null {
  if (!s) return null;
  if (key === 'normalized_mae') return s.primary.value ?? s.metrics[key]?.value ?? null;
  return s.metrics[key]?.value ?? null;
}

/** The definition for a metric key such as 'binary.accuracy' (definitions are per metric name). */
export function definitionFor(definitions: MetricDefinition[], key: string): MetricDefinition | undefined {
  const name = key.slice(key.indexOf('.') + 1);
  return definitions.find((d) => d.name === name);
}
