/**
 * Timing check for writeRunDirectory at production scale (589 entities x 72 items, ~12 KB
 * prompts); not a test. The report lib has no runtime path aliases, so plain tsc output runs:
 *   npx tsc --outDir /tmp/bench-out -p <tsconfig extending ./tsconfig.json, including libs/report>
 *   NODE_PATH=$PWD/node_modules node /tmp/bench-out/libs/report/scripts/bench-run-directory.js [dir]
 * Prints the wall time, the file count and the peak RSS; the tree is left in place for inspection.
 */
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeRunDirectory } from '../src/run-directory';
import { type ItemSpec, makeRunReport } from '../src/testing/fixtures';

async function main(): Promise<void> {
  const dir = process.argv[2] ?? join(tmpdir(), `assay-report-bench-${process.pid}`);
  const groups = ['Agreeableness', 'Conscientiousness', 'Extraversion', 'Neuroticism', 'Openness', 'Values'];
  const kinds: ItemSpec['kind'][] = ['ordinal', 'binary', 'continuous'];
  const items: ItemSpec[] = [];
  for (let i = 0; i < 72; i++) {
    const kind = kinds[i % 3];
    items.push({ group: groups[i % groups.length], item: `Q${String(i + 1).padStart(2, '0')}`, kind, min: kind === 'binary' ? 0 : 1, max: kind === 'binary' ? 1 : 7 });
  }
  const entities = Array.from({ length: 589 }, (_, i) => `R${String(i + 1).padStart(5, '0')}`);
  const report = makeRunReport({ entities, items, prefixChars: 12000 });
  await rm(dir, { recursive: true, force: true });

  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  const started = process.hrtime.bigint();
  const { files } = await writeRunDirectory(report, dir);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  clearInterval(sampler);
  console.log(
    `${entities.length} x ${items.length} rows -> ${files} files in ${seconds.toFixed(2)} s; peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB; ${dir}`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
