import { createHash } from 'node:crypto';
import { compareCodeUnits } from '@assay/contracts';
import { TreeHasher } from './tree-hash';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

/** The tree hash by its definition: one line per file, in code-unit order of the paths. */
function digestOf(paths: readonly string[]): string {
  const outer = createHash('sha256');
  for (const path of [...paths].sort(compareCodeUnits)) outer.update(`${path}\0${sha(path)}\n`);
  return outer.digest('hex');
}

// Names whose order is easy to get wrong: '-' and '.' sort before '/', '~' after the letters,
// and a file beside a folder of the same stem.
const PATHS = [
  'README.txt',
  'groups/_index.csv',
  'groups/a/entities/x/q1.txt',
  'groups/a/entities/x/summary.txt',
  'groups/a/per_entity.csv',
  'groups/a-b/entities/x/q1.txt',
  'groups/a-b/predictions.csv',
  'groups/a.csv',
  'groups/a~1/entities/y/q1.txt',
  'groups/b/entities/~e9/q~2e9.txt',
  'groups/b~/x.txt',
  'metrics.json',
  'raw_outputs.parquet',
];

describe('TreeHasher', () => {
  it('given group folders sealed as they are written, when digested, then the hash and the paths are those of every file in path order', async () => {
    const hasher = new TreeHasher();
    const folders = ['groups/a', 'groups/a-b', 'groups/a~1', 'groups/b', 'groups/b~'];
    // Written as the run writer does: some root files, then a folder at a time, the rest last.
    hasher.add('metrics.json', sha('metrics.json'));
    for (const folder of folders) {
      hasher.openFolder(folder);
      for (const path of PATHS.filter((p) => p.startsWith(`${folder}/`)).reverse()) hasher.add(path, sha(path));
      await hasher.seal(folder);
    }
    for (const path of ['raw_outputs.parquet', 'groups/a.csv', 'groups/_index.csv', 'README.txt']) hasher.add(path, sha(path));
    try {
      expect(hasher.size).toBe(PATHS.length);
      expect(await hasher.digest()).toBe(digestOf(PATHS));
      const paths: string[] = [];
      for await (const path of hasher.paths()) paths.push(path);
      expect(paths).toEqual([...PATHS].sort(compareCodeUnits));
    } finally {
      await hasher.close();
    }
  });

  it('given no folder opened, then the digest is the definition (what hashTree checks a tree on disk with)', async () => {
    const hasher = new TreeHasher();
    for (const path of [...PATHS].reverse()) hasher.add(path, sha(path));
    expect(await hasher.digest()).toBe(digestOf(PATHS));
  });

  it('given a folder opened but never sealed, or sealed empty, then its files still count', async () => {
    const hasher = new TreeHasher();
    hasher.openFolder('groups/a');
    hasher.openFolder('groups/empty');
    await hasher.seal('groups/empty');
    for (const path of PATHS) hasher.add(path, sha(path));
    try {
      expect(await hasher.digest()).toBe(digestOf(PATHS));
    } finally {
      await hasher.close();
    }
  });

  it('refuses a file twice, a file after its folder was sealed, and folders that overlap', async () => {
    const hasher = new TreeHasher();
    hasher.add('groups/x.csv', 'h');
    expect(() => hasher.add('groups/x.csv', 'h')).toThrow(/groups\/x\.csv was recorded twice/);
    hasher.openFolder('groups/a');
    hasher.add('groups/a/f.txt', 'h');
    expect(() => hasher.add('groups/a/f.txt', 'h')).toThrow(/recorded twice/);
    await hasher.seal('groups/a');
    expect(() => hasher.add('groups/a/g.txt', 'h')).toThrow(/groups\/a\/g\.txt was recorded after its folder groups\/a was sealed/);
    await expect(hasher.seal('groups/a')).rejects.toThrow(/sealed already/);
    await expect(hasher.seal('groups/never')).rejects.toThrow(/not opened/);
    expect(() => hasher.openFolder('groups/a')).toThrow(/opened twice/);
    expect(() => hasher.openFolder('groups/a/entities')).toThrow(/inside an opened folder/);
    expect(() => hasher.openFolder('groups')).toThrow(/holds the opened folder groups\/a/);
    hasher.add('other/f.txt', 'h');
    expect(() => hasher.openFolder('other')).toThrow(/opened after its file other\/f\.txt/);
    expect(() => hasher.openFolder('groups/b/')).toThrow(/without a trailing/);
    await hasher.close();
  });
});
