import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseCsv } from 'csv-parse/sync';
import type { Stack } from '../libs/testing/src/fixtures/stack';
import type { ParquetContents } from '../libs/report/src/testing/read-parquet';

/**
 * Fingerprints the run directories of an llm_zero_shot run of the sample data and of a hostile
 * data set (ids with '/', '..', quotes, braces, unicode: make-sample-data --hostile-ids), each run
 * through the whole stack (simulator, four services, CLI) of a built checkout:
 *
 *     node dist/scripts/run-dir-hash.js [--root <built checkout>] [--files]
 *
 * It prints one hash per run tree, so a refactor can show that it leaves the bytes alone
 * (run it on the code before and after). It is a script and not a golden test on purpose: README
 * contents change with features, and the hash is compared between two builds, not to a constant.
 *
 * The runs use one worker with one model call at a time, so which worker answered and how much of
 * each prompt the simulator's prefix cache had seen are the same in every run. What still
 * legitimately differs between two runs of the same code is masked before hashing, and only
 * that (found by diffing the trees of two runs; --files lists per-file hashes for that):
 *  - the experiment identity, the config hash and the code version: the config names the stack's
 *    simulator port and its scratch folders (random per stack and per run), and the git commit is part of
 *    the identity, so two commits of identical behaviour name their run directories differently.
 *    They, the port's URL and the scratch folders are replaced by placeholders, in paths and
 *    contents alike;
 *  - wall-clock times (ISO 8601 timestamps) and per-call latencies (`latency_ms` in the prompt
 *    files, the CSV files and the parquet files, whose rows are hashed decoded);
 *  - logs/ (time-stamped lines with durations, interleaved as the services happened to write them).
 * Run it on a committed checkout: a `-dirty` code version is longer, and the README underlines
 * its title (which holds the identity) to the title's length.
 */
const { values } = parseArgs({ options: { root: { type: 'string' }, files: { type: 'boolean' }, keep: { type: 'boolean' } }, strict: true });
const root = resolve(values.root ?? join(__dirname, '..', '..'));
// The stack and the parquet reader of the checkout being measured, so the script can fingerprint older builds.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { startStack, writeConfig } = require(join(root, 'dist/libs/testing/src/fixtures/stack.js')) as typeof import('../libs/testing/src/fixtures/stack');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { readParquet } = require(join(root, 'dist/libs/report/src/testing/read-parquet.js')) as { readParquet(path: string): ParquetContents };

const TIMESTAMP = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)/g;
/** Files whose every line carries a wall-clock time or a duration. */
const SKIPPED_FOLDER = 'logs/';
const VOLATILE_COLUMNS = new Set(['latencyMs', 'latency_ms', 'startedAt', 'started_at', 'finishedAt', 'finished_at']);
const LATENCY_LINE = /^latency_ms: [0-9.]+$/gm;

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

function mask(text: string, secrets: Array<[string, string]>): string {
  let out = text;
  for (const [value, placeholder] of secrets) out = out.split(value).join(placeholder);
  return out.replace(TIMESTAMP, '<time>').replace(LATENCY_LINE, 'latency_ms: <ms>');
}

function withoutVolatileColumns(rows: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
  return rows.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !VOLATILE_COLUMNS.has(k))));
}

function csvRows(file: string): string {
  const rows = parseCsv(readFileSync(file, 'utf8'), { columns: true, relax_column_count: false }) as Array<Record<string, unknown>>;
  return JSON.stringify(withoutVolatileColumns(rows));
}

function parquetRows(file: string): string {
  const { columns, rows } = readParquet(file);
  return JSON.stringify(columns) + JSON.stringify(withoutVolatileColumns(rows), (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

function treeHash(runDir: string, volatile: Record<string, string>): { hash: string; files: Array<[string, string]> } {
  // Longest first: the identity contains the code version.
  const secrets = Object.entries(volatile)
    .sort(([, a], [, b]) => b.length - a.length)
    .map(([name, value]): [string, string] => [value, `<${name}>`]);
  const files = filesUnder(runDir)
    .map((f) => relative(runDir, f))
    .filter((f) => !f.startsWith(SKIPPED_FOLDER))
    .sort()
    .map((f): [string, string] => {
      const abs = join(runDir, f);
      const content = f.endsWith('.parquet') ? parquetRows(abs) : f.endsWith('.csv') ? csvRows(abs) : readFileSync(abs, 'utf8');
      return [mask(f, secrets), createHash('sha256').update(mask(content, secrets)).digest('hex')];
    });
  const hash = createHash('sha256');
  for (const [f, h] of files) hash.update(`${f}\0${h}\n`);
  return { hash: hash.digest('hex'), files };
}

async function runOne(stack: Stack, name: string, dataDir: string, overrides: Record<string, unknown>): Promise<{ name: string; hash: string; files: Array<[string, string]> }> {
  const { path } = writeConfig(stack, name, { ...overrides, model: { id: 'sim/llm-8b', base_url: stack.simulatorUrl, concurrency: 1 } });
  const run = await stack.cli(['run', path]);
  if (run.code !== 0) throw new Error(`assay run ${name} exited ${run.code}:\n${run.stderr.slice(-3000)}`);
  const runDir = run.stdout.trim().split('\n').pop()!;
  if (!statSync(runDir).isDirectory()) throw new Error(`assay run ${name} printed ${runDir}, not a run directory`);
  const metadata = JSON.parse(readFileSync(join(runDir, 'metadata.json'), 'utf8')) as { identity: string; codeVersion: string; configHash: string };
  const { identity, codeVersion, configHash } = metadata;
  return { name, ...treeHash(runDir, { identity, codeVersion, configHash, simulator: stack.simulatorUrl, scratch: stack.logDir, data: dataDir }) };
}

async function main(): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'run-dir-hash-'));
  // The sample data is copied to the scratch folder: the README aligns its data table to the
  // paths' length, so data read from checkouts at paths of different lengths would differ.
  const sample = join(scratch, 'sample');
  cpSync(join(root, 'data', 'sample'), sample, { recursive: true });
  const nasty = join(scratch, 'nasty');
  execFileSync(
    process.execPath,
    [join(root, 'dist/scripts/make-sample-data.js'), '--out', nasty, '--entities', '12', '--groups', '2', '--items-per-group', '3', '--features', '6', '--seed', '11', '--hostile-ids', '--split', join(nasty, 'split.json'), '--split-seed', '42', '--test-fraction', '0.2'],
    { stdio: 'ignore' },
  );
  const stack = await startStack({ workers: 1 });
  try {
    const results = [
      await runOne(stack, 'demo', sample, { data: { profiles: join(sample, 'profiles.csv'), responses: join(sample, 'responses.csv'), items: join(sample, 'items.csv'), split: join(sample, 'split.json') } }),
      await runOne(stack, 'nasty', nasty, { data: { profiles: join(nasty, 'profiles.csv'), responses: join(nasty, 'responses.csv'), items: join(nasty, 'items.csv'), split: join(nasty, 'split.json') } }),
    ];
    for (const r of results) {
      console.log(`${r.name}\t${r.hash}`);
      if (values.files) for (const [f, h] of r.files) console.log(`  ${h.slice(0, 16)}  ${f}`);
    }
  } finally {
    await stack.stop();
    if (!values.keep) rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : String(error));
  process.exit(1);
});
