import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Commit abbreviation length. Fixed, because git's own --short length varies between clones. */
const SHORT = 8;

/**
 * The code version that goes into experiment identities: the git commit of `repoDir`, shortened,
 * plus `-dirty` when tracked files differ from it (untracked files don't count). Where git can't
 * answer (no git, not a repository, no commits yet — e.g. inside a built image) the content of
 * `bakedVersionFile` is used instead. Throws when neither gives an answer, since an unknown code
 * version would let results from different code share an identity.
 */
export function resolveCodeVersion(repoDir: string, bakedVersionFile?: string): string {
  const head = git(repoDir, ['rev-parse', '--verify', '--quiet', 'HEAD^{commit}']);
  if (head.ok) {
    const status = git(repoDir, ['status', '--porcelain', '--untracked-files=no']);
    if (!status.ok) throw new Error(`resolveCodeVersion: 'git status' failed in ${repoDir}: ${status.reason}`);
    return `${head.out.trim().slice(0, SHORT)}${status.out.trim() === '' ? '' : '-dirty'}`;
  }
  if (bakedVersionFile !== undefined && existsSync(bakedVersionFile)) {
    const baked = readFileSync(bakedVersionFile, 'utf8').trim();
    if (!/^[A-Za-z0-9._-]+$/.test(baked)) {
      throw new Error(`resolveCodeVersion: baked version file ${bakedVersionFile} must hold one version token (letters, digits, . _ -), found ${JSON.stringify(baked.slice(0, 80))}`);
    }
    return baked;
  }
  const baked = bakedVersionFile === undefined ? 'no baked version file was given' : `baked version file ${bakedVersionFile} does not exist`;
  throw new Error(
    `resolveCodeVersion: cannot determine the code version of ${repoDir}: git gave no commit (${head.reason}) and ${baked}. ` +
      'Commit the code (experiment identities include the commit), or bake a version file at build time.',
  );
}

type GitResult = { ok: true; out: string } | { ok: false; reason: string };

function git(cwd: string, args: string[]): GitResult {
  // A failing git is an expected answer here (no repo / no commits); the reason is kept and
  // reported if nothing else resolves the version.
  try {
    return { ok: true, out: execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { status?: number | null; stderr?: string };
    if (e.code === 'ENOENT' && !existsSync(cwd)) return { ok: false, reason: `directory ${cwd} does not exist` };
    if (e.code === 'ENOENT') return { ok: false, reason: 'git is not installed' };
    const stderr = (e.stderr ?? '').toString().trim();
    if (args[0] === 'rev-parse' && e.status === 1 && stderr === '') return { ok: false, reason: 'the repository has no commits yet' };
    return { ok: false, reason: stderr || e.message };
  }
}

/** The repository root: the nearest folder above `from` holding package.json (from sources or dist/ alike). */
export function repoRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${from}`);
    dir = up;
  }
  return dir;
}
