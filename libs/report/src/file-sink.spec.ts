import { mkdtempSync } from 'node:fs';
import { lstat, mkdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
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
    expect(hasher.size).toBe(files.length);
    expect(await hasher.digest()).toBe(await hashTree(join(root, 'ok'), files));
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

  it('hard-links files identical to the tree it replaces, and writes the others', async () => {
    const old = join(root, 'old');
    await mkdir(join(old, 'd'), { recursive: true });
    await writeFile(join(old, 'd', 'same.txt'), 'unchanged ✓\n');
    await writeFile(join(old, 'd', 'changed.txt'), 'before\n');
    await writeFile(join(old, 'd', 'longer.txt'), 'same start');
    // A symlink to a file with the right bytes: never followed, never linked.
    await writeFile(join(root, 'outside.txt'), 'via symlink\n');
    await symlink(join(root, 'outside.txt'), join(old, 'd', 'link.txt'));

    const hasher = new TreeHasher();
    const sink = new FileSink(join(root, 'new'), hasher, old);
    await sink.mkdir('d');
    const files: Record<string, string> = {
      'd/same.txt': 'unchanged ✓\n',
      'd/changed.txt': 'after\n',
      'd/longer.txt': 'same start, then more',
      'd/link.txt': 'via symlink\n',
      'd/added.txt': 'new file\n',
    };
    for (const [path, text] of Object.entries(files)) await sink.write(path, text);
    await sink.close();

    expect(sink.linkedFiles).toBe(1);
    const inode = async (path: string) => (await stat(path)).ino;
    expect(await inode(join(root, 'new', 'd', 'same.txt'))).toBe(await inode(join(old, 'd', 'same.txt')));
    expect(await inode(join(root, 'new', 'd', 'link.txt'))).not.toBe(await inode(join(root, 'outside.txt')));
    expect((await lstat(join(root, 'new', 'd', 'link.txt'))).isFile()).toBe(true);
    expect(await hasher.digest()).toBe(await hashTree(join(root, 'new'), Object.keys(files)));

    // Deleting the old tree, as the swap does, leaves the new one whole.
    await rm(old, { recursive: true });
    for (const [path, text] of Object.entries(files)) expect(await readFile(join(root, 'new', path), 'utf8')).toBe(text);
  });
});
