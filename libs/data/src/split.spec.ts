import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureSplit, loadSplit, makeSplit, serializeSplit, SPLIT_CREATED_BY } from './index';

const IDS = Array.from({ length: 20 }, (_, i) => `e${i}`);
const HASH = 'a'.repeat(64);
const OPTS = { seed: 42, testFraction: 0.25, dataHash: HASH };

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'assay-split-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('makeSplit', () => {
  it('given the same ids in any order and seed, when split, then the result is identical, sorted and disjoint', () => {
    const a = makeSplit(IDS, 42, 0.25, HASH);
    const b = makeSplit([...IDS].reverse(), 42, 0.25, HASH);
    expect(b).toEqual(a);
    expect(a.test).toHaveLength(5);
    expect(a.train).toHaveLength(15);
    expect([...a.train].sort()).toEqual(a.train);
    expect([...a.test].sort()).toEqual(a.test);
    expect(new Set([...a.train, ...a.test])).toEqual(new Set(IDS));
    expect(a).toMatchObject({ seed: 42, test_fraction: 0.25, data_hash: HASH, created_by: SPLIT_CREATED_BY });
    expect(a).not.toHaveProperty('created_at');
  });

  it('given a different seed, when split, then the draw differs', () => {
    expect(makeSplit(IDS, 43, 0.25, HASH).test).not.toEqual(makeSplit(IDS, 42, 0.25, HASH).test);
  });

  it('given a pinned seed, when split, then the draw never changes across versions (reproducibility)', () => {
    expect(makeSplit(IDS, 42, 0.25, HASH).test).toEqual(['e0', 'e12', 'e14', 'e3', 'e9']);
  });

  it('given bad inputs, when split, then it refuses with the reason', () => {
    expect(() => makeSplit(['a', 'b', 'a'], 1, 0.5, HASH)).toThrow('duplicate entity ids "a"');
    expect(() => makeSplit(['a', 'b', 'c'], 1, 0.1, HASH)).toThrow('cannot split 3 entities with test_fraction 0.1: it gives 0 test and 3 train entities');
    expect(() => makeSplit(IDS, 1, 1, HASH)).toThrow('test_fraction must be in (0, 1), got 1');
    expect(() => makeSplit(IDS, -1, 0.5, HASH)).toThrow('seed must be an integer');
  });
});

describe('ensureSplit', () => {
  it('given no file, when ensured twice, then it is created once and loaded the second time with the same bytes and hash', async () => {
    const path = join(dir, 'split.json');
    const first = await ensureSplit(path, IDS, OPTS);
    expect(first.created).toBe(true);
    const bytes = await readFile(path, 'utf8');
    expect(bytes).toBe(serializeSplit(makeSplit(IDS, 42, 0.25, HASH)));
    expect(bytes.endsWith('}\n')).toBe(true);
    expect(bytes).toContain('\n  "train": [\n    "e');
    expect(first.hash).toBe(createHash('sha256').update(bytes).digest('hex'));
    const second = await ensureSplit(path, IDS, OPTS);
    expect(second).toEqual({ split: first.split, created: false, hash: first.hash, warnings: [] });
    expect(await readdir(dir)).toEqual(['split.json']);
  });

  it('given many concurrent creators, when they race, then exactly one creates it, all load the same content and no temp file is left', async () => {
    const path = join(dir, 'sub', 'split.json');
    const results = await Promise.all(Array.from({ length: 12 }, () => ensureSplit(path, IDS, OPTS)));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.hash)).size).toBe(1);
    expect(new Set(results.map((r) => JSON.stringify(r.split))).size).toBe(1);
    expect(await readdir(join(dir, 'sub'))).toEqual(['split.json']);
  });

  it('given racing creators with different seeds, when they race, then the losers refuse the winner file instead of silently using it', async () => {
    const path = join(dir, 'split.json');
    const results = await Promise.allSettled([ensureSplit(path, IDS, OPTS), ensureSplit(path, IDS, { ...OPTS, seed: 7 })]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(String(rejected.reason)).toContain("Set the config's split seed and test_fraction to the file's values");
  });

  it('given an existing file drawn with another seed, when ensured, then the error says both and how to fix', async () => {
    const path = join(dir, 'split.json');
    await ensureSplit(path, IDS, OPTS);
    await expect(ensureSplit(path, IDS, { ...OPTS, seed: 1 })).rejects.toThrow(
      `${path}: the split was drawn with seed 42 and test_fraction 0.25, but the config asks for seed 1 and test_fraction 0.25. ` +
        "Set the config's split seed and test_fraction to the file's values to stay comparable with the runs that used this split, or name a new split file to draw another.",
    );
  });

  it('given an existing file and edited data with the same entities, when ensured, then the split is kept and the change is a warning that does not advise redrawing', async () => {
    const path = join(dir, 'split.json');
    const first = await ensureSplit(path, IDS, OPTS);
    const other = 'b'.repeat(64);
    const again = await ensureSplit(path, IDS, { ...OPTS, dataHash: other });
    expect(again.split).toEqual(first.split);
    expect(again.hash).toBe(first.hash);
    expect(again.warnings).toEqual([
      `${path}: the data changed since this split was drawn (data_hash ${HASH}, now ${other}); it still places every entity in exactly one part, so it is used as is and results stay comparable with earlier runs on it`,
    ]);
    expect(again.warnings.join()).not.toMatch(/delete|redraw/i);
  });

  it('given an existing file and data that gained entities, when ensured, then the new entities are named as left out', async () => {
    const path = join(dir, 'split.json');
    await ensureSplit(path, IDS, OPTS);
    await expect(ensureSplit(path, [...IDS, 'new1', 'new2'], OPTS)).rejects.toThrow(
      `${path}: 2 entities are in the profiles but in neither train nor test: "new1", "new2"; a split must place every entity in exactly one part (add them to train or test)`,
    );
  });

  it('given hostile ids, when written and loaded, then they round-trip', async () => {
    const ids = ['a/b', '../x', 'sp ace', 'c,d', 'q"uote', 'ü日本🙂', ' trail '];
    const path = join(dir, 'split.json');
    const made = await ensureSplit(path, ids, { ...OPTS, testFraction: 0.3 });
    const loaded = await loadSplit(path, ids, HASH);
    expect(loaded.split).toEqual(made.split);
    expect(new Set([...loaded.split.train, ...loaded.split.test])).toEqual(new Set(ids));
  });
});

describe('loadSplit errors', () => {
  async function splitFile(content: unknown): Promise<string> {
    const path = join(dir, 'split.json');
    await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  }
  const base = { seed: 1, test_fraction: 0.5, data_hash: HASH, created_by: 'hand' };

  it('given an id in both lists, then it is leakage', async () => {
    const path = await splitFile({ ...base, train: ['e1', 'e2'], test: ['e2'] });
    await expect(loadSplit(path, IDS)).rejects.toThrow(`${path}: 1 id(s) are in both train and test (leakage): "e2"`);
  });

  it('given an id the profiles do not have, then it is named', async () => {
    const path = await splitFile({ ...base, train: ['e1', 'ghost'], test: ['e2'] });
    await expect(loadSplit(path, IDS)).rejects.toThrow(`${path}: 1 id(s) are not in the profiles: "ghost"`);
  });

  it('given a different data hash and full coverage, then it loads with a warning naming both hashes', async () => {
    const path = await splitFile({ ...base, train: IDS.slice(1), test: IDS.slice(0, 1) });
    const other = 'c'.repeat(64);
    const loaded = await loadSplit(path, IDS, other);
    expect(loaded.split.test).toEqual(['e0']);
    expect(loaded.warnings).toHaveLength(1);
    expect(loaded.warnings[0]).toContain(`the data changed since this split was drawn (data_hash ${HASH}, now ${other})`);
  });

  it('given the same data hash, then no warning', async () => {
    const path = await splitFile({ ...base, train: IDS.slice(1), test: IDS.slice(0, 1) });
    expect((await loadSplit(path, IDS, HASH)).warnings).toEqual([]);
  });

  it('given entities in neither list, then the error names the first five and the count', async () => {
    const path = await splitFile({ ...base, train: ['e0'], test: ['e1'] });
    await expect(loadSplit(path, IDS)).rejects.toThrow(
      `${path}: 18 entities are in the profiles but in neither train nor test: "e2", "e3", "e4", "e5", "e6", ... and 13 more; a split must place every entity in exactly one part`,
    );
    const one = await splitFile({ ...base, train: IDS.slice(2), test: ['e1'] });
    await expect(loadSplit(one, IDS)).rejects.toThrow(`${one}: 1 entity is in the profiles but in neither train nor test: "e0";`);
  });

  it('given malformed JSON, then the file and the parser reason are given', async () => {
    const path = await splitFile('{"train": [');
    await expect(loadSplit(path, IDS)).rejects.toThrow(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: malformed JSON: .+`));
  });

  it('given a wrong shape, then the field is named', async () => {
    const path = await splitFile({ ...base, train: 'e1', test: ['e2'] });
    await expect(loadSplit(path, IDS)).rejects.toThrow(`${path}: not a valid split file (expected train, test, seed, test_fraction, data_hash, created_by): train:`);
  });

  it('given a repeated id or an empty test list, then it is refused', async () => {
    await expect(loadSplit(await splitFile({ ...base, train: ['e1', 'e1'], test: ['e2'] }), IDS)).rejects.toThrow('1 id(s) listed more than once in "train": "e1"');
    await expect(loadSplit(await splitFile({ ...base, train: ['e1'], test: [] }), IDS)).rejects.toThrow('the test list is empty');
  });

  it('given a missing file, then the error names it', async () => {
    await expect(loadSplit(join(dir, 'nope.json'), IDS)).rejects.toThrow(join(dir, 'nope.json'));
  });
});
