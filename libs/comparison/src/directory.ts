import { METRIC_DEFINITIONS, type Interval } from '@assay/evaluation';
import { pairedDeltaChart, renderSvg } from '@assay/plots';
import { fmt4, fmtWithCi, ParquetFileWriter, replaceDirectoryAtomically, section, show, siblingOf, textTable, toCsv, type ColumnSpec, type CsvCell } from '@assay/report';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Comparison, GroupDelta, PairResult } from './compare';

/**
 * A comparison directory, written whole to a sibling and swapped in, so a reader never sees half
 * of one: README.txt, CSV tables with parquet twins, comparison.json and the paired-delta chart.
 * Same comparison, same bytes.
 */

export const COMPARISONS_FOLDER = 'comparisons';

export function comparisonDir(outputRoot: string, comparison: Pick<Comparison, 'key'>): string {
  return join(outputRoot, COMPARISONS_FOLDER, comparison.key);
}

const DELTA_PLOT = 'plots/paired_deltas_by_group.svg';

interface Table {
  name: string;
  columns: Record<string, ColumnSpec>;
  rows: Record<string, CsvCell>[];
}

const num = (optional = true): ColumnSpec => ({ type: 'DOUBLE', optional });
const text: ColumnSpec = { type: 'UTF8' };
const int: ColumnSpec = { type: 'INT64' };

function ciCells(ci: Interval | null): { ci_low: number | null; ci_high: number | null } {
  return { ci_low: ci?.low ?? null, ci_high: ci?.high ?? null };
}

function tables(c: Comparison): Table[] {
  const metric = (scores: Comparison['ranking'][number]['scores'], key: string) => scores.overall.metrics[key]?.value ?? null;
  return [
    {
      name: 'methods',
      columns: {
        rank: int, identity: text, method: text, normalized_mae: num(), ci_low: num(), ci_high: num(),
        wasserstein: num(), variance_ratio: num(), under_dispersed_share: num(), respondent_correlation: num(),
        n: int, scored: int, parse_failures: int, inference_failures: int,
      },
      rows: c.ranking.map((r) => ({
        rank: r.rank,
        identity: r.identity,
        method: r.method,
        normalized_mae: r.scores.overall.primary.value,
        ...ciCells(r.scores.overall.metrics.normalized_mae?.ci ?? null),
        wasserstein: metric(r.scores, 'wasserstein'),
        variance_ratio: metric(r.scores, 'variance_ratio'),
        under_dispersed_share: metric(r.scores, 'under_dispersed_share'),
        respondent_correlation: metric(r.scores, 'respondent_correlation'),
        n: r.scores.overall.n,
        scored: r.scores.overall.nScored,
        parse_failures: r.scores.overall.parseFailures,
        inference_failures: r.scores.overall.inferenceFailures,
      })),
    },
    {
      name: 'by_group',
      columns: { baseline: text, candidate: text, group: text, baseline_value: num(), candidate_value: num(), delta: num(), ci_low: num(), ci_high: num(), p: num() },
      rows: c.byGroup.map((g) => ({
        baseline: g.baseline, candidate: g.candidate, group: g.group, baseline_value: g.baselineValue, candidate_value: g.candidateValue, delta: g.delta, ...ciCells(g.ci), p: g.p,
      })),
    },
    {
      name: 'by_item',
      columns: {
        baseline: text, candidate: text, group: text, item: text, baseline_value: num(), candidate_value: num(), delta: num(),
        baseline_wasserstein: num(), candidate_wasserstein: num(),
      },
      rows: c.byItem.map((i) => ({
        baseline: i.baseline, candidate: i.candidate, group: i.group, item: i.item, baseline_value: i.baselineValue, candidate_value: i.candidateValue, delta: i.delta,
        baseline_wasserstein: i.baselineWasserstein, candidate_wasserstein: i.candidateWasserstein,
      })),
    },
    {
      name: 'by_entity',
      columns: { baseline: text, candidate: text, entity_id: text, baseline_value: num(), candidate_value: num(), delta: num() },
      rows: c.byEntity.map((e) => ({ baseline: e.baseline, candidate: e.candidate, entity_id: e.entityId, baseline_value: e.baselineValue, candidate_value: e.candidateValue, delta: e.delta })),
    },
  ];
}

/** Long values (a prompt) are cut in the README; comparison.json has them whole. */
function cut(value: string | null, max = 60): string {
  if (value === null) return '(absent)';
  const one = show(value);
  return one.length <= max ? one : `${one.slice(0, max - 1)}… (${value.length} chars)`;
}

function verdict(ci: Interval | null): string {
  if (ci === null) return 'undefined';
  if (ci.high < 0) return 'candidate better';
  if (ci.low > 0) return 'candidate worse';
  return 'no clear difference';
}

function fmtP(p: number | null): string {
  return p === null ? 'n/a' : p < 0.0001 ? '<0.0001' : p.toFixed(4);
}

function fmtDelta(delta: number | null, ci: Interval | null): string {
  if (delta === null) return 'n/a';
  const signed = (v: number) => (v >= 0 ? `+${v.toFixed(4)}` : v.toFixed(4));
  return ci === null ? signed(delta) : `${signed(delta)} [${signed(ci.low)}, ${signed(ci.high)}]`;
}

const DESCRIBED = ['normalized_mae', 'wasserstein', 'variance_ratio', 'under_dispersed_share', 'respondent_correlation'];

export function renderComparisonReadme(c: Comparison): string {
  const title = `ASSAY COMPARISON ${c.key} — ${c.runs.length} runs on ${c.primaryMetric}`;
  const top = c.paired
    ? []
    : [
        'NOT PAIRED: these runs were not scored on the same data and split, so the differences below come',
        `from an unpaired bootstrap (each run's entities resampled on their own) and are less precise. Why: ${c.unpairedReason}.`,
        '',
      ];
  const runs = textTable([
    ['#', 'identity', 'method', 'attempt', 'evaluation round', 'evaluator'],
    ...c.runs.map((r, i) => [String(i + 1), show(r.identity), show(r.method), String(r.attempt), String(r.evaluationRound), show(r.evaluatorVersion)]),
  ]);
  const compared = [
    runs,
    '',
    `Test entities ${c.paired ? 'shared by all runs' : 'in every run'}: ${c.sharedEntities}   items: ${c.items}`,
    `Differences: later run (candidate) minus earlier run (baseline), for every pair, on ${c.primaryMetric}.`,
    `Intervals: 95% from a ${c.paired ? 'paired ' : ''}cluster bootstrap over test entities (${c.bootstrap.resamples} resamples, seed ${c.bootstrap.seed}):`,
    c.paired
      ? '  each resample draws respondents with replacement and scores every run on that same draw, so what makes a respondent hard for every method cancels out.'
      : '  each run\'s respondents are drawn on their own (no pairing).',
  ].join('\n');
  const diff =
    c.configDiff.length === 0
      ? 'The resolved configs are identical.'
      : textTable([['key', ...c.runs.map((r) => show(r.identity))], ...c.configDiff.map((d) => [d.key, ...d.values.map((v) => cut(v))])]) +
        '\n\nLong values are cut here; comparison.json (configDiff) has them whole.';
  const ranking = textTable([
    ['rank', 'identity', 'method', `${c.primaryMetric} [95% CI]`, 'wasserstein', 'variance_ratio', 'respondent_correlation'],
    ...c.ranking.map((r) => [
      String(r.rank),
      show(r.identity),
      show(r.method),
      fmtWithCi(r.scores.overall.metrics[c.primaryMetric], r.scores.overall.primary.value),
      fmt4(r.scores.overall.metrics.wasserstein?.value),
      fmt4(r.scores.overall.metrics.variance_ratio?.value),
      fmt4(r.scores.overall.metrics.respondent_correlation?.value),
    ]),
  ]);
  const pairs = textTable([
    ['baseline', 'candidate', 'delta [95% CI]', 'p', 'p (Holm)', 'verdict'],
    ...c.pairs.map((p: PairResult) => [show(p.baseline), show(p.candidate), fmtDelta(p.delta, p.ci), fmtP(p.p), fmtP(p.pHolm), verdict(p.ci)]),
  ]);
  const losses = (rows: GroupDelta[]) =>
    rows.slice(0, 5).map((g) => `${show(g.candidate)} vs ${show(g.baseline)}, group ${show(g.group)}: ${fmtDelta(g.delta, g.ci)}`);
  const worstItems = c.byItem.slice(0, 5).map((i) => `${show(i.candidate)} vs ${show(i.baseline)}, ${show(i.group)}/${show(i.item)}: ${fmtDelta(i.delta, null)}`);
  const worstEntities = c.byEntity.slice(0, 5).map((e) => `${show(e.candidate)} vs ${show(e.baseline)}, entity ${show(e.entityId)}: ${fmtDelta(e.delta, null)}`);
  const meanings = METRIC_DEFINITIONS.filter((d) => DESCRIBED.includes(d.name))
    .map((d) => `${d.name} (${d.higherIsBetter === null ? 'no better direction' : d.higherIsBetter ? 'higher is better' : 'lower is better'}): ${d.description}`)
    .concat([
      `delta: candidate - baseline on ${c.primaryMetric}. Lower is better for ${c.primaryMetric}, so a NEGATIVE delta means the candidate is better.`,
      'verdict: "candidate better" / "candidate worse" when the 95% interval excludes 0, else "no clear difference".',
      'p: two-sided bootstrap p-value for "no difference" (twice the smaller share of resampled deltas on either side of 0).',
      'p (Holm): p adjusted for the number of pairs compared (Holm step-down), so the chance of any false claim stays at 5%;',
      '  judge several pairs by the adjusted value.',
    ]);
  const navigation = [
    'README.txt                       this file',
    'methods.csv / methods.parquet    one row per run, ranked, with the interval of the primary metric',
    'by_group.csv / .parquet          per pair and group: paired delta with 95% CI and p, worst first',
    'by_item.csv / .parquet           per pair and item: delta and each run\'s Wasserstein distance, worst first',
    'by_entity.csv / .parquet         per pair and test entity: delta, worst first (where the candidate loses most)',
    'comparison.json                  everything above for code, config differences whole',
    `${DELTA_PLOT}  paired deltas per group with 95% intervals`,
  ];
  return [
    `${title}\n${'='.repeat(title.length)}\n`,
    ...(top.length > 0 ? [top.join('\n')] : []),
    section('WHAT IS COMPARED', compared),
    section('CONFIG DIFFERENCES (resolved values that differ)', diff),
    section(`RANKING on ${c.primaryMetric} (lower is better), best first`, ranking),
    section('PAIRED DIFFERENCES', pairs),
    section(
      'WHERE THE CANDIDATE LOSES MOST',
      [
        'Groups:', ...losses(c.byGroup).map((l) => `  ${l}`), '', 'Items:', ...worstItems.map((l) => `  ${l}`), '', 'Entities:', ...worstEntities.map((l) => `  ${l}`),
        '', 'Full lists: by_group.csv, by_item.csv, by_entity.csv.',
      ].join('\n'),
    ),
    section('WHAT THE METRICS MEAN', meanings.join('\n')),
    section('NAVIGATION', navigation.join('\n')),
  ]
    .join('\n')
    .replace(/\n{3,}/g, '\n\n');
}

export function comparisonJson(c: Comparison): string {
  return `${JSON.stringify(c, null, 2)}\n`;
}

/** The per-group paired-delta chart (forest plot), one colour per pair. */
export function deltaChartSvg(c: Comparison): Promise<string> {
  const rows = c.byGroup
    .filter((g) => g.delta !== null && g.ci !== null)
    .map((g) => ({ label: g.group, series: `${g.candidate} - ${g.baseline}`, delta: g.delta!, low: g.ci!.low, high: g.ci!.high }))
    .sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : a.series < b.series ? -1 : a.series > b.series ? 1 : 0));
  return renderSvg(pairedDeltaChart(rows, `Paired differences in ${c.primaryMetric} by group (95% CI)`, `${c.primaryMetric}: candidate - baseline (negative = candidate better)`));
}

export async function writeComparisonDirectory(c: Comparison, outputRoot: string): Promise<{ dir: string; files: string[] }> {
  const dir = comparisonDir(outputRoot, c);
  const tmp = siblingOf(dir, 'building');
  const files: string[] = [];
  const put = async (name: string, content: string) => {
    await writeFile(join(tmp, name), content);
    files.push(name);
  };
  await mkdir(join(tmp, 'plots'), { recursive: true });
  try {
    await put('README.txt', renderComparisonReadme(c));
    await put('comparison.json', comparisonJson(c));
    for (const t of tables(c)) {
      const header = Object.keys(t.columns);
      await put(`${t.name}.csv`, toCsv(header, t.rows.map((r) => header.map((h) => r[h] ?? null))));
      const writer = await ParquetFileWriter.open(join(tmp, `${t.name}.parquet`), t.columns);
      try {
        for (const r of t.rows) await writer.append(r);
        await writer.close();
      } catch (error) {
        await writer.abort();
        throw error;
      }
      files.push(`${t.name}.parquet`);
    }
    await put(DELTA_PLOT, await deltaChartSvg(c));
    const { oldRemoved } = await replaceDirectoryAtomically(tmp, dir);
    await oldRemoved;
    return { dir, files: files.sort() };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
