import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseExperimentConfig, requireModelSection } from '../libs/config/src';
import { datasetHash, ensureSplit, hashFile } from '../libs/data/src';
import { planBatches, prepareExperiment } from '../libs/experiments/src';
import { makeSampleData } from './make-sample-data';

/**
 * `node dist/scripts/measure-planning.js --dir /tmp/plan-data [--generate]`
 *
 * The planner's lib-level cost at the bench's full size (589 entities x 72 items x 250 features,
 * test fraction 0.8): run once with --generate to write the data, then again (fresh process) to
 * measure prepareExperiment + planBatches: wall time and the process's peak RSS (getrusage
 * maxRSS, so a short spike is not missed) and the heap still held by the plan after a GC.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { dir: { type: 'string' }, generate: { type: 'boolean', default: false }, entities: { type: 'string', default: '589' } } });
  if (!values.dir) throw new Error('--dir <data directory> is required');
  const dir = values.dir;
  const files = { profiles: join(dir, 'profiles.csv'), responses: join(dir, 'responses.csv'), items: join(dir, 'items.csv'), split: join(dir, 'split.json') };
  if (values.generate) {
    const data = await makeSampleData({ outDir: dir, entities: Number(values.entities), groups: 6, itemsPerGroup: 12, features: 250, seed: 7 });
    const dataHash = datasetHash(await hashFile(data.files.profiles), await hashFile(data.files.responses));
    await ensureSplit(files.split, data.entityIds, { seed: 42, testFraction: 0.8, dataHash });
    process.stdout.write(`generated ${data.entityIds.length} entities in ${dir}\n`);
    return;
  }
  if (!existsSync(files.split)) throw new Error(`${files.split} not found: run once with --generate`);
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  const config = requireModelSection(parseExperimentConfig(
    { name: 'measure', method: 'llm_zero_shot', data: files, split: { seed: 42, test_fraction: 0.8 }, model: { id: 'sim/llm-8b', base_url: 'http://127.0.0.1:1/v1' }, output_root: join(dir, 'unused') },
    join(dir, 'measure.yaml'),
  ));
  const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
  const t0 = performance.now();
  const prepared = await prepareExperiment(config, 'measure');
  gc();
  const t1 = performance.now();
  const afterPrepare = process.memoryUsage();
  const batches = planBatches(prepared);
  const t2 = performance.now();
  gc();
  const afterPlan = process.memoryUsage();
  const prompts = batches.reduce((n, b) => n + b.prompts.length, 0);
  process.stdout.write(
    `${batches.length} batches, ${prompts} prompts\n` +
      `prepareExperiment ${((t1 - t0) / 1000).toFixed(2)} s, planBatches ${((t2 - t1) / 1000).toFixed(2)} s\n` +
      `heap after prepare ${mb(afterPrepare.heapUsed)} MB, after plan (plan alive, after GC) ${mb(afterPlan.heapUsed)} MB; ` +
      `rss now ${mb(afterPlan.rss)} MB, peak rss ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB\n`,
  );
}

main().catch((error: Error) => {
  process.stderr.write(`${error.stack ?? error.message}\n`);
  process.exit(1);
});
