import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkSegments, isInside, MAX_SEGMENTS, resolveInside } from './safe-path';

/** What the router hands over: the URL path after files/, split on '/', each segment decoded once. */
function routerSegments(rawPath: string): string[] {
  return rawPath.split('/').map((s) => decodeURIComponent(s));
}

describe('checkSegments', () => {
  it.each([
    ['README.txt'],
    ['groups/_index.csv'],
    ['groups/study_1/entities/p~2e9/q1.txt'],
    ['diagnostics/actual_vs_predicted.csv'],
    ['logs/inference-worker.log'],
    ['groups/~2e~2e/x.txt'], // an id '..' as encodePathSegment writes it
    ['a..b'], // dots inside a name are fine
  ])('accepts the run-directory path %s', (path) => {
    const checked = checkSegments(path.split('/'));
    expect(checked).toEqual({ ok: true, segments: path.split('/'), relative: path });
  });

  it('treats no path, an empty list and a trailing slash as the directory itself or a folder', () => {
    expect(checkSegments(undefined)).toEqual({ ok: true, segments: [], relative: '' });
    expect(checkSegments([])).toEqual({ ok: true, segments: [], relative: '' });
    expect(checkSegments(['groups', ''])).toEqual({ ok: true, segments: ['groups'], relative: 'groups' });
  });

  // Every way of writing "somewhere else" we know of, as raw URL text after /files/.
  const hostile: Array<[string, RegExp]> = [
    ['..', /relative navigation/],
    ['../package.json', /relative navigation/],
    ['../../../../etc/passwd', /relative navigation/],
    ['groups/../../x', /relative navigation/],
    ['.', /relative navigation/],
    ['./README.txt', /relative navigation/],
    ['%2e%2e', /relative navigation/],
    ['%2E%2E/%2E%2E/package.json', /relative navigation/],
    ['..%2fpackage.json', /encoded '\/'/],
    ['..%2F..%2F..%2Fetc%2Fpasswd', /encoded '\/'/],
    ['%2fetc%2fpasswd', /encoded '\/'/],
    ['%252e%252e/%252e%252e/package.json', /more than once/],
    ['%252e%252e%252fpackage.json', /more than once/],
    ['..%5c..%5cpackage.json', /backslash/],
    ['..\\..\\package.json', /backslash/],
    ['\\etc\\passwd', /backslash/],
    ['/etc/passwd', /empty segment/],
    ['//etc/passwd', /empty segment/],
    ['groups//x', /empty segment/],
    ['C:%5cWindows%5cwin.ini', /backslash|':'/],
    ['C:', /':'/],
    ['README.txt%00.png', /NUL/],
    ['%00', /NUL/],
    ['README.txt%0a', /control/],
    ['%c2%85', /control/], // U+0085 next line
    ['.building-1234/README.txt', /starts with '\.'/],
    ['.git', /starts with '\.'/],
    ['...', /starts with '\.'/],
    ['%ef%bc%8e%ef%bc%8e/package.json', /outside \[A-Za-z0-9._~-\]/], // fullwidth dots
    ['%e2%80%a5/package.json', /outside/], // two-dot leader
    ['a%e2%88%95b', /outside/], // division slash
    ['with space.txt', /outside/],
    ['README.txt;.png', /outside/],
    ['x?y', /outside/],
    ['x*', /outside/],
    ['~%2f..', /encoded '\/'/],
  ];
  it.each(hostile)('refuses %s', (raw, reason) => {
    const checked = checkSegments(routerSegments(raw));
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.reason).toMatch(reason);
  });

  it('refuses raw strings that are not segment lists, overlong names and deep paths', () => {
    expect(checkSegments('README.txt' as unknown as string[]).ok).toBe(false);
    expect(checkSegments([1 as unknown as string]).ok).toBe(false);
    expect(checkSegments(['a'.repeat(256)]).ok).toBe(false);
    expect(checkSegments(['a'.repeat(255)]).ok).toBe(true);
    expect(checkSegments(Array.from({ length: MAX_SEGMENTS + 1 }, () => 'a')).ok).toBe(false);
  });

  it('never accepts a path whose segments contain a separator or navigation (random fuzz)', () => {
    const alphabet = ['.', '/', '\\', '%', '2', 'e', 'f', 'a', '\0', ':', '~', '_'];
    let seed = 42;
    const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    for (let n = 0; n < 5000; n++) {
      const len = 1 + (next() % 10);
      let s = '';
      for (let i = 0; i < len; i++) s += alphabet[next() % alphabet.length];
      const checked = checkSegments(s.split('/'));
      if (checked.ok) {
        for (const seg of checked.segments) {
          expect(seg).toMatch(/^[A-Za-z0-9_~-][A-Za-z0-9._~-]*$/);
          expect(seg).not.toBe('..');
        }
      }
    }
  });
});

describe('isInside', () => {
  it.each([
    ['/runs/a', '/runs/a', true],
    ['/runs/a', '/runs/a/README.txt', true],
    ['/runs/a', '/runs/a/..foo', true],
    ['/runs/a', '/runs/ab', false],
    ['/runs/a', '/runs/a-other/x', false],
    ['/runs/a', '/runs', false],
    ['/runs/a', '/etc/passwd', false],
    ['/runs/a', '/runs/a/../b', false],
    ['/', '/etc', true],
    ['runs/a', 'runs/a/x', false], // relative paths are never trusted
  ])('isInside(%s, %s) = %s', (root, candidate, expected) => {
    expect(isInside(root, candidate)).toBe(expected);
  });
});

describe('resolveInside (real file system, symlinks)', () => {
  let base: string;
  let root: string;
  beforeAll(() => {
    base = realpathSync(mkdtempSync(join(tmpdir(), 'assay-safe-path-')));
    root = join(base, 'outputs', 'm', 'experiments', 'abcdef12_x');
    mkdirSync(join(root, 'groups', 'g1'), { recursive: true });
    writeFileSync(join(root, 'README.txt'), 'inside');
    writeFileSync(join(root, 'groups', '_index.csv'), 'a,b\n');
    writeFileSync(join(base, 'secret.txt'), 'outside');
    mkdirSync(join(base, 'outputs', 'm', 'experiments', 'abcdef12_x-sibling'));
    writeFileSync(join(base, 'outputs', 'm', 'experiments', 'abcdef12_x-sibling', 'x.txt'), 'sibling');
    symlinkSync(join(base, 'secret.txt'), join(root, 'link-out.txt'));
    symlinkSync('/etc', join(root, 'etc-link'));
    symlinkSync('../../../../..', join(root, 'up'));
    symlinkSync(join(root, 'README.txt'), join(root, 'groups', 'readme-link.txt'));
    symlinkSync(join(base, 'outputs', 'm', 'experiments', 'abcdef12_x-sibling'), join(root, 'sib'));
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('resolves files and folders of the run directory', async () => {
    expect(await resolveInside(root, ['README.txt'])).toEqual({ kind: 'file', path: join(root, 'README.txt'), relative: 'README.txt' });
    expect(await resolveInside(root, ['groups', '_index.csv'])).toMatchObject({ kind: 'file', relative: 'groups/_index.csv' });
    expect(await resolveInside(root, ['groups'])).toMatchObject({ kind: 'directory', path: join(root, 'groups') });
    expect(await resolveInside(root, undefined)).toMatchObject({ kind: 'directory', path: root, relative: '' });
  });

  it('follows a symlink that stays inside', async () => {
    expect(await resolveInside(root, ['groups', 'readme-link.txt'])).toEqual({ kind: 'file', path: join(root, 'README.txt'), relative: 'groups/readme-link.txt' });
  });

  it.each([[['link-out.txt']], [['etc-link', 'passwd']], [['up', 'etc', 'passwd']], [['sib', 'x.txt']], [['etc-link']]])(
    'reports a symlink leading outside (%j) as not found',
    async (segments) => {
      expect(await resolveInside(root, segments)).toMatchObject({ kind: 'not-found' });
    },
  );

  it('refuses traversal lexically before touching the disk', async () => {
    const calls: string[] = [];
    const fs = { realpath: async (p: string) => (calls.push(p), p), lstat: async () => ({ isFile: () => true, isDirectory: () => false }) };
    for (const segments of [['..', 'secret.txt'], ['..%2fsecret.txt'], ['../secret.txt'], ['', 'etc', 'passwd'], ['..\\secret.txt']]) {
      expect(await resolveInside(root, segments, fs)).toMatchObject({ kind: 'invalid' });
    }
    expect(calls).toEqual([]);
  });

  it('answers not-found for missing files and a run directory not written yet', async () => {
    expect(await resolveInside(root, ['nope.txt'])).toMatchObject({ kind: 'not-found' });
    expect(await resolveInside(root, ['README.txt', 'x'])).toMatchObject({ kind: 'not-found' });
    expect(await resolveInside(join(base, 'missing'), ['README.txt'])).toMatchObject({ kind: 'not-found', reason: /not been written/ });
  });

  it('lets a file-system error other than a missing path surface instead of answering not-found', async () => {
    const denied = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    const fs = { realpath: async (p: string) => { if (p === root) return root; throw denied; }, lstat: async () => ({ isFile: () => true, isDirectory: () => false }) };
    await expect(resolveInside(root, ['README.txt'], fs)).rejects.toBe(denied);
    const unreadableRoot = { realpath: async () => { throw denied; }, lstat: fs.lstat };
    await expect(resolveInside(root, ['README.txt'], unreadableRoot)).rejects.toBe(denied);
  });

  it('never resolves to a path outside, even with a file system that lies about a symlink', async () => {
    const fs = { realpath: async (p: string) => (p === root ? root : '/etc/passwd'), lstat: async () => ({ isFile: () => true, isDirectory: () => false }) };
    expect(await resolveInside(root, ['README.txt'], fs)).toMatchObject({ kind: 'not-found' });
  });
});
