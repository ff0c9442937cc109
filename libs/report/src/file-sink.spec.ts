import { mkdtempSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSink } from './file-sink';

describe('FileSink', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'assay-sink-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('writes folders and files in order', async () => {
    const sink = new FileSink();
    for (let d = 0; d < 5; d++) {
      await sink.mkdir(join(root, 'ok', String(d)));
      for (let f = 0; f < 100; f++) await sink.write(join(root, 'ok', String(d), `${f}.txt`), `file ${d}/${f}\n`);
    }
    await sink.close();
    expect(await readFile(join(root, 'ok', '4', '99.txt'), 'utf8')).toBe('file 4/99\n');
  });

  it('reports a failed write instead of losing it', async () => {
    const sink = new FileSink();
    await sink.write(join(root, 'missing-folder', 'x.txt'), 'x');
    await expect(sink.close()).rejects.toThrow(/ENOENT/);
  });
});
