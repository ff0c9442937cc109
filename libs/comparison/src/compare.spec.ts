import type { ItemDef, Prediction, Sample } from '@assay/contracts';
import { mulberry32 } from '@assay/data';
import { readFile, mkdtemp, rm, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareRuns, ComparisonRefusedError, configDiff, renderComparisonReadme, writeComparisonDirectory, type ComparedRun } from '@assay/comparison';

const items: ItemDef[] = [
  { group: 'trust', item: 'q1', question: '', min: 1, max: 5, kind: 'ordinal' },
  { group: 'trust', item: 'q2', question: '', min: 1, max: 5, kind: 'ordinal' },
  { group: 'values', item: 'q3', question: '', min: 0, max: 1, kind: 'binary' },
];
const hashes = { profiles: 'p'.repeat(64), responses: 'r'.repeat(64), items: 'i'.repeat(64), split: 's'.repeat(64) };
const quick = { resamples: 300, seed: 4 };

/** 40 respondents; `skill` shifts how close a run's predictions are (0 = perfect). */
function run(identity: string, skill: number, seed: number, extra: Partial<ComparedRun> = {}): ComparedRun {
  const rand = mulberry32(seed);
  const truth = mulberry32(99); // the same actual answers in every run
  const samples: Sample[] = [];
  const predictions: Prediction[] = [];
  for (let e = 0; e < 40; e++) {
    const entityId = `e${String(e).padStart(2, '0')}`;
    for (const it of items) {
      const actual = it.kind === 'binary' ? (truth() < 0.5 ? 0 : 1) : 1 + Math.floor(truth() * 5);
      samples.push({ entityId, group: it.group, item: it.item, actual });
      const noisy = rand() < skill ? (it.kind === 'binary' ? 1 - actual : Math.min(5, Math.max(1, actual + (rand() < 0.5 ? -2 : 2)))) : actual;
      predictions.push({ entityId, group: it.group, item: it.item, method: 'llm_zero_shot', predicted: noisy, parseStatus: 'ok', outlier: false, metadata: {} });
    }
  }
  return {
    identity, method: 'llm_zero_shot', status: 'completed', attempt: 1, evaluationRound: 1, evaluatorVersion: 'eval/v3',
    config: { model: { id: 'm' }, prompt: { system: `prompt of ${identity}` } }, dataHashes: hashes, items, samples, predictions, ...extra,
  };
}

describe('compareRuns', () => {
  const a = run('aaaa1111_x', 0.4, 1);
  const b = run('bbbb2222_x', 0.1, 2);

  it('given two runs on the same data, when compared, then the better one ranks first and the paired delta is negative with p and Holm', () => {
    const c = compareRuns([a, b], { bootstrap: quick });
    expect(c.paired).toBe(true);
    expect(c.ranking.map((r) => r.identity)).toEqual(['bbbb2222_x', 'aaaa1111_x']);
    expect(c.pairs).toHaveLength(1);
    const [pair] = c.pairs;
    expect(pair).toMatchObject({ baseline: 'aaaa1111_x', candidate: 'bbbb2222_x' });
    expect(pair.delta).toBeCloseTo(c.ranking[0].scores.overall.primary.value! - c.ranking[1].scores.overall.primary.value!, 12);
    expect(pair.ci!.high).toBeLessThan(0);
    expect(pair.p).toBeLessThan(0.05);
    expect(pair.pHolm).toBe(pair.p); // one pair: Holm changes nothing
    expect(c.sharedEntities).toBe(40);
    expect(c.configDiff).toEqual([{ key: 'prompt.system', values: ['prompt of aaaa1111_x', 'prompt of bbbb2222_x'] }]);
  });

  it('given three runs, then three pairs whose Holm-adjusted p-values are at least the raw ones', () => {
    const c = compareRuns([a, b, run('cccc3333_x', 0.2, 3)], { bootstrap: quick });
    expect(c.pairs.map((p) => [p.baseline, p.candidate])).toEqual([
      ['aaaa1111_x', 'bbbb2222_x'], ['aaaa1111_x', 'cccc3333_x'], ['bbbb2222_x', 'cccc3333_x'],
    ]);
    for (const p of c.pairs) expect(p.pHolm).toBeGreaterThanOrEqual(p.p);
  });

  it('given a run and an exact copy of it, then every difference is exactly 0 with a degenerate interval', () => {
    const copy = { ...a, identity: 'aaaa1111_copy' };
    const c = compareRuns([a, copy], { bootstrap: quick });
    expect(c.pairs[0].delta).toBe(0);
    expect(c.pairs[0].ci).toMatchObject({ low: 0, high: 0 });
    expect(c.pairs[0].p).toBe(1);
    for (const g of c.byGroup) expect(g).toMatchObject({ delta: 0, ci: { low: 0, high: 0 } });
    for (const e of c.byEntity) expect(e.delta).toBe(0);
    expect(c.configDiff).toEqual([]);
  });

  it('given paired deltas, then by_entity, by_item and by_group are worst first (candidate loses most first)', () => {
    const c = compareRuns([b, a], { bootstrap: quick });
    const deltas = c.byEntity.map((e) => e.delta!);
    expect(deltas).toEqual([...deltas].sort((x, y) => y - x));
    expect(c.byEntity[0].delta!).toBeGreaterThan(0);
    const groupDeltas = c.byGroup.map((g) => g.delta!);
    expect(groupDeltas).toEqual([...groupDeltas].sort((x, y) => y - x));
  });

  it('given bad input, then a clear refusal naming the problem', () => {
    expect(() => compareRuns([a])).toThrow(new ComparisonRefusedError('compare needs at least two runs, got 1 (aaaa1111_x)'));
    expect(() => compareRuns([a, a])).toThrow(/aaaa1111_x is named twice/);
    expect(() => compareRuns([a, { ...b, status: 'running' }])).toThrow(/bbbb2222_x is running, not completed/);
    const fewerItems = { ...b, items: items.slice(0, 2), samples: b.samples.filter((s) => s.item !== 'q3'), predictions: b.predictions.filter((p) => p.item !== 'q3') };
    expect(() => compareRuns([a, fewerItems], { allowUnpaired: true })).toThrow(/different item sets \(only in aaaa1111_x: values\/q3|different item sets/);
  });

  it('given the same items scored on another scale (labels.mode binary against ordinal), then refused naming the item, even with allowUnpaired', () => {
    const rescaled = { ...b, items: b.items.map((i, n) => (n === 0 ? { ...i, kind: 'binary' as const, min: 0, max: 1 } : i)) };
    expect(() => compareRuns([a, rescaled], { allowUnpaired: true })).toThrow(/bbbb2222_x scores item .* as binary \[0, 1\], aaaa1111_x as .*other labels settings/);
  });

  it('given another split, then refused with the reason; with allowUnpaired, compared unpaired and the README says so first', () => {
    const other = { ...b, dataHashes: { ...hashes, split: 't'.repeat(64) } };
    expect(() => compareRuns([a, other])).toThrow(/bbbb2222_x has other split than aaaa1111_x .*--allow-unpaired/);
    const c = compareRuns([a, other], { allowUnpaired: true, bootstrap: quick });
    expect(c.paired).toBe(false);
    const readme = renderComparisonReadme(c);
    expect(readme.split('\n')[3]).toMatch(/^NOT PAIRED: /);
  });
});

describe('configDiff', () => {
  it('given nested configs, then only differing leaves, arrays as JSON, absent keys as null, sorted by key', () => {
    expect(configDiff([{ a: { b: 1, c: [1, 2] }, d: 'x' }, { a: { b: 1, c: [2] }, e: true }])).toEqual([
      { key: 'a.c', values: ['[1,2]', '[2]'] },
      { key: 'd', values: ['x', null] },
      { key: 'e', values: [null, 'true'] },
    ]);
  });
});

describe('writeComparisonDirectory', () => {
  it('given a comparison, when written twice, then the same files with the same bytes, named by the input hash', async () => {
    const root = await mkdtemp(join(tmpdir(), 'assay-compare-'));
    try {
      const c = compareRuns([run('aaaa1111_x', 0.4, 1), run('bbbb2222_x', 0.1, 2)], { bootstrap: quick });
      const first = await writeComparisonDirectory(c, root);
      expect(first.dir).toBe(join(root, 'comparisons', c.key));
      expect(first.files).toEqual([
        'README.txt', 'by_entity.csv', 'by_entity.parquet', 'by_group.csv', 'by_group.parquet', 'by_item.csv', 'by_item.parquet',
        'comparison.json', 'methods.csv', 'methods.parquet', 'plots/paired_deltas_by_group.svg',
      ]);
      const read = async () => Promise.all(first.files.map((f) => readFile(join(first.dir, f))));
      const before = await read();
      await writeComparisonDirectory(compareRuns([run('aaaa1111_x', 0.4, 1), run('bbbb2222_x', 0.1, 2)], { bootstrap: quick }), root);
      expect(await read()).toEqual(before);
      expect(await readdir(join(root, 'comparisons'))).toEqual([c.key]);
      const readme = before[0].toString();
      expect(readme).toContain('PAIRED DIFFERENCES');
      expect(readme).toContain('candidate better');
      expect(before[first.files.indexOf('methods.csv')].toString().split('\n')[0]).toBe(
        'rank,identity,method,normalized_mae,ci_low,ci_high,wasserstein,variance_ratio,under_dispersed_share,respondent_correlation,n,scored,parse_failures,inference_failures',
      );
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
