import { mkdtempSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSink } from './file-sink';
import { hashTree, TreeHasher } from './tree-hash';

describe('FileSink', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'assay-sink-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('writes folders and files in order, and hashes the bytes it wrote', async () => {
    const hasher = new TreeHasher();
    const sink = new FileSink(join(root, 'ok'), hasher);
    const files: string[] = [];
    for (let d = 0; d < 5; d++) {
      await sink.mkdir(String(d));
      for (let f = 0; f < 100; f++) {
        files.push(`${d}/${f}.txt`);
        // Non-ASCII text: the hash must be of the UTF-8 bytes on disk, not of UTF-16 code units.
        await sink.write(`${d}/${f}.txt`, `file ${d}/${f} — é ✓\n`);
      }
    }
    await sink.close();
    const onDisk = await readFile(join(root, 'ok', '4', '99.txt'));
    expect(onDisk.toString('utf8')).toBe('file 4/99 — é ✓\n');
    expect(hasher.files).toEqual([...files].sort());
    expect(hasher.digest()).toBe(await hashTree(join(root, 'ok'), files));
  });

  it('reports a failed write instead of losing it', async () => {
    const sink = new FileSink(root, new TreeHasher());
    await sink.write('missing-folder/x.txt', 'x');
    await expect(sink.close()).rejects.toThrow(/ENOENT/);
  });

  it('refuses a path written twice', async () => {
    const sink = new FileSink(root, new TreeHasher());
    await sink.write('twice.txt', 'a');
    await sink.write('twice.txt', 'b');
    await expect(sink.close()).rejects.toThrow(/twice\.txt was recorded twice/);
  });
});
