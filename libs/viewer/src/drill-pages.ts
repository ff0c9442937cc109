import { entityDir, type CallRecord } from '@assay/report';
import { cell, dataTable, filterForm, page, pager, preBlock } from './components';
import { html, type SafeHtml } from './html';
import { fileList, groupFiles } from './run-page';
import type { TablePage } from './table-query';
import { callUrl, diagnosticsUrl, entityUrl, fileUrl, groupUrl, registryUrl, runUrl, type DiagnosticsKind } from './urls';

/** A row of a summary CSV (groups/_index.csv, per_entity.csv) as column -> cell. */
export type SummaryRecord = Record<string, string>;

export function recordOf(columns: readonly string[], cells: readonly string[]): SummaryRecord {
  return Object.fromEntries(columns.map((c, i) => [c, cells[i]]));
}

const HEADLINE = ['n', 'n_scored', 'normalized_mae', 'parse_failures', 'inference_failures', 'outliers'];

function summaryFacts(s: SummaryRecord, rank: { position: number; of: number; of_what: string }): SafeHtml {
  const baselines = Object.keys(s).filter((k) => k.startsWith('baseline.'));
  return html`<table class="facts">
<tr><th>rank</th><td>${rank.position} of ${rank.of} ${rank.of_what}, worst first</td></tr>
${HEADLINE.filter((k) => k in s).map((k) => html`<tr><th>${k}</th><td>${cell(s[k])}</td></tr>`)}
${baselines.map((k) => html`<tr><th>${k}</th><td>${cell(s[k])}</td></tr>`)}
</table>`;
}

function crumbsTo(identity: string, group?: string, entityId?: string, item?: string): Array<{ label: string; href?: string }> {
  const crumbs: Array<{ label: string; href?: string }> = [{ label: 'experiments', href: registryUrl() }, { label: identity, href: runUrl(identity) }];
  if (group !== undefined) crumbs.push({ label: `group ${group}`, href: groupUrl(identity, group) });
  if (entityId !== undefined) crumbs.push({ label: `entity ${entityId}`, href: entityUrl(identity, group!, entityId) });
  if (item !== undefined) crumbs.push({ label: `item ${item}` });
  crumbs[crumbs.length - 1] = { label: crumbs[crumbs.length - 1].label };
  return crumbs;
}

export interface GroupModel {
  identity: string;
  group: string;
  summary: SummaryRecord;
  rank: { position: number; of: number };
  entities: TablePage;
}

export function renderGroup(m: GroupModel): string {
  const base = groupUrl(m.identity, m.group);
  const body = html`<h1>Group <q>${m.group}</q></h1>
${summaryFacts(m.summary, { ...m.rank, of_what: 'groups' })}
<section><h2>Entities, worst first</h2>
${filterForm(base, m.entities.query)}
${pager(base, m.entities)}
${dataTable(base, m.entities, { rank: true, linkOf: (cells) => entityUrl(m.identity, m.group, cells[0]) })}
</section>
<section><h2>Files</h2>${fileList(m.identity, groupFiles(m.group))}</section>`;
  return page({ title: `group ${m.group}`, crumbs: crumbsTo(m.identity, m.group), self: base, body });
}

export interface EntityModel {
  identity: string;
  group: string;
  entityId: string;
  summary: SummaryRecord;
  rank: { position: number; of: number };
  /** The entity's predictions (the group's predictions.csv rows of this entity), by item. */
  items: TablePage;
}

export function renderEntity(m: EntityModel): string {
  const base = entityUrl(m.identity, m.group, m.entityId);
  const itemAt = m.items.columns.indexOf('item');
  const body = html`<h1>Entity <q>${m.entityId}</q> <small>in group <q>${m.group}</q></small></h1>
${summaryFacts(m.summary, { ...m.rank, of_what: 'entities of the group' })}
<section><h2>Items</h2>
${filterForm(base, m.items.query)}
${pager(base, m.items)}
${dataTable(base, m.items, { linkOf: (cells) => callUrl(m.identity, m.group, m.entityId, cells[itemAt]), hide: ['entity_id', 'group'] })}
<p class="note">Open a call to see its INPUT, OUTPUT and METADATA; there, ← and → (or j and k) step through the entity's items.</p>
</section>
<section><h2>Files</h2>${fileList(m.identity, [`${entityDir(m.group, m.entityId)}/summary.txt`])}</section>`;
  return page({ title: `entity ${m.entityId}`, crumbs: crumbsTo(m.identity, m.group, m.entityId), self: base, body });
}

export interface CallModel extends CallRecord {
  identity: string;
  /** The entity's items in file order: where this one is, and its neighbours. */
  position: number;
  of: number;
  previous: string | null;
  next: string | null;
}

function metadataTable(lines: readonly string[]): SafeHtml {
  return html`<table class="facts meta">${lines.map((line) => {
    const at = line.indexOf(': ');
    return at < 0 ? html`<tr><td colspan="2">${line}</td></tr>` : html`<tr><th>${line.slice(0, at)}</th><td>${line.slice(at + 2)}</td></tr>`;
  })}</table>`;
}

export function renderCall(m: CallModel): string {
  const self = callUrl(m.identity, m.group, m.entityId, m.item);
  const step = (item: string | null, rel: 'prev' | 'next', label: string, key: string) =>
    item === null ? html`<span class="disabled">${label}</span>` : html`<a rel="${rel}" data-key="${key}" href="${callUrl(m.identity, m.group, m.entityId, item)}">${label}</a>`;
  const body = html`<h1>Call: item <q>${m.item}</q> <small>entity <q>${m.entityId}</q>, group <q>${m.group}</q></small></h1>
<nav class="steps">${step(m.previous, 'prev', '← previous item', 'ArrowLeft')} <span>item ${m.position} of ${m.of}</span> ${step(m.next, 'next', 'next item →', 'ArrowRight')} <a href="${entityUrl(m.identity, m.group, m.entityId)}">entity summary</a> <a href="${fileUrl(m.identity, m.file)}">file</a></nav>
${
    // A baseline's prediction made no model call: what it used instead of INPUT and OUTPUT.
    m.fitted === null
      ? html`<section><h2>INPUT</h2>${preBlock(m.input, 'call input')}</section>
<section><h2>OUTPUT</h2>${preBlock(m.output, 'call output')}</section>
<section><h2>METADATA</h2>${metadataTable(m.metadata)}</section>`
      : html`<section><h2>METADATA</h2>${metadataTable(m.metadata)}</section>
<section><h2>WHAT THE METHOD USED</h2>${metadataTable(m.fitted)}</section>`
  }`;
  return page({ title: `${m.entityId} / ${m.item}`, crumbs: crumbsTo(m.identity, m.group, m.entityId, m.item), self, body });
}

/** The neighbours of an item among an entity's items (in file order). */
export function neighbours(items: readonly string[], item: string): { position: number; of: number; previous: string | null; next: string | null } {
  const at = items.indexOf(item);
  return { position: at + 1, of: items.length, previous: at > 0 ? items[at - 1] : null, next: at >= 0 && at < items.length - 1 ? items[at + 1] : null };
}

export interface DiagnosticsModel {
  identity: string;
  kind: DiagnosticsKind;
  /** Null when the run has no such file. */
  table: TablePage | null;
}

const DIAGNOSTICS_TITLES: Record<DiagnosticsKind, string> = {
  'parse-failures': 'Parse and inference failures, with the raw outputs',
  outliers: 'Outliers: predictions outside the item range, furthest first',
  'value-ranges': 'Value ranges per group',
};

export function renderDiagnostics(m: DiagnosticsModel): string {
  const base = diagnosticsUrl(m.identity, m.kind);
  const t = m.table;
  const linkable = t !== null && ['entity_id', 'group', 'item'].every((c) => t.columns.includes(c));
  const link = (cells: string[]) => callUrl(m.identity, cells[t!.columns.indexOf('group')], cells[t!.columns.indexOf('entity_id')], cells[t!.columns.indexOf('item')]);
  const body = html`<h1>${DIAGNOSTICS_TITLES[m.kind]}</h1>
<nav class="tabs">${(Object.keys(DIAGNOSTICS_TITLES) as DiagnosticsKind[]).map((k) => (k === m.kind ? html`<b>${k}</b> ` : html`<a href="${diagnosticsUrl(m.identity, k)}">${k}</a> `))}</nav>
${t === null ? html`<p class="empty">This run has no such file.</p>` : html`${m.kind === 'value-ranges' ? '' : filterForm(base, t.query, m.kind === 'parse-failures' ? ['parse_failure', 'inference_failure'] : ['outlier'])}${pager(base, t)}${dataTable(base, t, linkable ? { linkOf: link } : {})}`}`;
  return page({ title: m.kind, crumbs: [{ label: 'experiments', href: registryUrl() }, { label: m.identity, href: runUrl(m.identity) }, { label: m.kind }], self: base, body });
}

/** diagnostics/value_ranges.json as a table: one row per group, nested numbers as dotted columns (actual.mean, ...). */
export function valueRangesTable(json: unknown): { columns: string[]; rows: string[][] } {
  const flat = (Array.isArray(json) ? json : []).map((entry) => {
    const out: Record<string, string> = {};
    const walk = (value: unknown, key: string) => {
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) for (const [k, v] of Object.entries(value)) walk(v, key === '' ? k : `${key}.${k}`);
      else out[key] = value === null || value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
    };
    walk(entry, '');
    return out;
  });
  const columns = ['group', ...[...new Set(flat.flatMap((r) => Object.keys(r)))].filter((c) => c !== 'group')];
  return { columns, rows: flat.map((r) => columns.map((c) => r[c] ?? '')) };
}
