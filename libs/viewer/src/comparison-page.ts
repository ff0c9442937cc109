import type { Comparison, ConfigDifference, EntityDelta, GroupDelta, ItemDelta, PairResult } from '@assay/comparison';
import { page } from './components';
import { html, type SafeHtml } from './html';
import { QueryError, single } from './table-query';
import { comparisonUrl, groupUrl, registryUrl, runUrl } from './urls';

/**
 * Two or more completed runs side by side: the ranking with each run's interval, the paired
 * differences of every pair with their intervals and p-values, and the deltas by group, item and
 * entity worst first. The numbers are libs/comparison's compareRuns, as `assay compare` writes
 * them; this only chooses what one page shows.
 */

/** Pairs grow with the square of the runs, and each pair is bootstrapped: a page compares a handful. */
export const MAX_COMPARED_RUNS = 8;
/** Item and entity deltas: the worst of each table (the JSON twin has the same rows). */
export const COMPARISON_TOP_ROWS = 100;

export interface ComparisonQuery {
  /** Identities in the order given: the first is the baseline of every pair it is in. */
  runs: string[];
  unpaired: boolean;
}

/** Reads ?run=<identity>&run=<identity>[&unpaired=1]; a clear QueryError for anything else. */
export function parseComparisonQuery(query: Record<string, unknown>): ComparisonQuery {
  const raw = query.run;
  const runs = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  for (const r of runs) if (typeof r !== 'string' || r === '') throw new QueryError(`query parameter 'run' must be an identity, got ${JSON.stringify(r)}`);
  const identities = runs as string[];
  if (identities.length < 2) {
    throw new QueryError(
      `a comparison needs at least two runs (?run=<identity>&run=<identity>), got ${identities.length}${identities.length === 1 ? ` (${identities[0]})` : ''}: tick two or more completed runs on the registry`,
    );
  }
  if (identities.length > MAX_COMPARED_RUNS) throw new QueryError(`a comparison page compares at most ${MAX_COMPARED_RUNS} runs, got ${identities.length}`);
  const unpaired = single(query, 'unpaired');
  if (unpaired !== undefined && unpaired !== '' && unpaired !== '0' && unpaired !== '1') throw new QueryError(`query parameter 'unpaired' must be 0 or 1, got ${JSON.stringify(unpaired)}`);
  return { runs: identities, unpaired: unpaired === '1' };
}

export interface ComparedRunRow {
  rank: number;
  identity: string;
  /** The registry's name of the run ('' when the registry has none). */
  name: string;
  method: string;
  value: number | null;
  ci: { low: number; high: number } | null;
  n: number;
  nScored: number;
  parseFailures: number;
  inferenceFailures: number;
}

export interface TopRows<T> {
  rows: T[];
  /** Rows in the comparison; `rows` holds the worst `COMPARISON_TOP_ROWS` of them. */
  total: number;
}

export interface ComparisonModel {
  query: ComparisonQuery;
  key: string;
  paired: boolean;
  unpairedReason: string | null;
  primaryMetric: string;
  resamples: number;
  sharedEntities: number;
  items: number;
  /** Best first on the primary metric. */
  runs: ComparedRunRow[];
  /** Worst first: the pair whose candidate loses most leads. */
  pairs: PairResult[];
  byGroup: GroupDelta[];
  byItem: TopRows<ItemDelta>;
  byEntity: TopRows<EntityDelta>;
  configDiff: ConfigDifference[];
}

/** Larger delta first (the candidate loses most), null deltas last; stable otherwise. */
function worstFirst(a: number | null, b: number | null): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? 1 : -1;
  return b - a;
}

function top<T>(rows: readonly T[]): TopRows<T> {
  return { rows: rows.slice(0, COMPARISON_TOP_ROWS), total: rows.length };
}

export function comparisonModel(c: Comparison, query: ComparisonQuery, names: ReadonlyMap<string, string>): ComparisonModel {
  return {
    query,
    key: c.key,
    paired: c.paired,
    unpairedReason: c.unpairedReason,
    primaryMetric: c.primaryMetric,
    resamples: c.bootstrap.resamples,
    sharedEntities: c.sharedEntities,
    items: c.items,
    runs: c.ranking.map((r) => {
      const ci = r.scores.overall.metrics[c.primaryMetric]?.ci ?? null;
      return {
        rank: r.rank,
        identity: r.identity,
        name: names.get(r.identity) ?? '',
        method: r.method,
        value: r.scores.overall.primary.value,
        ci: ci ? { low: ci.low, high: ci.high } : null,
        n: r.scores.overall.n,
        nScored: r.scores.overall.nScored,
        parseFailures: r.scores.overall.parseFailures,
        inferenceFailures: r.scores.overall.inferenceFailures,
      };
    }),
    pairs: [...c.pairs].sort((a, b) => worstFirst(a.delta, b.delta)),
    // compareRuns sorts these worst first already.
    byGroup: c.byGroup,
    byItem: top(c.byItem),
    byEntity: top(c.byEntity),
    configDiff: c.configDiff,
  };
}

const fixed = (v: number | null, signed = false): SafeHtml => (v === null ? html`<span class="na">n/a</span>` : html`${signed && v >= 0 ? '+' : ''}${v.toFixed(4)}`);

function ciText(ci: { low: number; high: number } | null): SafeHtml {
  return ci ? html`<span class="ci">[${ci.low.toFixed(4)}, ${ci.high.toFixed(4)}]</span>` : html`<span class="na">no interval</span>`;
}

function pText(p: number | null): SafeHtml {
  return p === null ? html`<span class="na">n/a</span>` : html`${p < 0.0001 ? '<0.0001' : p.toFixed(4)}`;
}

/**
 * A delta and its interval drawn beside the numbers: zero is the middle line, a candidate worse
 * than its baseline (positive delta) lies right of it. Attributes only (the page's policy forbids
 * inline styles), scaled to the largest |bound| of the table.
 */
function deltaBar(delta: number | null, ci: { low: number; high: number } | null, scale: number): SafeHtml {
  if (delta === null || scale <= 0) return html``;
  const width = 120;
  const x = (v: number) => (width / 2 + (Math.max(-scale, Math.min(scale, v)) / scale) * (width / 2 - 4)).toFixed(1);
  const side = delta > 0 ? 'worse' : 'better';
  return html`<svg class="delta ${side}" width="${width}" height="12" viewBox="0 0 ${width} 12" role="img" aria-label="delta ${delta.toFixed(4)}"><line class="zero" x1="${width / 2}" x2="${width / 2}" y1="0" y2="12"></line>${
    ci ? html`<line class="ci" x1="${x(ci.low)}" x2="${x(ci.high)}" y1="6" y2="6"></line>` : ''
  }<circle cx="${x(delta)}" cy="6" r="3"></circle></svg>`;
}

function scaleOf(rows: ReadonlyArray<{ delta: number | null; ci?: { low: number; high: number } | null }>): number {
  let max = 0;
  for (const r of rows) for (const v of [r.delta, r.ci?.low ?? null, r.ci?.high ?? null]) if (v !== null && Number.isFinite(v)) max = Math.max(max, Math.abs(v));
  return max;
}

function shownCount(t: TopRows<unknown>, what: string): SafeHtml {
  return html`<p class="pager">${t.rows.length === t.total ? html`${t.total} ${what}` : html`the ${t.rows.length} worst of ${t.total} ${what}`}, worst first (largest delta: the candidate loses most)</p>`;
}

export function renderComparison(m: ComparisonModel): string {
  const self = comparisonUrl(m.query.runs, { unpaired: m.query.unpaired });
  const runLink = (identity: string) => html`<a href="${runUrl(identity)}">${identity}</a>`;
  const pairScale = scaleOf(m.pairs);
  const groupScale = scaleOf(m.byGroup);
  const runs = m.runs.map(
    (r) => html`<tr><td class="rank">${r.rank}</td><td class="id">${runLink(r.identity)}</td><td>${r.name}</td><td>${r.method}</td>
<td class="num">${fixed(r.value)} ${ciText(r.ci)}</td><td class="num">${r.nScored} / ${r.n}</td><td class="num">${r.parseFailures}</td><td class="num">${r.inferenceFailures}</td></tr>`,
  );
  const pairs = m.pairs.map(
    (p) => html`<tr><td class="id">${runLink(p.baseline)}</td><td class="id">${runLink(p.candidate)}</td>
<td class="num">${fixed(p.delta, true)} ${ciText(p.ci)}</td><td>${deltaBar(p.delta, p.ci, pairScale)}</td><td class="num">${pText(p.p)}</td><td class="num">${pText(p.pHolm)}</td></tr>`,
  );
  const groups = m.byGroup.map(
    (g) => html`<tr><td class="id"><a href="${groupUrl(g.candidate, g.group)}">${g.group}</a></td><td>${g.baseline}</td><td>${g.candidate}</td>
<td class="num">${fixed(g.baselineValue)}</td><td class="num">${fixed(g.candidateValue)}</td><td class="num">${fixed(g.delta, true)} ${ciText(g.ci)}</td><td>${deltaBar(g.delta, g.ci, groupScale)}</td><td class="num">${pText(g.p)}</td></tr>`,
  );
  const items = m.byItem.rows.map(
    (i) => html`<tr><td>${i.group}</td><td class="id">${i.item}</td><td>${i.baseline}</td><td>${i.candidate}</td>
<td class="num">${fixed(i.baselineValue)}</td><td class="num">${fixed(i.candidateValue)}</td><td class="num">${fixed(i.delta, true)}</td><td class="num">${fixed(i.baselineWasserstein)}</td><td class="num">${fixed(i.candidateWasserstein)}</td></tr>`,
  );
  const entities = m.byEntity.rows.map(
    (e) => html`<tr><td class="id">${e.entityId}</td><td>${e.baseline}</td><td>${e.candidate}</td><td class="num">${fixed(e.baselineValue)}</td><td class="num">${fixed(e.candidateValue)}</td><td class="num">${fixed(e.delta, true)}</td></tr>`,
  );
  const diff = m.configDiff.map((d) => html`<tr><th>${d.key}</th>${d.values.map((v) => html`<td>${v ?? html`<span class="na">absent</span>`}</td>`)}</tr>`);
  const table = (head: SafeHtml, rows: SafeHtml[]) =>
    html`<div class="scroll"><table class="data"><thead><tr>${head}</tr></thead><tbody>${rows}</tbody></table></div>${rows.length === 0 ? html`<p class="empty">No rows.</p>` : ''}`;
  const body = html`<h1>Comparison of ${m.runs.length} runs <small>${m.key}</small></h1>
${m.paired ? html`<p class="paired">Paired: same data and split; ${m.sharedEntities} test entities, ${m.items} items; ${m.resamples} bootstrap resamples drawn once for every run.</p>` : html`<p class="failure unpaired">NOT PAIRED: ${m.unpairedReason}. Differences are unpaired (each run resampled on its own); ${m.sharedEntities} entities in common.</p>`}
<section id="ranking"><h2>Ranking on ${m.primaryMetric} (lower is better), 95% CI</h2>
${table(html`<th>#</th><th>identity</th><th>name</th><th>method</th><th>${m.primaryMetric} (CI)</th><th>scored / n</th><th>parse failures</th><th>inference failures</th>`, runs)}
</section>
<section id="pairs"><h2>Paired differences, worst first</h2>
<p class="note">delta = candidate − baseline on ${m.primaryMetric}: positive means the candidate is worse. p is two-sided; Holm-adjusted across the ${m.pairs.length} pairs.</p>
${table(html`<th>baseline</th><th>candidate</th><th>delta (CI)</th><th></th><th>p</th><th>p (Holm)</th>`, pairs)}
</section>
<section id="by-group"><h2>By group, worst first</h2>
${table(html`<th>group</th><th>baseline run</th><th>candidate run</th><th>baseline value</th><th>candidate value</th><th>delta (CI)</th><th></th><th>p</th>`, groups)}
</section>
<section id="by-item"><h2>By item</h2>${shownCount(m.byItem, 'item deltas')}
${table(html`<th>group</th><th>item</th><th>baseline run</th><th>candidate run</th><th>baseline value</th><th>candidate value</th><th>delta</th><th>baseline wasserstein</th><th>candidate wasserstein</th>`, items)}
</section>
<section id="by-entity"><h2>By entity</h2>${shownCount(m.byEntity, 'entity deltas')}
${table(html`<th>entity</th><th>baseline run</th><th>candidate run</th><th>baseline value</th><th>candidate value</th><th>delta</th>`, entities)}
</section>
<section id="config"><h2>Config differences</h2>
${m.configDiff.length === 0 ? html`<p class="empty">The resolved configs are the same.</p>` : html`<div class="scroll"><table class="data"><thead><tr><th>key</th>${m.query.runs.map((id) => html`<th>${id}</th>`)}</tr></thead><tbody>${diff}</tbody></table></div>`}
</section>`;
  return page({ title: `comparison ${m.key}`, crumbs: [{ label: 'experiments', href: registryUrl() }, { label: `comparison of ${m.query.runs.join(', ')}` }], self, body });
}
