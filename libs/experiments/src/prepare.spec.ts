import { ExperimentConfig } from '@assay/config';
import { appendFileSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dataChangedSince, prepareExperiment, StageError } from './prepare';

describe('dataChangedSince', () => {
  const sample = join(__dirname, '..', '..', '..', 'data', 'sample');
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
