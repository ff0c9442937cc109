import { compareCodeUnits } from '@assay/contracts';
import type { MethodScores, MetricDefinition } from '../../evaluation/src/types';
import {
  compareBestFirst,
  compareMetricKeys,
  definitionFor,
  fmt4,
  fmtPercent,
  fmtValue,
  fmtWithCi,
  metricValue,
  show,
  textTable,
} from './format';
import {
  baselinesByName,
  type EntityEntry,
  entityDir,
  groupDir,
  groupsWorstFirst,
  renderReview,
  runReview,
  sortRows,
  SUMMARY_FILE,
  worstEntity,
} from './layout';
import type { PredictionRow, RunReport, RunWideReport, StageReuse } from './types';

/**
 * README.txt, the one file everyone opens: what a stranger needs to understand the run without reading code —
 * purpose, scope, model, key results against baselines, metric meanings, cache efficiency, where
 * to look first, how it compares to other runs, and the review verdict.
 */

/** A titled, underlined block of a text report (README.txt of runs and comparisons). */
export function section(title: string, body: string): string {
  return `${title}\n${'-'.repeat(title.length)}\n${body.trimEnd()}\n`;
}

export function indent(text: string, by = '  '): string {
  return text
    .split('\n')
    .map((l) => (l === '' ? l : by + l))
    .join('\n');
}

function failureCounts(s: MethodScores['overall']): string {
  return `${s.nScored} of ${s.n} predictions scored; ${s.parseFailures} parse failures, ${s.inferenceFailures} inference failures, ${s.outliers} outliers (out of range)`;
}

function resultsSection(report: RunWideReport): string {
  const evaluation = report.evaluation;
  const methods = [evaluation.method, ...baselinesByName(report)];
  const keys = new Set<string>(['normalized_mae']);
  for (const m of methods) for (const k of Object.keys(m.overall.metrics)) keys.add(k);
  const header = ['metric', `${evaluation.method.method} (this run)`, ...methods.slice(1).map((m) => `${m.method} (baseline)`), 'better'];
  const rows = [...keys]
    .sort(compareMetricKeys)
    .map((key) => [key, ...methods.map((m) => fmtWithCi(m.overall.metrics[key], metricValue(m.overall, key))), betterColumn(evaluation.definitions, key)]);
  const withIntervals = methods.some((m) => Object.values(m.overall.metrics).some((v) => v.ci !== undefined));
  const directionless = rows.filter((r) => r[r.length - 1] === NO_DIRECTION).map((r) => r[0]);
  const ranking = [...methods]
    .sort((a, b) => compareBestFirst(a.overall.primary.value, b.overall.primary.value) || compareCodeUnits(a.method, b.method))
    .map((m, i) => `${i + 1}. ${show(m.method)} ${fmt4(m.overall.primary.value)}`)
    .join('   ');
  return [
    'Primary metric: normalized_mae = |predicted - actual| / (item max - item min), averaged over',
    'scored predictions. LOWER is better; 0 is perfect. Groups and entities are sorted by it, worst first.',
    '',
    textTable([header, ...rows]),
    ...(withIntervals
      ? [
          '[low, high] = 95% confidence interval from a bootstrap over test entities: whole respondents are',
          '  drawn with replacement (all of one respondent\'s answers together), 2,000 times with a fixed seed.',
          '  Distribution metrics (wasserstein, variance_ratio, respondent_correlation) are means over items.',
        ]
      : []),
    ...(directionless.length === 0
      ? []
      : [
          `${NO_DIRECTION} = no better direction, a description rather than a score: ${directionless.join(', ')}.`,
          '  A positive rate says how often the answer is yes: compare predicted with actual to see a bias',
          '  towards yes or no; neither a higher nor a lower rate is better on its own.',
        ]),
    '',
    `This run: ${failureCounts(evaluation.method.overall)}.`,
    `Ranking on normalized_mae, best first: ${ranking}`,
    `Evaluator version: ${evaluation.evaluatorVersion}`,
    roundLine(report),
  ].join('\n');
}

const NO_DIRECTION = '—';

/** The "better" column: higher, lower, or NO_DIRECTION for a descriptive metric such as a positive rate. */
export function betterColumn(definitions: readonly MetricDefinition[], key: string): string {
  const def = definitionFor([...definitions], key);
  if (def === undefined) return key === 'normalized_mae' ? 'lower' : '?';
  return def.higherIsBetter === null ? NO_DIRECTION : def.higherIsBetter ? 'higher' : 'lower';
}

function roundLine(report: RunWideReport): string {
  const r = report.evaluationRound;
  if (r.round === 1) return `Evaluation round 1: made during the run (${r.evaluatedAt}).`;
  return [
    `Evaluation round ${r.round}: re-scored the logged inference results of attempt ${report.attempt} without model calls,`,
    `  with evaluator ${r.evaluatorVersion} (code ${r.evaluatorCodeVersion}) on ${r.evaluatedAt}${r.reason ? `; reason: ${r.reason}` : ''}.`,
    '  Earlier rounds are listed in metadata.json (evaluationRounds).',
  ].join('\n');
}

function definitionsSection(report: RunWideReport): string {
  const defs = [...report.evaluation.definitions].sort((a, b) => compareMetricKeys(a.name, b.name));
  if (defs.length === 0) return '(the evaluator supplied no metric definitions)';
  return defs
    .map((d) => {
      const kinds = d.kinds === 'all' ? 'all kinds' : d.kinds.join(', ');
      const direction = d.higherIsBetter === null ? 'no better direction' : `${d.higherIsBetter ? 'higher' : 'lower'} is better`;
      return `${d.name} (${kinds}; ${direction}): ${d.description}`;
    })
    .join('\n');
}

function scopeSection(report: RunWideReport): string {
  const { scope } = report;
  const files = [...scope.dataFiles].sort((a, b) => compareCodeUnits(a.role, b.role) || compareCodeUnits(a.path, b.path));
  const split = scope.split;
  return [
    'Data files:',
    indent(textTable([['role', 'path', 'sha256'], ...files.map((f) => [show(f.role), show(f.path), f.sha256])])),
    '',
    `Test entities: ${scope.entities}   items: ${scope.items}   groups: ${scope.groups.length}`,
    `Groups: ${[...scope.groups].sort(compareCodeUnits).map(show).join(', ')}`,
    `Split: ${show(split.path)} (sha256 ${split.sha256})`,
    `  seed ${split.seed}, test fraction ${fmtValue(split.testFraction)} -> ${split.train} train / ${split.test} test entities (split by entity)`,
  ].join('\n');
}

function modelSection(report: RunWideReport): string {
  const m = report.model;
  if (m === null) return `None: ${show(report.method)} (${show(report.methodLabel)}) is fitted on the train split (no model calls).`;
  return [
    `Model:         ${show(m.id)}`,
    `Mode:          ${show(m.mode)}`,
    `Adapter:       ${m.adapter === null ? 'none' : show(m.adapter)}`,
    `Chat template: ${show(m.chatTemplate)}`,
    `Sampling:      temperature ${fmtValue(m.temperature)}, max tokens ${m.maxTokens}`,
  ].join('\n');
}

function cacheSection(report: RunWideReport): string {
  const c = report.cache;
  if (c.source === 'unknown') {
    return [
      `Prefix-cache hit rate: unknown (ideal for this prompt order: ${fmtPercent(c.idealHitRate)})`,
      'The server reported neither usage.prompt_tokens_details.cached_tokens (start vLLM with',
      '--enable-prompt-tokens-details) nor the vllm:prefix_cache_hits_total / _queries_total counters.',
    ].join('\n');
  }
  if (c.source === 'server-counters') {
    return [
      `Prefix-cache hit rate: ${fmtPercent(c.hitRate)} (ideal for this prompt order: ${fmtPercent(c.idealHitRate)})`,
      "From the servers' vllm:prefix_cache_hits_total / _queries_total counters over the run (the answers",
      'carry no cached_tokens): server-wide, so other clients of the servers during the run count too' +
        (c.shared ? ';\nthey counted more prompt tokens than this run sent, so other clients did use them.' : '.'),
      'A hit rate well below the ideal means prompts sharing a prefix were not served back to back,',
      'so the shared profile was computed again for them: check the dispatch order (by entity) and',
      'the vLLM --enable-prefix-caching flag.',
    ].join('\n');
  }
  return [
    `Prefix-cache hit rate: ${fmtPercent(c.hitRate)} (ideal for this prompt order: ${fmtPercent(c.idealHitRate)})`,
    `Cached prompt tokens: ${c.cachedTokens} of ${c.promptTokens}.`,
    'A hit rate well below the ideal means prompts sharing a prefix were not served back to back,',
    'so the shared profile was computed again for them: check the dispatch order (by entity) and',
    "the vLLM --enable-prefix-caching flag.",
  ].join('\n');
}

function stagesReusedSection(reused: readonly StageReuse[]): string {
  return [
    ...reused.map((r) => `- ${show(r.stage)}: ${r.prompts} answers in ${r.batches} entity batches reused from experiment ${show(r.fromIdentity)} (stage key ${r.stageKey.slice(0, 12)}), no model calls`),
    'A stage with the same key (its parameters, the stages it reads, the data and its code version)',
    'computed the same thing: its logged answers stand in for model calls. They are left out of the',
    'prefix-cache hit rate. `assay run --force` recomputes every stage.',
  ].join('\n');
}

/** What README.txt says about the rows: gathered by the tree's writer a group at a time, or from every row (rowFactsOf). */
export interface RowFacts {
  /** The groups that have rows. */
  groups: Iterable<string>;
  /** The worst entity (per_entity.csv's order) over every group, null without rows. */
  worst: EntityEntry | null;
  /** Whether some call failed over to another replica. */
  anyFailover: boolean;
}

/** The facts of rows held all at once (sorted by sortRows). */
export function rowFactsOf(report: RunReport, sortedRows: readonly PredictionRow[]): RowFacts {
  return { groups: sortedRows.map((r) => r.group), worst: worstEntity(report, sortedRows), anyFailover: sortedRows.some((r) => r.failoverFrom !== null) };
}

function navigationSection(report: RunWideReport, facts: RowFacts): string {
  const groups = groupsWorstFirst(report, facts.groups);
  const worst = facts.worst;
  const lookFirst: string[] = [];
  if (groups.length > 0) {
    const g = groups[0];
    lookFirst.push(`Worst group:  ${show(g.group)} (normalized_mae ${fmt4(g.summary?.primary.value)}) -> ${groupDir(g.group)}/`);
  }
  if (worst) {
    lookFirst.push(
      `Worst entity: ${show(worst.entityId)} in group ${show(worst.group)} (normalized_mae ${fmt4(worst.summary?.primary.value)})`,
      `              -> ${entityDir(worst.group, worst.entityId)}/${SUMMARY_FILE}`,
    );
  }
  return [
    'LOOK HERE FIRST',
    ...(lookFirst.length > 0 ? lookFirst.map((l) => `  ${l}`) : ['  (no predictions in this run)']),
    '',
    'README.txt                 this file',
    'review.txt                 post-run checklist, one line per check, then the verdict',
    'metrics.json               all scores: overall / by group / by item, baselines side by side',
    'config.yaml, config.json   the resolved config (re-running it reproduces this run)',
    'metadata.json              code version, identity, timestamps, hosts, data and split hashes, evaluation rounds',
    'predictions.parquet        every prediction (for pandas / DuckDB)',
    ...(report.model === null
      ? ['raw_outputs.parquet        empty: a method fitted on the train split makes no model calls']
      : [
          'raw_outputs.parquet        every model input (chat template applied) and raw output, with the',
          '                           call: finish reason, model, sampling, attempts, worker, replica, times',
          // Said only where a call failed over, so the README of other runs keeps its bytes.
          ...(facts.anyFailover
            ? ['                           and failover_from: the entity\'s own replica, where it did not answer',
               '                           and the call went to the next one (also in the item\'s METADATA)']
            : []),
        ]),
    'groups/_index.csv          START HERE: one row per group, worst first, baselines alongside',
    'groups/<group>/            group_metrics.json, predictions.csv, per_entity.csv (worst first),',
    '                           distribution.svg: predicted vs actual answer distribution per item (chart)',
    'groups/<group>/entities/<entity>/summary.txt   all predictions of one entity at a glance',
    report.model === null
      ? 'groups/<group>/entities/<entity>/<item>.txt    METADATA of one prediction and what the method used'
      : 'groups/<group>/entities/<entity>/<item>.txt    full INPUT / OUTPUT / METADATA of one call',
    ...[...new Set([...(report.entityInputs?.values() ?? [])].map((c) => c.file))].map(
      (file) => `groups/<group>/entities/<entity>/${file.padEnd(16)} INPUT / OUTPUT / METADATA of the entity's call its prompts read`,
    ),
    'diagnostics/               parse_failures.csv, outliers.csv, value_ranges.json,',
    '                           actual_vs_predicted.csv (the full flat table)',
    'logs/                      service logs of the run',
    '',
    "Folder and file names are encoded ids, safe on every filesystem: a-z 0-9 _ - stay, an upper-case",
    "letter becomes '~' + the letter ('A' -> '~a'), any other character '~' + hex length + hex code",
    "(' ' -> '~220', '/' -> '~22f'); very long ids are cut and end in '~~' + a hash. The exact ids are",
    'inside every file. CSV files use LF line ends; text cells starting with = + - @ are prefixed',
    "with ' so spreadsheets do not run them as formulas.",
  ].join('\n');
}

function comparisonSection(report: RunWideReport): string {
  const others = [...report.comparison].sort(
    (a, b) => compareBestFirst(a.primary, b.primary) || compareCodeUnits(a.identity, b.identity) || compareCodeUnits(a.method, b.method),
  );
  const self = report.evaluation.method.overall.primary.value;
  if (others.length === 0) return 'No other runs on the same data and split are registered yet.';
  const best = bestPreviousLines(report);
  const better = others.filter((o) => o.primary !== null && self !== null && o.primary < self).length;
  return [
    'Other runs on the same data files and split (normalized_mae, lower is better):',
    indent(
      textTable([
        ['identity', 'method', 'status', 'normalized_mae'],
        ...others.map((o) => [show(o.identity), show(o.method), show(o.status), fmt4(o.primary)]),
      ]),
    ),
    '',
    self === null
      ? 'This run has no normalized_mae (nothing scored), so it cannot be ranked against them.'
      : `This run (${show(report.identity)}, ${fmt4(self)}) is beaten by ${better} of ${others.length} of them.`,
    ...(best.length > 0 ? ['', ...best] : []),
  ].join('\n');
}

function signed(v: number): string {
  return v >= 0 ? `+${v.toFixed(4)}` : v.toFixed(4);
}

/** The best earlier completed run on the same data and split, and the paired difference to it. */
function bestPreviousLines(report: RunWideReport): string[] {
  const best = report.bestPrevious;
  if (best === undefined) return [];
  if (best === null) return ['No earlier completed run on the same data and split to measure this one against.'];
  const head = `Best earlier run on the same data and split: ${show(best.identity)} (${show(best.method)}, normalized_mae ${fmt4(best.primary)}).`;
  if (best.delta === null) return [head, `  No paired difference: ${best.note ?? 'not computed'}.`];
  const ci = best.ci === null ? '' : ` [${signed(best.ci.low)}, ${signed(best.ci.high)}]`;
  const verdict = best.ci === null ? '' : best.ci.high < 0 ? 'this run is better' : best.ci.low > 0 ? 'this run is worse' : 'no clear difference';
  return [
    head,
    `  This run minus it: ${signed(best.delta)}${ci} normalized_mae (negative = this run better), p ${best.p === null ? 'n/a' : best.p.toFixed(4)}: ${verdict}.`,
    `  95% interval from a paired bootstrap over the ${best.entities} test entities both runs scored (2,000 resamples, fixed seed).`,
    `  For every pair and group: assay compare ${best.identity} ${report.identity}`,
  ];
}

export function renderReadme(report: RunReport): string {
  return renderReadmeOf(report, rowFactsOf(report, sortRows(report.rows)));
}

/** renderReadme from what it needs of the rows (a writer that never holds every row at once). */
export function renderReadmeOf(report: RunWideReport, facts: RowFacts): string {
  const title = `ASSAY RUN ${show(report.identity)} — method ${show(report.method)}, attempt ${report.attempt}`;
  const parts = [
    `${title}\n${'='.repeat(title.length)}\n`,
    section('PURPOSE', report.purpose?.trim() ? report.purpose.trim() : '(not stated: set `purpose` in the experiment config)'),
    section('SCOPE', scopeSection(report)),
    ...(report.warnings.length > 0 ? [section('WARNINGS (read before the results)', report.warnings.map((w) => `- ${w}`).join('\n'))] : []),
    section('MODEL', modelSection(report)),
    section('KEY RESULTS (test split)', resultsSection(report)),
    section('WHAT THE METRICS MEAN', definitionsSection(report)),
    // A run without a model made no calls: no hit rate to report, no prefix-cache advice to give.
    ...(report.model === null ? [] : [section('PREFIX CACHE', cacheSection(report))]),
    ...(report.stagesReused && report.stagesReused.length > 0 ? [section('STAGES REUSED', stagesReusedSection(report.stagesReused))] : []),
    section('NAVIGATION', navigationSection(report, facts)),
    section('COMPARISON CONTEXT', comparisonSection(report)),
    section('REVIEW', renderReview(runReview(report))),
  ];
  return parts.join('\n');
}
