import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveCodeVersion } from './index';

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', '-c', 'commit.gpgsign=false', ...args], {
    cwd,
    encoding: 'utf8',
  }).trim();
}
function tempDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'assay-codever-'));
}
function committedRepo(): string {
  const dir = tempDir();
  git(dir, 'init', '-q');
  writeFileSync(path.join(dir, 'a.txt'), 'one\n');
  git(dir, 'add', 'a.txt');
  git(dir, 'commit', '-q', '-m', 'first');
  return dir;
}

describe('resolveCodeVersion', () => {
  it('given a clean repository, when resolved, then it is the first 8 chars of HEAD', () => {
    const dir = committedRepo();
    expect(resolveCodeVersion(dir)).toBe(git(dir, 'rev-parse', 'HEAD').slice(0, 8));
  });

  it('given a modified tracked file, when resolved, then it is marked -dirty', () => {
    const dir = committedRepo();
    writeFileSync(path.join(dir, 'a.txt'), 'two\n');
    expect(resolveCodeVersion(dir)).toBe(`${git(dir, 'rev-parse', 'HEAD').slice(0, 8)}-dirty`);
  });

  it('given a staged but uncommitted change, when resolved, then it is marked -dirty', () => {
    const dir = committedRepo();
    writeFileSync(path.join(dir, 'b.txt'), 'new\n');
    git(dir, 'add', 'b.txt');
    expect(resolveCodeVersion(dir)).toMatch(/^[0-9a-f]{8}-dirty$/);
  });

  it('given only an untracked file, when resolved, then it is clean', () => {
    const dir = committedRepo();
    writeFileSync(path.join(dir, 'scratch.txt'), 'x\n');
    expect(resolveCodeVersion(dir)).toMatch(/^[0-9a-f]{8}$/);
  });

  it('given a subfolder of the repository, when resolved, then the repository commit is found', () => {
    const dir = committedRepo();
    const sub = path.join(dir, 'sub');
    mkdirSync(sub);
    expect(resolveCodeVersion(sub)).toBe(git(dir, 'rev-parse', 'HEAD').slice(0, 8));
  });

  it('given a repository with no commits and no baked file, when resolved, then it throws saying so', () => {
    const dir = tempDir();
    git(dir, 'init', '-q');
    expect(() => resolveCodeVersion(dir)).toThrow(/no commits yet.*no baked version file was given.*Commit the code/);
  });

  it('given no repository but a baked version file, when resolved, then the baked content is used', () => {
    const dir = tempDir();
    const baked = path.join(dir, 'VERSION');
    writeFileSync(baked, 'abc12345\n');
    expect(resolveCodeVersion(dir, baked)).toBe('abc12345');
  });

  it('given a repository with a commit and a baked file, when resolved, then git wins', () => {
    const dir = committedRepo();
    const baked = path.join(dir, 'VERSION');
    writeFileSync(baked, 'stale000\n');
    git(dir, 'add', 'VERSION');
    git(dir, 'commit', '-q', '-m', 'baked');
    expect(resolveCodeVersion(dir, baked)).toBe(git(dir, 'rev-parse', 'HEAD').slice(0, 8));
  });

  it('given a missing baked file, when git has no answer, then the error names the file', () => {
    const dir = tempDir();
    expect(() => resolveCodeVersion(dir, path.join(dir, 'VERSION'))).toThrow(/baked version file .*VERSION does not exist/);
  });

  it('given a baked file with junk, when resolved, then it throws', () => {
    const dir = tempDir();
    const baked = path.join(dir, 'VERSION');
    writeFileSync(baked, 'two words\n');
    expect(() => resolveCodeVersion(dir, baked)).toThrow(/must hold one version token/);
  });

  it('given this repository, when resolved, then it yields a commit version or a clear error', () => {
    const repo = path.resolve(__dirname, '../../..');
    let hasCommit = true;
    try {
      git(repo, 'rev-parse', '--verify', '--quiet', 'HEAD');
    } catch {
      hasCommit = false; // the lead may not have committed yet; both states are checked
    }
    if (hasCommit) expect(resolveCodeVersion(repo)).toMatch(/^[0-9a-f]{8}(-dirty)?$/);
    else expect(() => resolveCodeVersion(repo)).toThrow(/cannot determine the code version of .*: git gave no commit/);
  });
});
