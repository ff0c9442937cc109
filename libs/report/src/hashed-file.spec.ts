import { mkdtempSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HashedFile } from './hashed-file';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'assay-hashed-file-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('HashedFile', () => {
  it('given text appended, when closed, then sha256() is the hash of the bytes on disk', async () => {
    const file = await HashedFile.open(join(root, 'whole.csv'));
    await file.append('a,b\n');
    await file.append('1,✓\n');
    await file.close();
    const onDisk = await readFile(join(root, 'whole.csv'));
    expect(onDisk.toString('utf8')).toBe('a,b\n1,✓\n');
    expect(file.sha256()).toBe(createHash('sha256').update(onDisk).digest('hex'));
  });

  it('given a write still on its way to disk, when aborted, then abort() resolves (the destroyed write is not the error reported) and sha256() refuses', async () => {
    const file = await HashedFile.open(join(root, 'aborted.csv'));
    // A chunk under the stream's buffer size: append() hands it to the file system and returns
    // without waiting for it, so the write is in flight when abort() destroys the stream, and the
    // stream fails it with ERR_STREAM_DESTROYED.
    await file.append('x'.repeat(1000));
    await file.abort();
    await file.abort(); // a second abort is a no-op
    expect(() => file.sha256()).toThrow();
  });

  it('given sha256() before close, then it says the file must be closed first', async () => {
    const file = await HashedFile.open(join(root, 'open.csv'));
    expect(() => file.sha256()).toThrow(/needs the file closed first/);
    await file.close();
  });
});
