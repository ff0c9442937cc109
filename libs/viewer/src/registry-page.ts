import { compareCodeUnits } from '@assay/contracts';
import type { RegistryEntry, RegistryStatus } from '@assay/experiments';
import { badge, page } from './components';
import { html, type SafeHtml } from './html';
import { MAX_PAGE_SIZE, positiveInt, QueryError, single } from './table-query';
import { comparisonUrl, registryUrl, runUrl, type QueryValue } from './urls';

/** Live progress of a running attempt, as the reporter folds the progress messages (see LIVE_PATH). */
export interface LiveProgress {
  identity: string;
  attempt: number;
  phase: 'smoke' | 'full' | 'summary';
  stage: 'inference' | 'evaluation' | 'report';
  done: number;
  total: number | null;
  parseFailures: number;
  inferenceFailures: number;
  /** The CLI's progress line: done/total, rate, elapsed, ETA, failures. */
  line: string;
}

export interface PrimaryMetric {
  name: string;
  value: number | null;
  /** A confidence interval when the summary has one. */
  ci: { low: number; high: number } | null;
}

export interface RegistryRow {
  identity: string;
  name: string;
  method: string;
  status: RegistryStatus;
  attempt: number;
  startedAt: string;
  finishedAt: string | null;
  failure: RegistryEntry['failure'];
  cancellation: RegistryEntry['cancellation'];
  primary: PrimaryMetric;
  progress: LiveProgress | null;
}

export interface RegistryFilters {
  method: string;
  status: string;
  q: string;
  /** 1-based; past the last page shows the last. */
  page: number;
  size: number;
}

export interface RegistryModel {
  /** One page of the matching rows. */
  rows: RegistryRow[];
  /** Experiments in the registry, and those matching the filters. */
  total: number;
  matched: number;
  page: number;
  pages: number;
  filters: RegistryFilters;
  methods: string[];
  statuses: string[];
}

export const REGISTRY_PAGE_SIZE = 50;

export const PRIMARY_METRIC = 'normalized_mae';
export const REGISTRY_STATUSES: readonly RegistryStatus[] = ['running', 'completed', 'smoke_passed', 'failed', 'skipped', 'cancelled'];

/** The primary metric of a summary, with its interval when the summary carries `<metric>.ci_low`/`.ci_high` (or `_ci_low`/`_ci_high`). */
export function primaryMetric(summary: Record<string, number | string | null>): PrimaryMetric {
  const num = (key: string) => (typeof summary[key] === 'number' ? (summary[key] as number) : null);
  const low = num(`${PRIMARY_METRIC}.ci_low`) ?? num(`${PRIMARY_METRIC}_ci_low`);
  const high = num(`${PRIMARY_METRIC}.ci_high`) ?? num(`${PRIMARY_METRIC}_ci_high`);
  return { name: PRIMARY_METRIC, value: num(PRIMARY_METRIC), ci: low !== null && high !== null ? { low, high } : null };
}

export function parseRegistryFilters(query: Record<string, unknown>): RegistryFilters {
  const text = (key: string) => single(query, key) ?? '';
  const status = text('status');
  if (status !== '' && !(REGISTRY_STATUSES as readonly string[]).includes(status)) {
    throw new QueryError(`query parameter 'status' must be one of ${REGISTRY_STATUSES.join(', ')}, got ${JSON.stringify(status)}`);
  }
  return {
    method: text('method'),
    status,
    q: text('q'),
    page: positiveInt(single(query, 'page'), 'page', 1),
    size: positiveInt(single(query, 'size'), 'size', REGISTRY_PAGE_SIZE, MAX_PAGE_SIZE),
  };
}

/** The registry's query parameters with one changed: paging keeps the filters, defaults are left out (stable URLs). */
export function registryParams(f: RegistryFilters, change: Partial<RegistryFilters> = {}): Record<string, QueryValue> {
  const m = { ...f, ...change };
  return { method: m.method, status: m.status, q: m.q, size: m.size === REGISTRY_PAGE_SIZE ? null : m.size, page: m.page === 1 ? null : m.page };
}

/** Newest first (start time, then identity), filtered by method, status and text (identity, name, method, failure). */
export function registryModel(entries: readonly RegistryEntry[], filters: RegistryFilters, progress: ReadonlyMap<string, LiveProgress>): RegistryModel {
  const needle = filters.q.toLowerCase();
  const matching = entries
    .filter((e) => (filters.method === '' || e.method === filters.method) && (filters.status === '' || e.status === filters.status))
    .filter((e) => needle === '' || [e.identity, e.name, e.method, e.failure?.error ?? '', e.failure?.stage ?? ''].some((t) => t.toLowerCase().includes(needle)))
    .sort((a, b) => compareCodeUnits(b.startedAt, a.startedAt) || compareCodeUnits(a.identity, b.identity));
  const pages = Math.max(1, Math.ceil(matching.length / filters.size));
  const page = Math.min(filters.page, pages);
  const rows = matching.slice((page - 1) * filters.size, page * filters.size).map(
    (e): RegistryRow => ({
      identity: e.identity,
      name: e.name,
      method: e.method,
      status: e.status,
      attempt: e.attempt,
      startedAt: e.startedAt,
      finishedAt: e.finishedAt,
      failure: e.failure,
      cancellation: e.cancellation,
      primary: primaryMetric(e.summary),
      progress: e.status === 'running' ? (progress.get(e.identity) ?? null) : null,
    }),
  );
  return {
    rows,
    total: entries.length,
    matched: matching.length,
    page,
    pages,
    filters: { ...filters, page },
    methods: [...new Set(entries.map((e) => e.method))].sort(compareCodeUnits),
    statuses: [...REGISTRY_STATUSES],
  };
}

export function metricText(p: PrimaryMetric): SafeHtml {
  if (p.value === null) return html`<span class="na">n/a</span>`;
  return html`<span title="${p.name}, lower is better">${p.value.toFixed(4)}</span>${p.ci ? html` <span class="ci">[${p.ci.low.toFixed(4)}, ${p.ci.high.toFixed(4)}]</span>` : ''}`;
}

/** The live cell of a running attempt: viewer.js replaces its text from the server-sent events. */
export function progressCell(identity: string, p: LiveProgress | null): SafeHtml {
  const done = p?.done ?? 0;
  const total = p?.total ?? 0;
  return html`<div class="live" data-identity="${identity}"><progress max="${total || 1}" value="${done}"></progress> <span class="line">${p?.line ?? 'waiting for progress…'}</span></div>`;
}

export function statusCell(r: Pick<RegistryRow, 'status' | 'failure' | 'cancellation' | 'attempt' | 'identity' | 'progress'>): SafeHtml {
  const failure = r.status === 'failed' && r.failure ? html`<div class="failure">at <b>${r.failure.stage}</b>: ${r.failure.error}</div>` : '';
  const earlier = r.status !== 'failed' && r.failure ? html`<div class="note">attempt ${r.failure.attempt} failed at ${r.failure.stage}</div>` : '';
  const cancelled = r.status === 'cancelled' && r.cancellation ? html`<div class="failure">${r.cancellation.kind}: ${r.cancellation.reason} (by ${r.cancellation.by})</div>` : '';
  return html`${badge(r.status)}${failure}${cancelled}${earlier}${r.status === 'running' ? progressCell(r.identity, r.progress) : ''}`;
}

/** Links to the previous and next page of the registry, the filters kept. */
function registryPager(m: RegistryModel): SafeHtml {
  const link = (p: number, label: string, rel: string) => html`<a rel="${rel}" href="${registryUrl(registryParams(m.filters, { page: p }))}">${label}</a>`;
  const counts = m.matched === m.total ? html`${m.total} experiments` : html`${m.matched} of ${m.total} experiments match`;
  const paging = m.pages > 1 ? html` · page ${m.page} of ${m.pages} ${m.page > 1 ? link(m.page - 1, '← previous', 'prev') : ''} ${m.page < m.pages ? link(m.page + 1, 'next →', 'next') : ''}` : '';
  return html`<p class="pager">${counts}, newest first${paging}</p>`;
}

export const COMPARE_FORM_ID = 'compare';

export function renderRegistry(m: RegistryModel): string {
  const self = registryUrl(registryParams(m.filters));
  const option = (value: string, selected: string, label = value) => html`<option value="${value}"${value === selected ? html` selected` : ''}>${label}</option>`;
  // Only completed runs can be compared: the others have no tick box.
  const tick = (r: RegistryRow) =>
    r.status === 'completed' ? html`<input type="checkbox" name="run" value="${r.identity}" form="${COMPARE_FORM_ID}" aria-label="compare ${r.identity}">` : '';
  const rows = m.rows.map(
    (r) => html`<tr data-status="${r.status}">
<td class="tick">${tick(r)}</td>
<td class="id"><a href="${runUrl(r.identity)}">${r.identity}</a></td>
<td>${r.name}</td><td>${r.method}</td>
<td class="status">${statusCell(r)}</td>
<td class="num">${metricText(r.primary)}</td>
<td>${r.startedAt}</td><td>${r.finishedAt ?? html`<span class="na">—</span>`}</td>
</tr>`,
  );
  const body = html`<h1>Experiments</h1>
<form class="filters" method="get" action="${registryUrl()}">
<label>method <select name="method">${option('', m.filters.method, 'any')}${m.methods.map((x) => option(x, m.filters.method))}</select></label>
<label>status <select name="status">${option('', m.filters.status, 'any')}${m.statuses.map((x) => option(x, m.filters.status))}</select></label>
<label>text <input type="search" name="q" value="${m.filters.q}"></label>
${m.filters.size === REGISTRY_PAGE_SIZE ? '' : html`<input type="hidden" name="size" value="${m.filters.size}">`}
<button type="submit">filter</button>
</form>
<form class="filters compare" id="${COMPARE_FORM_ID}" method="get" action="${comparisonUrl([])}">
<button type="submit">compare ticked runs</button>
<label><input type="checkbox" name="unpaired" value="1"> allow unpaired (runs on other data or splits)</label>
</form>
${registryPager(m)}
<div class="scroll"><table class="data registry">
<thead><tr><th title="tick two or more completed runs to compare them">compare</th><th>identity</th><th>name</th><th>method</th><th>status</th><th>${PRIMARY_METRIC} (CI)</th><th>started</th><th>finished</th></tr></thead>
<tbody>${rows}</tbody>
</table></div>
${m.rows.length === 0 ? html`<p class="empty">No experiment matches.</p>` : ''}`;
  return page({ title: 'Experiments', crumbs: [{ label: 'experiments' }], self, body, live: m.rows.some((r) => r.status === 'running') });
}
