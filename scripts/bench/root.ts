import { spawn } from 'node:child_process';
import { repoRoot } from '@assay/config';
import { cpSync, existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';


/** The repository being benchmarked: where outputs/.bench goes, whichever copy of dist/ runs. */
export const ROOT = process.env.ASSAY_BENCH_REPO ?? repoRoot(__dirname);

/** The build this process runs from (the private copy, once re-executed): what it spawns. */
export const CODE_ROOT = repoRoot(__dirname);

/** Set in the snapshot's process; its value is the snapshot folder. */
export const IN_SNAPSHOT = process.env.ASSAY_BENCH_SNAPSHOT !== undefined;

const REQUIRED = [
  'dist/code-version.txt',
  'dist/scripts/bench.js',
  'dist/libs/testing/src/simulator/main.js',
  'dist/services/cli/src/main.js',
  ...['planner', 'inference-worker', 'evaluator', 'reporter'].map((s) => `dist/services/${s}/src/main.js`),
];

/**
 * Runs the bench from a private copy of the build (outputs/.bench/build/), so that a parallel
 * `npm run build` (which starts with rm -rf dist) cannot pull the code out from under services
 * that run for minutes, and so that nothing is ever added to the shared dist/.
 *
 * The copy also works around libs/testing/src/fixtures/stack.ts: its REPO_ROOT is
 * `__dirname/../../../..`, the repo root from the TypeScript source (jest) but `<root>/dist`
 * from compiled code, so startStack spawns `<root>/dist/dist/...` and `<root>/dist/bin/assay.js`.
 * Inside the private copy two symlinks (dist/dist -> ., dist/bin -> ../bin) make those resolve.
 */
export async function reexecFromSnapshot(argv: string[]): Promise<number> {
  const missing = REQUIRED.filter((f) => !existsSync(join(ROOT, f)));
  if (missing.length) throw new Error(`the build is incomplete (${missing.join(', ')}): run 'npm run build' first (or wait for a parallel build to finish)`);
  const snap = join(ROOT, 'outputs', '.bench', 'build');
  rmSync(snap, { recursive: true, force: true });
  mkdirSync(snap, { recursive: true });
  cpSync(join(ROOT, 'dist'), join(snap, 'dist'), { recursive: true, filter: (src) => !src.startsWith(join(ROOT, 'dist', 'outputs')) });
  cpSync(join(ROOT, 'bin'), join(snap, 'bin'), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(snap, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(snap, 'node_modules'), 'dir');
  // Only if stack.ts still computes <root>/dist as its root (see above).
  const { REPO_ROOT } = require(join(snap, 'dist/libs/testing/src/fixtures/stack.js')) as { REPO_ROOT: string };
  if (!existsSync(join(REPO_ROOT, 'package.json'))) {
    symlinkSync('.', join(REPO_ROOT, 'dist'));
    symlinkSync(join('..', 'bin'), join(REPO_ROOT, 'bin'));
  }
  const child = spawn(process.execPath, [join(snap, 'dist/scripts/bench.js'), ...argv], {
    cwd: ROOT,
    env: { ...process.env, ASSAY_BENCH_REPO: ROOT, ASSAY_BENCH_SNAPSHOT: snap },
    stdio: 'inherit',
  });
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  process.on('SIGINT', forward('SIGINT'));
  process.on('SIGTERM', forward('SIGTERM'));
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}

/** The note for results.md when the stack.ts workaround was needed. */
export function stackRootNote(): string | null {
  const snap = process.env.ASSAY_BENCH_SNAPSHOT;
  if (!snap) return null;
  const { REPO_ROOT } = require('../../libs/testing/src/fixtures/stack') as { REPO_ROOT: string };
  return REPO_ROOT === join(snap, 'dist')
    ? `libs/testing/src/fixtures/stack.ts: REPO_ROOT = __dirname/../../../.. is <repo>/dist when compiled, so startStack from dist/ spawns dist/dist/... (bridged by symlinks inside the bench's private copy of the build)`
    : null;
}
