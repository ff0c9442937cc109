import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listDirectory, openRegularFile } from './run-files';

describe('run-files', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'assay-run-files-'));
    mkdirSync(join(dir, 'groups'));
    writeFileSync(join(dir, 'README.txt'), 'hello');
    writeFileSync(join(dir, 'B.csv'), 'x');
    writeFileSync(join(dir, '.hidden'), 'x');
    symlinkSync('/etc/passwd', join(dir, 'link'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lists entries in code-point order with types and sizes, hiding dot entries and not following symlinks', async () => {
    expect(await listDirectory(dir)).toEqual([
      { name: 'B.csv', type: 'file', size: 1 },
      { name: 'README.txt', type: 'file', size: 5 },
      { name: 'groups', type: 'directory' },
      { name: 'link', type: 'other' },
    ]);
  });

  it('opens regular files only, and never through a symlink', async () => {
    const opened = await openRegularFile(join(dir, 'README.txt'));
    expect(opened?.size).toBe(5);
    await opened?.handle.close();
    expect(await openRegularFile(join(dir, 'link'))).toBeNull();
    expect(await openRegularFile(join(dir, 'groups'))).toBeNull();
    expect(await openRegularFile(join(dir, 'missing'))).toBeNull();
  });
});
