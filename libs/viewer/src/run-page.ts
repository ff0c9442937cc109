import { groupDir } from '@assay/report';
import { dataTable, filterForm, page, pager, preBlock } from './components';
import { html, type SafeHtml } from './html';
import { metricText, statusCell, type RegistryRow } from './registry-page';
import type { ReadmeSection, ReviewChecklist } from './run-text';
import type { TablePage } from './table-query';
import { diagnosticsUrl, fileUrl, groupUrl, registryUrl, runUrl } from './urls';

/** One method's overall primary metric beside the others (metrics.json sideBySide.overall). */
export interface SideBySideRow {
  method: string;
  role: string;
  normalized_mae: number | null;
  n: number;
  nScored: number;
}

export interface Plot {
  title: string;
  /** The chart as an SVG image of its own (see plots.ts). */
  url: string;
}

/** A run as the registry lists it, plus what its own page shows. */
export interface RunModel extends RegistryRow {
  runDir: string;
  /** Null until the run has a report (running, failed before it). */
  report: {
    keyFacts: ReadmeSection[];
    review: ReviewChecklist | null;
    sideBySide: SideBySideRow[];
    groups: TablePage;
    /** Run-directory files, relative paths. */
    files: string[];
  } | null;
  plots: Plot[];
}

/** The files every report has at its root and in diagnostics/ (groups and calls are linked from their pages). */
export const RUN_FILES = [
  'README.txt',
  'review.txt',
  'metrics.json',
  'config.yaml',
  'config.json',
  'metadata.json',
  'predictions.parquet',
  'raw_outputs.parquet',
  'groups/_index.csv',
  'diagnostics/parse_failures.csv',
  'diagnostics/outliers.csv',
  'diagnostics/value_ranges.json',
  'diagnostics/actual_vs_predicted.csv',
];

export function fileList(identity: string, files: readonly string[]): SafeHtml {
  return html`<ul class="files">${files.map((f) => html`<li><a href="${fileUrl(identity, f)}">${f}</a></li>`)}</ul>`;
}

function reviewBlock(review: ReviewChecklist): SafeHtml {
  const item = (r: ReviewChecklist['checks'][number]) => html`<li class="${r.verdict.toLowerCase()}"><span class="badge ${r.verdict.toLowerCase()}">${r.verdict}</span> <b>${r.check}</b> — ${r.detail}</li>`;
  return html`<section><h2>Review</h2>
${review.overall ? html`<p class="overall">${review.overall}</p>` : ''}
<ul class="review">${review.checks.map(item)}</ul>
${review.todos.length ? html`<h3>For you to do (not checks)</h3><ul class="review">${review.todos.map(item)}</ul>` : ''}
${review.other.length ? preBlock(review.other.join('\n')) : ''}
</section>`;
}

export function renderRun(m: RunModel): string {
  const self = runUrl(m.identity, m.report ? { status: m.report.groups.query.status, q: m.report.groups.query.q, sort: m.report.groups.query.sort } : {});
  const head = html`<h1>${m.name} <small>${m.identity}</small></h1>
<table class="facts">
<tr><th>method</th><td>${m.method}</td></tr>
<tr><th>status</th><td class="status">${statusCell(m)}</td></tr>
<tr><th>attempt</th><td>${m.attempt}</td></tr>
<tr><th>${m.primary.name}</th><td>${metricText(m.primary)} <span class="note">lower is better</span></td></tr>
<tr><th>started</th><td>${m.startedAt}</td></tr>
<tr><th>finished</th><td>${m.finishedAt ?? '—'}</td></tr>
<tr><th>run directory</th><td><code>${m.runDir}</code></td></tr>
</table>`;
  if (!m.report) {
    const body = html`${head}<p class="empty">No report yet: ${m.status === 'running' ? 'the run is in progress.' : 'this attempt ended before its report was written.'}</p>`;
    return page({ title: m.name, crumbs: [{ label: 'experiments', href: registryUrl() }, { label: m.identity }], self, body, live: m.status === 'running' });
  }
  const r = m.report;
  const base = runUrl(m.identity);
  const sideBySide = html`<table class="data compact"><thead><tr><th>method</th><th>role</th><th>normalized_mae</th><th>scored</th></tr></thead><tbody>${r.sideBySide.map(
    (s) => html`<tr class="${s.role}"><td>${s.method}</td><td>${s.role}</td><td class="num">${s.normalized_mae === null ? 'n/a' : s.normalized_mae.toFixed(4)}</td><td class="num">${s.nScored} / ${s.n}</td></tr>`,
  )}</tbody></table>`;
  const body = html`${head}
<nav class="tabs"><a href="#groups">groups, worst first</a> <a href="${diagnosticsUrl(m.identity, 'parse-failures')}">parse failures</a> <a href="${diagnosticsUrl(m.identity, 'outliers')}">outliers</a> <a href="${diagnosticsUrl(m.identity, 'value-ranges')}">value ranges</a> <a href="#files">files</a></nav>
<section><h2>Key results beside the baselines</h2>${sideBySide}</section>
${m.plots.length ? html`<section class="plots"><h2>Plots</h2>${m.plots.map((p) => html`<figure><figcaption>${p.title}</figcaption><img src="${p.url}" alt="${p.title}" loading="lazy"></figure>`)}</section>` : ''}
${r.review ? reviewBlock(r.review) : ''}
<section id="groups"><h2>Groups, worst first</h2>
${filterForm(base, r.groups.query)}
${pager(base, r.groups)}
${dataTable(base, r.groups, { rank: true, linkOf: (cells) => groupUrl(m.identity, cells[0]) })}
</section>
<section><h2>From the README</h2>${r.keyFacts.map((s) => html`<details${s.title.startsWith('KEY RESULTS') || s.title.startsWith('WARNINGS') ? html` open` : ''}><summary>${s.title}</summary>${preBlock(s.body)}</details>`)}</section>
<section id="files"><h2>Files</h2>${fileList(m.identity, r.files)}
<p class="note">Each group's files are linked from its page, each call's file from the call. <a href="${fileUrl(m.identity, '')}">The run directory as a JSON listing.</a></p></section>`;
  return page({ title: m.name, crumbs: [{ label: 'experiments', href: registryUrl() }, { label: m.identity }], self, body, live: m.status === 'running' });
}

/** A group's own files, relative to the run directory. */
export function groupFiles(group: string): string[] {
  const dir = groupDir(group);
  return [`${dir}/per_entity.csv`, `${dir}/predictions.csv`, `${dir}/group_metrics.json`];
}
