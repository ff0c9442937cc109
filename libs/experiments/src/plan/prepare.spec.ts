import { ExperimentConfig } from '@assay/config';
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dataChangedSince, prepareExperiment, StageError } from './prepare';

describe('dataChangedSince', () => {
  const sample = join(__dirname, '..', '..', '..', '..', 'data', 'sample');
  const files = ['profiles.csv', 'responses.csv', 'items.csv', 'split.json'];

  async function preparedCopy() {
    const dir = mkdtempSync(join(tmpdir(), 'assay-changed-'));
    for (const f of files) copyFileSync(join(sample, f), join(dir, f));
    const config = ExperimentConfig.parse({
      name: 'changed-test',
      method: 'llm_zero_shot',
      data: { profiles: join(dir, 'profiles.csv'), responses: join(dir, 'responses.csv'), items: join(dir, 'items.csv'), split: join(dir, 'split.json') },
      model: { id: 'sim/llm-8b', base_url: 'http://127.0.0.1:9/v1' },
      output_root: '/tmp/unused',
    });
    return { dir, prepared: await prepareExperiment(config, 'test') };
  }

  it('given untouched files, when checked, then nothing changed', async () => {
    const { prepared } = await preparedCopy();
    await expect(dataChangedSince(prepared)).resolves.toBeNull();
  });

  it('given a changed responses file and split, when checked, then both are named', async () => {
    const { dir, prepared } = await preparedCopy();
    appendFileSync(join(dir, 'responses.csv'), '\n');
    appendFileSync(join(dir, 'split.json'), ' ');
    await expect(dataChangedSince(prepared)).resolves.toBe('the data files changed since the run started (data.responses, data.split)');
  });

  it('given a data file removed, when checked, then it is a preflight error naming the file', async () => {
    const { dir, prepared } = await preparedCopy();
    rmSync(join(dir, 'items.csv'));
    const error = await dataChangedSince(prepared).catch((e: Error) => e);
    expect(error).toBeInstanceOf(StageError);
    expect((error as Error).message).toBe(`data.items: file not found: ${join(dir, 'items.csv')}`);
  });
});

describe('prepareExperiment with an existing split', () => {
  const sample = join(__dirname, '..', '..', '..', '..', 'data', 'sample');

  function configIn(dir: string): ExperimentConfig {
    for (const f of ['profiles.csv', 'responses.csv', 'items.csv', 'split.json']) copyFileSync(join(sample, f), join(dir, f));
    return ExperimentConfig.parse({
      name: 'split-test',
      method: 'llm_zero_shot',
      data: { profiles: join(dir, 'profiles.csv'), responses: join(dir, 'responses.csv'), items: join(dir, 'items.csv'), split: join(dir, 'split.json') },
      split: { seed: 42, test_fraction: 0.2 },
      model: { id: 'sim/llm-8b', base_url: 'http://127.0.0.1:9/v1' },
      output_root: '/tmp/unused',
    });
  }

  it('given one profile cell edited after the split was drawn, when prepared, then the split is used as is and the change is a warning', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'assay-split-edit-'));
    const config = configIn(dir);
    const before = await prepareExperiment(config, 'test');
    const lines = readFileSync(join(dir, 'profiles.csv'), 'utf8').split('\n');
    const cells = lines[1].split(',');
    cells[cells.length - 1] = `${cells[cells.length - 1]}x`;
    lines[1] = cells.join(',');
    writeFileSync(join(dir, 'profiles.csv'), lines.join('\n'));
    const after = await prepareExperiment(config, 'test');
    expect(after.split).toEqual(before.split);
    expect(after.splitInfo.sha256).toBe(before.splitInfo.sha256);
    const warning = after.warnings.find((w) => w.includes('the data changed since this split was drawn'));
    expect(warning).toBeDefined();
    expect(warning).not.toMatch(/delete|redraw/i);
  });

  it('given a split that leaves entities out, when prepared, then a preflight error names them and their count', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'assay-split-gap-'));
    const config = configIn(dir);
    const split = JSON.parse(readFileSync(join(dir, 'split.json'), 'utf8')) as { train: string[]; test: string[] };
    const dropped = split.train.splice(0, 2);
    writeFileSync(join(dir, 'split.json'), JSON.stringify(split));
    const error = await prepareExperiment(config, 'test').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StageError);
    expect((error as StageError).stage).toBe('preflight');
    expect((error as Error).message).toContain(`2 entities are in the profiles but in neither train nor test: ${dropped.map((d) => JSON.stringify(d)).sort().join(', ')}`);
  });
});

describe('prepareExperiment on Parquet inputs', () => {
  const fixtures = join(__dirname, '..', '..', '..', 'data', 'src', 'testing', 'parquet');

  it('given profiles and responses DuckDB wrote with zstd, v2 pages and DECIMAL values, when prepared, then it plans (parquetjs-lite threw a bare string here, and the failure had an empty message)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'assay-parquet-'));
    const config = ExperimentConfig.parse({
      name: 'parquet-test',
      method: 'llm_zero_shot',
      data: {
        profiles: join(fixtures, 'profiles-zstd-v2.parquet'),
        responses: join(fixtures, 'responses-zstd-v2.parquet'),
        items: join(fixtures, 'items-snappy.parquet'),
        split: join(dir, 'split.json'),
      },
      split: { seed: 1, test_fraction: 0.34 },
      model: { id: 'sim/llm-8b', base_url: 'http://127.0.0.1:9/v1' },
      output_root: '/tmp/unused',
    });
    const prepared = await prepareExperiment(config, 'test');
    expect(prepared.splitInfo).toMatchObject({ train: 2, test: 1, created: true });
    expect(prepared.warnings.some((w) => w.includes('1 row(s) with an empty value skipped'))).toBe(true);
  });
});
