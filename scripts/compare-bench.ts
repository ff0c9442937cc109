import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ItemDef, Prediction, Sample } from '@assay/contracts';
import { compareRuns, writeComparisonDirectory, type ComparedRun } from '@assay/comparison';
import { mulberry32 } from '@assay/data';

/**
 * `npm run bench:compare` (`npm run build && node dist/scripts/compare-bench.js [--runs N]
 * [--entities N] [--items N] [--resamples N]`): the statistics and files of `assay compare` alone,
 * on synthetic runs of the reference size (5 runs of 589 entities x 72 items, 2,000 resamples), so
 * the number is about the comparison, not the event log. Prints seconds for compareRuns (every
 * run's evaluate() with its bootstrap intervals, the paired bootstraps per pair and group) and for
 * writing the directory, and PASS/MISS against the target. Exits 0 whatever the numbers.
 */

const TARGET_S = 5;

function syntheticRuns(runs: number, entities: number, itemCount: number): ComparedRun[] {
  const groups = 12;
  const items: ItemDef[] = Array.from({ length: itemCount }, (_, i) => ({
    group: `g${String(i % groups).padStart(2, '0')}`,
    item: `q${String(i).padStart(3, '0')}`,
    question: '',
    min: 1,
    max: i % 6 === 0 ? 2 : 5,
    kind: i % 6 === 0 ? 'binary' : 'ordinal',
  }));
  const truth = mulberry32(1);
  const samples: Sample[] = [];
  for (let e = 0; e < entities; e++) {
    for (const it of items) samples.push({ entityId: `e${String(e).padStart(4, '0')}`, group: it.group, item: it.item, actual: it.min + Math.floor(truth() * (it.max - it.min + 1)) });
  }
  const byKey = new Map(items.map((i) => [`${i.group}/${i.item}`, i]));
  return Array.from({ length: runs }, (_, r) => {
    const rand = mulberry32(100 + r);
    const predictions: Prediction[] = samples.map((s) => {
      const it = byKey.get(`${s.group}/${s.item}`)!;
      const off = rand() < 0.3 + 0.05 * r ? (rand() < 0.5 ? -1 : 1) : 0;
      const predicted = Math.min(it.max, Math.max(it.min, s.actual + off));
      return { entityId: s.entityId, group: s.group, item: s.item, method: 'llm_zero_shot', predicted, parseStatus: 'ok', outlier: false, metadata: {} };
    });
    return {
      identity: `${(0x10000000 + r).toString(16)}_bench`, method: 'llm_zero_shot', status: 'completed', attempt: 1, evaluationRound: 1, evaluatorVersion: 'bench',
      config: { prompt: { system: `prompt ${r}` } }, dataHashes: { profiles: 'p', responses: 'r', items: 'i', split: 's' }, items, samples, predictions,
    };
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { runs: { type: 'string', default: '5' }, entities: { type: 'string', default: '589' }, items: { type: 'string', default: '72' }, resamples: { type: 'string', default: '2000' } },
  });
  const runs = syntheticRuns(Number(values.runs), Number(values.entities), Number(values.items));
  const resamples = Number(values.resamples);
  const root = mkdtempSync(join(tmpdir(), 'assay-compare-bench-'));
  try {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const comparison = compareRuns(runs, { bootstrap: { resamples, seed: 20240611 } });
    const t1 = performance.now();
    const { files } = await writeComparisonDirectory(comparison, root);
    const t2 = performance.now();
    const total = (t2 - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuS = (cpu.user + cpu.system) / 1e6;
    console.log(`compare: ${values.runs} runs x ${values.entities} entities x ${values.items} items, ${resamples} resamples, ${comparison.pairs.length} pairs`);
    console.log(`  compareRuns        ${((t1 - t0) / 1000).toFixed(2)} s`);
    console.log(`  write directory    ${((t2 - t1) / 1000).toFixed(2)} s (${files.length} files)`);
    console.log(`  total              ${total.toFixed(2)} s   target < ${TARGET_S} s: ${total < TARGET_S ? 'PASS' : 'MISS'}`);
 // Wall time suffers on a shared machine; CPU time says what the work itself costs.
    console.log(`  CPU (user+system)  ${cpuS.toFixed(2)} s   load average ${loadavg()[0].toFixed(1)} on ${cpus().length} cores`);
    console.log(`  peak RSS           ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
