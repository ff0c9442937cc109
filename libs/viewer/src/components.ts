import { html, type SafeHtml } from './html';
import { STATUS_FILTERS, type TablePage, type TableQuery } from './table-query';
import { assetUrl, jsonTwin, withQuery, type QueryValue } from './urls';

/** The page shell: no inline script or style (the Content-Security-Policy forbids them), assets from the reporter. */
export function page(opts: { title: string; crumbs: Array<{ label: string; href?: string }>; self: string; body: SafeHtml | SafeHtml[]; live?: boolean }): string {
  const crumbs = opts.crumbs.map((c, i) => html`${i > 0 ? html`<span class="sep">/</span>` : ''}${c.href ? html`<a href="${c.href}">${c.label}</a>` : html`<span>${c.label}</span>`}`);
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${opts.title} · assay</title>
<link rel="stylesheet" href="${assetUrl('viewer.css')}">
<link rel="alternate" type="application/json" href="${jsonTwin(opts.self)}">
<script src="${assetUrl('viewer.js')}" defer></script>
</head>
<body${opts.live ? html` data-live="1"` : ''}>
<header><nav class="crumbs">${crumbs}</nav><a class="twin" href="${jsonTwin(opts.self)}">JSON</a></header>
<main>
${opts.body}
</main>
</body>
</html>
`.markup;
}

/** Keeps the other query parameters of a page when one changes (paging keeps the sort and filters). */
export function queryParams(q: TableQuery, change: Partial<TableQuery> = {}): Record<string, QueryValue> {
  const m = { ...q, ...change };
  return { status: m.status, q: m.q, sort: m.sort, desc: m.desc ? 1 : null, size: m.size === 100 ? null : m.size, page: m.page === 1 ? null : m.page };
}

/** Filter form: status (server-side), free text, sort kept. */
export function filterForm(base: string, q: TableQuery, statuses: readonly string[] = STATUS_FILTERS): SafeHtml {
  const option = (value: string, label: string) => html`<option value="${value}"${(q.status ?? '') === value ? html` selected` : ''}>${label}</option>`;
  return html`<form class="filters" method="get" action="${base}">
<label>status <select name="status">${option('', 'any')}${statuses.map((s) => option(s, s.replace(/_/g, ' ')))}</select></label>
<label>text <input type="search" name="q" value="${q.q}"></label>
${q.sort ? html`<input type="hidden" name="sort" value="${q.sort}">` : ''}${q.desc ? html`<input type="hidden" name="desc" value="1">` : ''}
<button type="submit">filter</button>
</form>`;
}

export function pager(base: string, t: TablePage): SafeHtml {
  const link = (p: number, label: string, rel: string) => html`<a rel="${rel}" href="${withQuery(base, queryParams(t.query, { page: p }))}">${label}</a>`;
  return html`<p class="pager">${t.matched === t.total ? html`${t.total} rows` : html`${t.matched} of ${t.total} rows match`}${
    t.pages > 1 ? html` · page ${t.page} of ${t.pages} ${t.page > 1 ? link(t.page - 1, '← previous', 'prev') : ''} ${t.page < t.pages ? link(t.page + 1, 'next →', 'next') : ''}` : ''
  }</p>`;
}

const LONG_DECIMAL = /^-?\d+\.\d{5,}$/;

/** A cell as the file says it; long decimals shortened to 4 places, the full value on hover. */
export function cell(text: string): SafeHtml {
  if (text === '') return html`<span class="na">n/a</span>`;
  if (LONG_DECIMAL.test(text)) return html`<span title="${text}">${Number(text).toFixed(4)}</span>`;
  return html`${text}`;
}

/**
 * A table page with sortable headers (a click sorts on the server; again reverses it). `linkOf`
 * makes the first cell a link (to the group, the entity, the call).
 */
export function dataTable(base: string, t: TablePage, opts: { linkOf?: (cells: string[]) => string; rank?: boolean; hide?: readonly string[] } = {}): SafeHtml {
  const shown = t.columns.map((c, i) => ({ c, i })).filter(({ c }) => !opts.hide?.includes(c));
  const header = shown.map(({ c }) => {
    const active = t.query.sort === c;
    const href = withQuery(base, queryParams(t.query, { sort: c, desc: active ? !t.query.desc : false, page: 1 }));
    return html`<th><a href="${href}"${active ? html` class="sorted ${t.query.desc ? 'desc' : 'asc'}"` : ''}>${c}</a></th>`;
  });
  const body = t.rows.map(
    (r) => html`<tr>${opts.rank ? html`<td class="rank">${r.index + 1}</td>` : ''}${shown.map(({ i }, k) =>
      k === 0 && opts.linkOf ? html`<td class="id"><a href="${opts.linkOf(r.cells)}">${cell(r.cells[i])}</a></td>` : html`<td>${cell(r.cells[i])}</td>`,
    )}</tr>`,
  );
  return html`<div class="scroll"><table class="data">
<thead><tr>${opts.rank ? html`<th title="position in the file: worst first">#</th>` : ''}${header}</tr></thead>
<tbody>${body}</tbody>
</table></div>${t.rows.length === 0 ? html`<p class="empty">No rows match.</p>` : ''}`;
}

export function badge(status: string): SafeHtml {
  return html`<span class="badge ${status.toLowerCase().replace(/[^a-z_]/g, '')}">${status}</span>`;
}

export function preBlock(text: string, cls = ''): SafeHtml {
  return html`<pre class="${cls}">${text}</pre>`;
}

/** An error as a page: what was asked for and why it cannot be shown. */
export function renderError(status: number, message: string): string {
  return page({ title: String(status), crumbs: [{ label: 'experiments', href: '/experiments' }, { label: `error ${status}` }], self: '/experiments', body: html`<h1>${status}</h1><p class="failure">${message}</p>` });
}
