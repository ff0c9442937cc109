import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseExperimentConfig, requireModelSection } from '../libs/config/src';
import { datasetHash, ensureSplit, hashFile } from '../libs/data/src';
import { pagedPlan, planBatches, prepareExperiment, type PlannedBatch } from '../libs/experiments/src';
import { makeSampleData } from './make-sample-data';

/**
 * `node dist/scripts/measure-planning.js --dir /tmp/plan-data [--generate] [--entities N] [--paged]`
 *
 * The planner's lib-level cost at the bench's full size (589 entities x 72 items x 250 features,
 * test fraction 0.8): run once with --generate to write the data, then again (fresh process) to
 * measure prepareExperiment + planBatches: wall time and the process's peak RSS (getrusage
 * maxRSS, so a short spike is not missed) and the heap still held by the plan after a GC.
 * `--paged`: the planner's own way instead (pagedPlan's outline, then the batches made again a
 * page at a time, as its events are written), so the whole plan is never held. Either way it
 * prints a digest of every batch (sha256 of their JSON, in plan order): the same data and code
 * give the same digest, whichever the mode.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { dir: { type: 'string' }, generate: { type: 'boolean', default: false }, entities: { type: 'string', default: '589' }, paged: { type: 'boolean', default: false } } });
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
  const digest = createHash('sha256');
  let batchCount = 0;
  let prompts = 0;
  const add = (batches: PlannedBatch[]) => {
    for (const b of batches) digest.update(JSON.stringify(b));
    batchCount += batches.length;
    prompts += batches.reduce((n, b) => n + b.prompts.length, 0);
  };
  let held: PlannedBatch[] | ReturnType<typeof pagedPlan>;
  if (values.paged) {
    const plan = pagedPlan(prepared);
    const { batchEntities } = plan.outline;
    for (let start = 0; start < batchEntities.length; start += 256) add(plan.source.batchesOf(batchEntities.slice(start, start + 256)));
    held = plan;
  } else {
    held = planBatches(prepared);
    add(held);
  }
  const t2 = performance.now();
  gc();
  const afterPlan = process.memoryUsage();
  process.stdout.write(
    `${values.paged ? 'paged plan (outline, then pages of 256 entities)' : 'whole plan (planBatches)'}: ${batchCount} batches, ${prompts} prompts, digest ${digest.digest('hex')}\n` +
      `prepareExperiment ${((t1 - t0) / 1000).toFixed(2)} s, planning ${((t2 - t1) / 1000).toFixed(2)} s\n` +
      `heap after prepare ${mb(afterPrepare.heapUsed)} MB, after plan (${values.paged ? 'outline' : 'plan'} alive, after GC) ${mb(afterPlan.heapUsed)} MB; ` +
      `rss now ${mb(afterPlan.rss)} MB, peak rss ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB\n`,
  );
  // Held until the numbers are taken: the plan's heap is part of what is measured.
  void held;
}

main().catch((error: Error) => {
  process.stderr.write(`${error.stack ?? error.message}\n`);
  process.exit(1);
});
