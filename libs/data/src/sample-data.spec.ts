import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeSampleData } from '../../../scripts/make-sample-data';
import { checkDataset, loadDataset } from './index';
import { itemKey } from '@assay/contracts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'assay-sample-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function pearson(xs: number[], ys: number[]): number {
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  xs.forEach((x, i) => {
    sxy += (x - mx) * (ys[i] - my);
    sxx += (x - mx) ** 2;
    syy += (ys[i] - my) ** 2;
  });
  return sxy / Math.sqrt(sxx * syy);
}

describe('makeSampleData', () => {
  it('given the same options, when generated twice, then the files are byte-identical', async () => {
    const opts = { entities: 30, groups: 2, itemsPerGroup: 3, features: 15, seed: 5 };
    await makeSampleData({ ...opts, outDir: join(dir, 'a') });
    await makeSampleData({ ...opts, outDir: join(dir, 'b') });
    for (const f of ['profiles.csv', 'responses.csv', 'items.csv']) {
      expect(await readFile(join(dir, 'b', f), 'utf8')).toBe(await readFile(join(dir, 'a', f), 'utf8'));
    }
  });

  it('given sample options, when generated and loaded, then the dataset is clean, has mixed kinds, some missing values and a real signal', async () => {
    const res = await makeSampleData({ entities: 300, groups: 3, itemsPerGroup: 4, features: 12, seed: 7, outDir: dir });
    const ds = await loadDataset(res.files);
    const check = checkDataset(ds);
    expect(check.errors).toEqual([]);
    expect(check.outOfRange).toEqual([]);
    expect(ds.entities).toHaveLength(300);
    expect(ds.items).toHaveLength(12);
    expect(new Set(ds.items.map((i) => `${i.kind}:${i.min}..${i.max}`))).toEqual(new Set(['binary:0..1', 'ordinal:1..5', 'continuous:0..100', 'ordinal:1..7']));
    expect(ds.missing?.length).toBeGreaterThan(0);
    expect(ds.missing?.length).toBe(res.missing);
    // age loads on the first trait, as does item 3 (continuous, index 2): a profile-reading model can learn it.
    const age = new Map(ds.entities.map((e) => [e.entityId, Number(e.values[e.featureNames.indexOf('age')])]));
    const obs = [...ds.observations].filter((o) => itemKey(o.group, o.item) === itemKey(ds.items[2].group, ds.items[2].item));
    expect(Math.abs(pearson(obs.map((o) => age.get(o.entityId) as number), obs.map((o) => o.value)))).toBeGreaterThan(0.2);
  });

  it('given hostileIds, when generated and loaded, then ids with slashes, quotes, commas and unicode survive', async () => {
    const res = await makeSampleData({ entities: 14, groups: 2, itemsPerGroup: 2, features: 3, seed: 1, outDir: dir, hostileIds: true });
    const ds = await loadDataset(res.files);
    expect(ds.entities.map((e) => e.entityId)).toEqual(res.entityIds);
    expect(res.entityIds).toEqual(expect.arrayContaining(['p/1', '../p 2', 'p,"3"', ' p5 ', 'p{profile}6']));
    expect(checkDataset(ds).errors).toEqual([]);
  });
});
