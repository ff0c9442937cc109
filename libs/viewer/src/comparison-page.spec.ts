import type { ItemDef, Prediction, Sample } from '@assay/contracts';
import { compareRuns, type ComparedRun } from '@assay/comparison';
import { COMPARISON_TOP_ROWS, comparisonModel, MAX_COMPARED_RUNS, parseComparisonQuery, renderComparison } from './comparison-page';
import { QueryError } from './table-query';
import { comparisonUrl, groupUrl, jsonTwin, runUrl } from './urls';

const SCRIPT = '<script>window.__pwned = 1</script>';
// Ids and texts that would run, break a path or become a formula if the page used them unescaped.
const GROUP = `=HYPERLINK("http://evil","g")${SCRIPT}`;
const items: ItemDef[] = [
  { group: GROUP, item: `../q1${SCRIPT}`, question: '', min: 1, max: 5, kind: 'ordinal' },
  { group: GROUP, item: 'q2', question: '', min: 1, max: 5, kind: 'ordinal' },
  { group: 'values', item: 'q3', question: '', min: 0, max: 1, kind: 'binary' },
];
const hashes = { profiles: 'p'.repeat(64), responses: 'r'.repeat(64), items: 'i'.repeat(64), split: 's'.repeat(64) };

/** `entities` respondents; run `k` misses the answer on every `k`-th sample (deterministic). */
function run(identity: string, every: number, entities = 30, extra: Partial<ComparedRun> = {}): ComparedRun {
  const samples: Sample[] = [];
  const predictions: Prediction[] = [];
  for (let e = 0; e < entities; e++) {
    const entityId = `${SCRIPT}e${e}`;
    items.forEach((it, i) => {
      const actual = it.kind === 'binary' ? (e + i) % 2 : 1 + ((e * 3 + i) % 5);
      samples.push({ entityId, group: it.group, item: it.item, actual });
      const miss = (e * items.length + i) % every === 0;
      const predicted = miss ? (it.kind === 'binary' ? 1 - actual : actual > 3 ? 1 : 5) : actual;
      predictions.push({ entityId, group: it.group, item: it.item, method: 'llm_zero_shot', predicted, parseStatus: 'ok', outlier: false, metadata: {} });
    });
  }
  return {
    identity, method: 'llm_zero_shot', status: 'completed', attempt: 1, evaluationRound: 1, evaluatorVersion: 'eval/v3',
    config: { prompt: { system: `prompt ${SCRIPT} of ${identity}` } }, dataHashes: hashes, items, samples, predictions, ...extra,
  };
}

const quick = { resamples: 200, seed: 3 };
const A = 'aaaa1111_x';
const B = 'bbbb2222_x';
const C = 'cccc3333_x';

function expectInert(page: string): void {
  expect(page.match(/<script[^>]*>/g)).toEqual(['<script src="/viewer/assets/viewer.js" defer>']);
  expect(page).not.toContain(SCRIPT);
  for (const [, href] of page.matchAll(/href="([^"]*)"/g)) expect(href).toMatch(/^\/[A-Za-z0-9._~\-/%?=&;]*$/);
}

describe('parseComparisonQuery', () => {
  it('given two or more runs, then them in the order given, unpaired only when asked', () => {
    expect(parseComparisonQuery({ run: [A, B] })).toEqual({ runs: [A, B], unpaired: false });
    expect(parseComparisonQuery({ run: [A, B, C], unpaired: '1' })).toEqual({ runs: [A, B, C], unpaired: true });
  });

  it('given fewer than two runs, too many, or a bad flag, then a QueryError that says what to give', () => {
    expect(() => parseComparisonQuery({})).toThrow(QueryError);
    expect(() => parseComparisonQuery({})).toThrow(/at least two runs \(\?run=<identity>&run=<identity>\), got 0/);
    expect(() => parseComparisonQuery({ run: A })).toThrow(`got 1 (${A})`);
    expect(() => parseComparisonQuery({ run: Array.from({ length: MAX_COMPARED_RUNS + 1 }, (_, i) => `${i}`) })).toThrow(/at most 8 runs, got 9/);
    expect(() => parseComparisonQuery({ run: [A, B], unpaired: 'yes' })).toThrow(/'unpaired' must be 0 or 1, got "yes"/);
    expect(() => parseComparisonQuery({ run: [A, ''] })).toThrow(/'run' must be an identity, got ""/);
  });

  it('given runs, then the page URL carries them in order and its JSON twin is the same query', () => {
    expect(comparisonUrl([A, B], { unpaired: true })).toBe(`/comparisons?run=${A}&run=${B}&unpaired=1`);
    expect(jsonTwin(comparisonUrl([A, B]))).toBe(`/comparisons.json?run=${A}&run=${B}`);
  });
});

describe('comparison view model', () => {
  const comparison = compareRuns([run(A, 3), run(B, 7), run(C, 2)], { bootstrap: quick });
  const model = comparisonModel(comparison, { runs: [A, B, C], unpaired: false }, new Map([[A, `first ${SCRIPT}`], [B, 'second']]));

  it('given three runs, then the ranking best first with intervals, and every pair worst first', () => {
    expect(model.runs.map((r) => r.identity)).toEqual([B, A, C]);
    expect(model.runs.map((r) => r.name)).toEqual(['second', `first ${SCRIPT}`, '']);
    for (const r of model.runs) expect(r.ci!.low).toBeLessThanOrEqual(r.value!);
    expect(model.pairs).toHaveLength(3);
    const deltas = model.pairs.map((p) => p.delta);
    expect(deltas).toEqual([...deltas].sort((x, y) => y - x));
    // The worst pair: the candidate C loses most against B.
    expect(model.pairs[0]).toMatchObject({ baseline: B, candidate: C });
    expect(model.pairs[0].ci!.low).toBeGreaterThan(0);
  });

  it('given the comparison, then its group, item and entity deltas are compareRuns\'s, worst first', () => {
    expect(model.byGroup).toBe(comparison.byGroup);
    expect(model.byItem).toEqual({ rows: comparison.byItem, total: 9 });
    expect(model.byEntity.total).toBe(90);
    expect(model.byEntity.rows).toEqual(comparison.byEntity.slice(0, COMPARISON_TOP_ROWS));
    expect(model.configDiff.map((d) => d.key)).toEqual(['prompt.system']);
  });

  it('given more entity deltas than a page shows, then the worst of them and how many there are', () => {
    const big = comparisonModel(compareRuns([run(A, 3, 120), run(B, 7, 120)], { bootstrap: quick }), { runs: [A, B], unpaired: false }, new Map());
    expect(big.byEntity.total).toBe(120);
    expect(big.byEntity.rows).toHaveLength(COMPARISON_TOP_ROWS);
    expect(renderComparison(big)).toContain(`the ${COMPARISON_TOP_ROWS} worst of 120 entity deltas`);
  });

  it('given hostile ids, names, groups and config values, then the page shows them as inert text and links runs and groups', () => {
    const page = renderComparison(model);
    expectInert(page);
    expect(page).toContain(`<a href="${runUrl(A)}">${A}</a>`);
    expect(page).toContain(`<a href="${groupUrl(C, GROUP)}">=HYPERLINK(&quot;http://evil&quot;,&quot;g&quot;)&lt;script&gt;`);
    expect(page).toContain('first &lt;script&gt;');
    expect(page).toMatch(/<svg class="delta worse"/);
    expect(page).toContain('Paired: same data and split; 30 test entities, 3 items');
  });

  it('given an unpaired comparison, then the page says so first, with the reason', () => {
    const other = run(B, 7, 30, { dataHashes: { ...hashes, split: 't'.repeat(64) } });
    const unpaired = comparisonModel(compareRuns([run(A, 3), other], { bootstrap: quick, allowUnpaired: true }), { runs: [A, B], unpaired: true }, new Map());
    const page = renderComparison(unpaired);
    expectInert(page);
    expect(page).toMatch(/<p class="failure unpaired">NOT PAIRED: bbbb2222_x has other split than aaaa1111_x/);
    expect(page).toContain(`href="/comparisons.json?run=${A}&amp;run=${B}&amp;unpaired=1"`);
  });
});
