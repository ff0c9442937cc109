import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatasetError, entityOf, loadCodebook, loadProfileView, selectFeatures, viewedFeatures, type Entity } from './index';

const FEATURES = ['age', 'gender', 'region', 'f_017', 'f_018', 'income (k)'];
const PROFILES = '/data/profiles.csv';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'assay-view-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function codebook(text: string): Promise<string> {
  const file = join(dir, 'codebook.csv');
  await writeFile(file, text);
  return file;
}

async function errorOf(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof Error)) throw new Error('expected a rejection');
  return error;
}

describe('selectFeatures (profile.features)', () => {
  it('given include globs and names, when selected, then the matching columns come back in file order', () => {
    expect(selectFeatures(FEATURES, { include: ['f_*', 'age'] }, PROFILES)).toEqual(['age', 'f_017', 'f_018']);
  });

  it('given exclude only, when selected, then every other column stays; with include too, exclude applies after it', () => {
    expect(selectFeatures(FEATURES, { exclude: ['f_01?'] }, PROFILES)).toEqual(['age', 'gender', 'region', 'income (k)']);
    expect(selectFeatures(FEATURES, { include: ['f_*', 'gender'], exclude: ['f_018'] }, PROFILES)).toEqual(['gender', 'f_017']);
  });

  it('given a plain name with glob-like characters, when selected, then it matches that column literally', () => {
    expect(selectFeatures(FEATURES, { include: ['income (k)'] }, PROFILES)).toEqual(['income (k)']);
  });

  it('given a pattern that matches no column, when selected, then the error names the key, the pattern, the file and the closest column', () => {
    expect(() => selectFeatures(FEATURES, { include: ['age', 'gendr'] }, PROFILES)).toThrow(
      'profile.features.include[1]: "gendr" matches no feature column of /data/profiles.csv (closest column: "gender")',
    );
    expect(() => selectFeatures(FEATURES, { exclude: ['x_*'] }, PROFILES)).toThrow('profile.features.exclude[0]: "x_*" matches no feature column');
  });

  it('given a filter that leaves no feature, when selected, then the error names profile.features and both lists', () => {
    const error = (() => {
      try {
        selectFeatures(FEATURES, { include: ['f_*'], exclude: ['f_0*'] }, PROFILES);
      } catch (e) {
        return e as Error;
      }
      throw new Error('expected an error');
    })();
    expect(error).toBeInstanceOf(DatasetError);
    expect(error.message).toBe('profile.features: the filter leaves no feature of /data/profiles.csv (include ["f_*"], exclude ["f_0*"]); a prompt needs at least one');
  });
});

describe('loadCodebook (profile.codebook)', () => {
  it('given rows for some columns, when loaded, then each has its label and scale (empty scale = null), columns in any order', async () => {
    const file = await codebook('label,column,scale\nTrust in science,f_017,1-5\nAge,age,\n');
    const book = await loadCodebook(file, FEATURES, PROFILES);
    expect([...book.values()]).toEqual([
      { column: 'f_017', label: 'Trust in science', scale: '1-5', line: 2 },
      { column: 'age', label: 'Age', scale: null, line: 3 },
    ]);
  });

  it('given a row for a column that does not exist, when loaded, then the error names the codebook file and line, the profiles file and the closest column', async () => {
    const file = await codebook('column,label,scale\nage,Age,\nf_071,Trust,1-5\n');
    expect((await errorOf(loadCodebook(file, FEATURES, PROFILES))).message).toBe(
      `${file}:3: column "f_071" is not a feature column of /data/profiles.csv; closest: "f_017"`,
    );
  });

  it.each([
    ['a column listed twice', 'column,label,scale\nage,Age,\nage,Age again,\n', ':3: column "age" is listed twice, first on line 2'],
    ['an empty label', 'column,label,scale\nage, ,\n', ':2: empty label for column "age"'],
    ['two columns with one label', 'column,label,scale\nf_017,Trust,1-5\nf_018,Trust,1-7\n', ':3: label "Trust" of column "f_018" is already the label of column "f_017" on line 2'],
    ['a label with a line break', 'column,label,scale\nage,"Age\nin years",\n', ':2: the label of column "age" has a line break; a profile shows one line per feature'],
    ['an empty column name', 'column,label,scale\n,Age,\n', ':2: empty column name'],
  ])('given %s, when loaded, then the error names file and line', async (_name, text, expected) => {
    const file = await codebook(text);
    expect((await errorOf(loadCodebook(file, FEATURES, PROFILES))).message).toBe(`${file}${expected}`);
  });

  it('given a missing or unexpected header column, when loaded, then the error names the file and the expected header', async () => {
    const file = await codebook('column,label\nage,Age\n');
    expect((await errorOf(loadCodebook(file, FEATURES, PROFILES))).message).toContain(`${file}:1: missing column(s) 'scale'; expected column,label,scale`);
  });

  it('given a codebook path that does not exist, when loaded, then the error names profile.codebook and the path', async () => {
    const missing = join(dir, 'nope.csv');
    expect((await errorOf(loadCodebook(missing, FEATURES, PROFILES))).message).toBe(`profile.codebook: cannot read ${missing} (ENOENT)`);
  });
});

describe('loadProfileView + viewedFeatures', () => {
  const entity: Entity = entityOf('e1', FEATURES.map((f, i) => [f, String(i)]));

  it('given no profile section, when loaded, then there is no view (prompts stay as they always were)', async () => {
    await expect(loadProfileView(undefined, FEATURES, PROFILES)).resolves.toBeNull();
  });

  it('given features and a codebook, when viewed, then only the kept columns appear, in file order, under their headings', async () => {
    const file = await codebook('column,label,scale\nf_017,Trust in science,1-5\nage,Age,\nregion,Region,\n');
    const view = await loadProfileView({ features: { include: ['f_017', 'age', 'gender'] }, codebook: file }, FEATURES, PROFILES);
    expect(viewedFeatures(entity, view!).map(([c, v]) => [c.heading, v])).toEqual([
      ['Age', '0'],
      ['gender', '1'],
      ['Trust in science (1-5)', '3'],
    ]);
  });

  it('given an entity whose features are in another order, when viewed, then it is an error, never a value under the wrong heading', async () => {
    const view = await loadProfileView({ features: { include: ['gender'] } }, FEATURES, PROFILES);
    const shuffled: Entity = entityOf('odd', [['gender', 'x'], ['age', '3']]);
    expect(() => viewedFeatures(shuffled, view!)).toThrow('entity "odd": feature 2 is "age", the profile view expects "gender" there');
  });
});
