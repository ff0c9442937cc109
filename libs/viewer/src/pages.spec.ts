import type { RegistryEntry } from '@assay/experiments';
import { neighbours, recordOf, renderCall, renderDiagnostics, renderEntity, renderGroup, valueRangesTable } from './drill-pages';
import { renderError } from './components';
import { parseRegistryFilters, primaryMetric, REGISTRY_PAGE_SIZE, registryModel, renderRegistry, type LiveProgress } from './registry-page';
import { renderRun, type RunModel } from './run-page';
import { parseTableQuery, queryTable } from './table-query';
import { callUrl, entityUrl, groupUrl, jsonTwin } from './urls';

const SCRIPT = '<script>window.__pwned = 1</script>';
const GROUP = `g${SCRIPT}/..`;
const ENTITY = '=HYPERLINK("http://evil","click")';
const ITEM = '../../etc/passwd';

/** Every script element of a page: only the viewer's own, by src. */
function scripts(page: string): string[] {
  return page.match(/<script[^>]*>/g) ?? [];
}

/** Every href: same-site paths made of URL-safe characters, no markup, no javascript: scheme. */
function hrefs(page: string): string[] {
  return [...page.matchAll(/href="([^"]*)"/g)].map((m) => m[1]);
}

function expectInert(page: string): void {
  expect(scripts(page)).toEqual(['<script src="/viewer/assets/viewer.js" defer>']);
  expect(page).not.toContain(SCRIPT);
  for (const href of hrefs(page)) expect(href).toMatch(/^(\/[A-Za-z0-9._~\-/%?=&;]*|#[a-z]+)$/);
}

const entry = (over: Partial<RegistryEntry>): RegistryEntry => ({
  identity: '1a2b3c4d_abc',
  method: 'llm_zero_shot',
  name: `name ${SCRIPT}`,
  status: 'completed',
  attempt: 1,
  runDir: '/runs/x',
  codeVersion: 'abc',
  startedAt: '2026-01-01T00:00:00.000Z',
  finishedAt: '2026-01-01T00:10:00.000Z',
  reevaluatedAt: null,
  summary: { normalized_mae: 0.25 },
  failure: null,
  cancellation: null,
  skippedRequests: 0,
  dataHashes: {},
  ...over,
});

describe('registry page', () => {
  const entries = [
    entry({}),
    entry({ identity: '22222222_abc', startedAt: '2026-01-02T00:00:00.000Z', status: 'failed', failure: { attempt: 1, stage: 'inference', error: `boom ${SCRIPT}` }, summary: {} }),
    entry({ identity: '33333333_abc', startedAt: '2026-01-03T00:00:00.000Z', status: 'running', method: 'baseline_knn', finishedAt: null, summary: {} }),
  ];
  const live: LiveProgress = { identity: '33333333_abc', attempt: 1, phase: 'full', stage: 'inference', done: 5, total: 10, parseFailures: 1, inferenceFailures: 0, line: '[full] 5/10 (50.0%)' };

  it('given experiments, then newest first with status, failure stage and message, metric, and live progress of the running one', () => {
    const model = registryModel(entries, parseRegistryFilters({}), new Map([[live.identity, live]]));
    expect(model.rows.map((r) => r.identity)).toEqual(['33333333_abc', '22222222_abc', '1a2b3c4d_abc']);
    const page = renderRegistry(model);
    expectInert(page);
    expect(page).toContain('at <b>inference</b>: boom &lt;script&gt;');
    expect(page).toContain('<td class="num"><span title="normalized_mae, lower is better">0.2500</span></td>');
    expect(page).toContain('data-identity="33333333_abc"><progress max="10" value="5"></progress> <span class="line">[full] 5/10 (50.0%)</span>');
    expect(page).toContain('<body data-live="1">');
  });

  it('given filters, then only matching rows; a bad status is refused', () => {
    expect(registryModel(entries, parseRegistryFilters({ method: 'baseline_knn' }), new Map()).rows.map((r) => r.identity)).toEqual(['33333333_abc']);
    expect(registryModel(entries, parseRegistryFilters({ q: 'BOOM' }), new Map()).rows.map((r) => r.identity)).toEqual(['22222222_abc']);
    expect(registryModel(entries, parseRegistryFilters({ status: 'completed' }), new Map()).rows).toHaveLength(1);
    expect(() => parseRegistryFilters({ status: 'done' })).toThrow(/'status' must be one of running, completed/);
  });

  it('given a summary with an interval, then the metric shows it', () => {
    expect(primaryMetric({ normalized_mae: 0.3, 'normalized_mae.ci_low': 0.25, 'normalized_mae.ci_high': 0.35 })).toEqual({ name: 'normalized_mae', value: 0.3, ci: { low: 0.25, high: 0.35 } });
    expect(primaryMetric({})).toEqual({ name: 'normalized_mae', value: null, ci: null });
  });
});

describe('registry paging', () => {
  // 120 runs, one a minute: run-119 is the newest; every third is a baseline.
  const many = Array.from({ length: 120 }, (_, i) =>
    entry({ identity: `${String(i).padStart(8, '0')}_abc`, name: `run-${i}`, method: i % 3 === 0 ? 'baseline_knn' : 'llm_zero_shot', startedAt: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString() }),
  );
  const names = (m: ReturnType<typeof registryModel>) => m.rows.map((r) => r.name);

  it('given more runs than a page, then 50 newest first, and links to the next page', () => {
    const model = registryModel(many, parseRegistryFilters({}), new Map());
    expect(REGISTRY_PAGE_SIZE).toBe(50);
    expect(model).toMatchObject({ total: 120, matched: 120, page: 1, pages: 3 });
    expect(names(model)).toHaveLength(50);
    expect(names(model)[0]).toBe('run-119');
    const page = renderRegistry(model);
    expect(page).toContain('120 experiments, newest first · page 1 of 3');
    expect(page).toContain('<a rel="next" href="/experiments?page=2">next →</a>');
    expect(page).not.toContain('rel="prev"');
  });

  it('given a page and a size, then that slice; the last page is short and links back', () => {
    const model = registryModel(many, parseRegistryFilters({ page: '3', size: '50' }), new Map());
    expect(names(model)).toEqual(Array.from({ length: 20 }, (_, i) => `run-${19 - i}`));
    expect(renderRegistry(model)).toContain('<a rel="prev" href="/experiments?page=2">← previous</a>');
    expect(names(registryModel(many, parseRegistryFilters({ size: '500' }), new Map()))).toHaveLength(120);
    // Past the last page: the last page, said so in the model.
    expect(registryModel(many, parseRegistryFilters({ page: '9' }), new Map())).toMatchObject({ page: 3, filters: { page: 3 } });
  });

  it('given filters, then paging counts and links keep them', () => {
    const model = registryModel(many, parseRegistryFilters({ method: 'baseline_knn', q: 'run', size: '10', page: '2' }), new Map());
    expect(model).toMatchObject({ total: 120, matched: 40, page: 2, pages: 4 });
    expect(names(model)[0]).toBe('run-87');
    const page = renderRegistry(model);
    expect(page).toContain('40 of 120 experiments match, newest first · page 2 of 4');
    expect(page).toContain('<a rel="prev" href="/experiments?method=baseline_knn&amp;q=run&amp;size=10">');
    expect(page).toContain('<a rel="next" href="/experiments?method=baseline_knn&amp;q=run&amp;size=10&amp;page=3">');
    // The filter form keeps the size; the JSON twin is the same query.
    expect(page).toContain('<input type="hidden" name="size" value="10">');
    expect(page).toContain('href="/experiments.json?method=baseline_knn&amp;q=run&amp;size=10&amp;page=2"');
  });

  it('given a bad page or size, then a clear error naming the parameter, its range and the value', () => {
    expect(() => parseRegistryFilters({ size: '501' })).toThrow(`query parameter 'size' must be a whole number from 1 to 500, got "501"`);
    expect(() => parseRegistryFilters({ size: '0' })).toThrow(/'size' must be a whole number from 1 to 500/);
    expect(() => parseRegistryFilters({ page: 'two' })).toThrow(`query parameter 'page' must be a whole number from 1 to ${Number.MAX_SAFE_INTEGER}, got "two"`);
    expect(() => parseRegistryFilters({ page: ['1', '2'] })).toThrow(/'page' must be given once/);
  });

  it('given completed and other runs, then only completed ones can be ticked for a comparison', () => {
    const page = renderRegistry(registryModel([entry({}), entry({ identity: '22222222_abc', status: 'failed' })], parseRegistryFilters({}), new Map()));
    expect(page).toContain('<input type="checkbox" name="run" value="1a2b3c4d_abc" form="compare"');
    expect(page).not.toContain('value="22222222_abc"');
    expect(page).toContain('<form class="filters compare" id="compare" method="get" action="/comparisons">');
  });
});

describe('drill-down pages with hostile ids', () => {
  const groups = { columns: ['group', 'n', 'normalized_mae', 'parse_failures', 'inference_failures', 'outliers'], rows: [[GROUP, '4', '0.512345678', '1', '0', '0']] };
  const entities = { columns: ['entity_id', 'n', 'normalized_mae', 'parse_failures', 'inference_failures', 'outliers'], rows: [[ENTITY, '2', '0.7', '1', '0', '0'], ['plain', '2', '0.1', '0', '0', '0']] };
  const predictions = {
    columns: ['entity_id', 'group', 'item', 'actual', 'predicted', 'parse_status', 'outlier'],
    rows: [
      [ENTITY, GROUP, ITEM, '1', '', 'parse_failure', 'false'],
      [ENTITY, GROUP, SCRIPT, '1', '1', 'ok', 'false'],
    ],
  };

  it('given ids with markup, separators and formulas, then URLs use the path-segment encoding and text is inert', () => {
    expect(groupUrl('1a2b3c4d_abc', GROUP)).toMatch(/^\/experiments\/1a2b3c4d_abc\/groups\/[a-z0-9_~-]+$/);
    expect(callUrl('1a2b3c4d_abc', GROUP, ENTITY, ITEM)).toMatch(/^\/experiments\/1a2b3c4d_abc\/groups\/[a-z0-9_~-]+\/entities\/[a-z0-9_~-]+\/items\/[a-z0-9_~-]+$/);
    expect(jsonTwin(`${entityUrl('i', 'g', 'e')}?page=2`)).toBe('/experiments/i/groups/g/entities/e.json?page=2');

    const group = renderGroup({ identity: '1a2b3c4d_abc', group: GROUP, summary: recordOf(groups.columns, groups.rows[0]), rank: { position: 1, of: 1 }, entities: queryTable(entities, parseTableQuery({})) });
    expectInert(group);
    expect(group).toContain(`<a href="${entityUrl('1a2b3c4d_abc', GROUP, ENTITY)}">=HYPERLINK(&quot;http://evil&quot;,&quot;click&quot;)</a>`);
    expect(group).toContain('<span title="0.512345678">0.5123</span>');

    const entity = renderEntity({ identity: '1a2b3c4d_abc', group: GROUP, entityId: ENTITY, summary: recordOf(entities.columns, entities.rows[0]), rank: { position: 1, of: 2 }, items: queryTable(predictions, parseTableQuery({ status: 'parse_failure' }), (c) => c[0] === ENTITY) });
    expectInert(entity);
    expect(entity).toContain(callUrl('1a2b3c4d_abc', GROUP, ENTITY, ITEM));
    expect(entity).not.toContain(callUrl('1a2b3c4d_abc', GROUP, ENTITY, SCRIPT));
    expect(entity).toContain('1 of 2 rows match');
  });

  it('given a baseline prediction, then METADATA and what the method used as text, and no INPUT or OUTPUT', () => {
    const call = renderCall({
      identity: '1a2b3c4d_abc',
      group: GROUP,
      entityId: ENTITY,
      item: ITEM,
      input: '',
      output: '',
      metadata: ['method: baseline_knn (fitted on the train split, no model call)', `entity_id: ${ENTITY}`],
      fitted: ['k: 2', `neighbours: ["${SCRIPT}","e2"]`, 'neighbourAnswers: [3,4]'],
      file: 'groups/x/entities/y/z.txt',
      ...neighbours([ITEM], ITEM),
    });
    expect(call).toContain('<h2>WHAT THE METHOD USED</h2>');
    expect(call).not.toContain('<h2>INPUT</h2>');
    expect(call).not.toContain('<h2>OUTPUT</h2>');
    expect(call).toContain('<th>neighbourAnswers</th><td>[3,4]</td>');
    expect(call).not.toContain(SCRIPT);
  });

  it('given a call, then INPUT, OUTPUT and METADATA as text, and keyed links to the neighbouring items', () => {
    const call = renderCall({
      identity: '1a2b3c4d_abc',
      group: GROUP,
      entityId: ENTITY,
      item: ITEM,
      input: `prompt ${SCRIPT}`,
      output: `</pre>${SCRIPT}`,
      metadata: [`entity_id: ${ENTITY}`, 'parse_status: parse_failure (no number)'],
      fitted: null,
      file: 'groups/x/entities/y/z.txt',
      ...neighbours([SCRIPT, ITEM, 'q3'], ITEM),
    });
    expectInert(call);
    expect(call).toContain('<pre class="call output">&lt;/pre&gt;&lt;script&gt;');
    expect(call).toContain('<tr><th>entity_id</th><td>=HYPERLINK(&quot;http://evil&quot;,&quot;click&quot;)</td></tr>');
    expect(call).toContain(`<a rel="prev" data-key="ArrowLeft" href="${callUrl('1a2b3c4d_abc', GROUP, ENTITY, SCRIPT)}">`);
    expect(call).toContain(`<a rel="next" data-key="ArrowRight" href="${callUrl('1a2b3c4d_abc', GROUP, ENTITY, 'q3')}">`);
    expect(call).toContain('item 2 of 3');
    expect(neighbours(['a'], 'a')).toEqual({ position: 1, of: 1, previous: null, next: null });
  });

  it('given diagnostics, then rows link to their calls; value ranges flatten to columns', () => {
    const failures = { columns: ['entity_id', 'group', 'item', 'parse_status', 'reason', 'attempts', 'raw_output'], rows: [[ENTITY, GROUP, ITEM, 'parse_failure', 'no number', '1', SCRIPT]] };
    const page = renderDiagnostics({ identity: '1a2b3c4d_abc', kind: 'parse-failures', table: queryTable(failures, parseTableQuery({})) });
    expectInert(page);
    expect(page).toContain(callUrl('1a2b3c4d_abc', GROUP, ENTITY, ITEM));
    expect(valueRangesTable([{ group: 'g', itemMin: 0, actual: { mean: 1.5 } }])).toEqual({ columns: ['group', 'itemMin', 'actual.mean'], rows: [['g', '0', '1.5']] });
    expectInert(renderDiagnostics({ identity: '1a2b3c4d_abc', kind: 'outliers', table: null }));
  });

  it('given a run, then key facts, review verdicts, groups worst first and its files', () => {
    const model: RunModel = {
      identity: '1a2b3c4d_abc', name: `run ${SCRIPT}`, method: 'm', status: 'completed', attempt: 1, startedAt: 's', finishedAt: 'f', failure: null, cancellation: null,
      primary: { name: 'normalized_mae', value: 0.5, ci: null }, progress: null, runDir: '/r',
      report: {
        keyFacts: [{ title: 'PURPOSE', body: SCRIPT }],
        review: { checks: [{ verdict: 'FAIL', check: 'Outliers', detail: SCRIPT }], overall: 'FAIL — 1 fail', todos: [], other: [] },
        sideBySide: [{ method: 'm', role: 'method', normalized_mae: 0.5, n: 4, nScored: 3 }],
        groups: queryTable(groups, parseTableQuery({})),
        files: ['README.txt', 'groups/_index.csv'],
      },
      plots: [],
    };
    const page = renderRun(model);
    expectInert(page);
    expect(page).toContain('<span class="badge fail">FAIL</span> <b>Outliers</b>');
    expect(page).toContain('<a href="/api/experiments/1a2b3c4d_abc/files/groups/_index.csv">groups/_index.csv</a>');
    expect(page).toContain(`href="${groupUrl('1a2b3c4d_abc', GROUP)}"`);
    expectInert(renderRun({ ...model, report: null, status: 'running' }));
  });

  it('given an error, then a page saying it, inert', () => {
    const page = renderError(404, `no group ${SCRIPT}`);
    expectInert(page);
    expect(page).toContain('no group &lt;script&gt;');
  });
});
