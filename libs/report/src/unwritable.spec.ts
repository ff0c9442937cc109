import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeRunDirectory } from './run-directory';
import { hostileReport } from './testing/fixtures';
import { outputNotWritable } from './unwritable';

describe('outputNotWritable', () => {
  it('given a run directory under a regular file, when written, then the OS error is named with its path, as not retryable', async () => {
    const root = mkdtempSync(join(tmpdir(), 'assay-unwritable-'));
    writeFileSync(join(root, 'output_root'), 'a file where a folder should be');
    const runDir = join(root, 'output_root', 'llm_zero_shot', 'experiments', 'x');
    const error = await writeRunDirectory(hostileReport(), runDir).then(
      () => null,
      (e: unknown) => e,
    );
    const message = outputNotWritable(error, 'the run directory of x');
    expect(message).toMatch(/^cannot write the run directory of x: ENOTDIR: not a directory, mkdir '.*output_root\/llm_zero_shot\/experiments\/x'$/);
  });

  it('given permission and read-only errors without the path in their message, then the path is added', () => {
    const eacces = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES', path: '/out/m/registry.json' });
    expect(outputNotWritable(eacces, 'registry.json')).toBe('cannot write registry.json: /out/m/registry.json: EACCES: permission denied');
    expect(outputNotWritable(Object.assign(new Error('EROFS: read-only file system, open \'/ro/x\''), { code: 'EROFS', path: '/ro/x' }), 'registry.json')).toBe(
      "cannot write registry.json: EROFS: read-only file system, open '/ro/x'",
    );
  });

  it('given mkdir -p with a file where a folder should be (EEXIST), then not retryable; another EEXIST is left to the caller', () => {
    const mkdir = Object.assign(new Error("EEXIST: file already exists, mkdir '/out/m'"), { code: 'EEXIST', syscall: 'mkdir', path: '/out/m' });
    expect(outputNotWritable(mkdir, 'registry.json')).toBe("cannot write registry.json: EEXIST: file already exists, mkdir '/out/m'");
    expect(outputNotWritable(Object.assign(new Error('EEXIST: link'), { code: 'EEXIST', syscall: 'link' }), 'x')).toBeNull();
  });

  it('given errors retrying may fix or that are not about the filesystem, then null', () => {
    expect(outputNotWritable(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'x')).toBeNull();
    expect(outputNotWritable(Object.assign(new Error('EBUSY'), { code: 'EBUSY' }), 'x')).toBeNull();
    expect(outputNotWritable(new Error('plain'), 'x')).toBeNull();
    expect(outputNotWritable('a string', 'x')).toBeNull();
    expect(outputNotWritable(null, 'x')).toBeNull();
  });
});
