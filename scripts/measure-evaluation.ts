import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
// Relative imports (like the bench), so the script runs from dist/ without aliases.
import { parseExperimentConfig, requireModelSection, type ExperimentConfig } from '../libs/config/src';
import { itemKey, type ItemDef } from '../libs/contracts/src';
import { datasetHash, ensureSplit, hashFile } from '../libs/data/src';
import { buildTableEvaluation, toPrediction } from '../libs/evaluation/src';
import { PLAN_PAGE_ENTITIES, planOutline, planSource, prepareExperiment, scoreBaselinesFromFiles, ScoredPredictionColumnsBuilder, type ScoredPrediction } from '../libs/experiments/src';
import { limitHeapGrowth } from '../libs/messaging/src/heap';
import { deterministicResponder } from '../libs/testing/src/simulator/responder';
import { makeSampleData } from './make-sample-data';

/**
 * CPU time and memory of the evaluation a run's last scored batch assembles
 * (EvaluationAssembler.evaluate), on the bench's workload (589 entities x 72 items, 250 profile
 * features, 80% test; --scale multiplies the entities), with the simulator's deterministic answers:
 * - the scored predictions go into the evaluation's columns (ScoredPredictionColumnsBuilder) a page
 *   at a time, as the evaluator reads the earlier scored batches from the log, so they are never
 *   all in memory as objects (the plan is made a page of entities at a time too);
 * - the baselines are scored from the data files, as the last batch does when none were scored
 *   ahead (scoreRunBaselinesFromData; the evaluator scores them on a thread of its own while
 *   inference runs, early-baselines.thread, on the same samples: the same numbers);
 * - then the method's evaluation with its bootstraps (buildTableEvaluation).
 * The planner's data set is let go before the assembly, as the evaluator never holds it, and the
 * heap grows as the evaluator's does (limitHeapGrowth, as startService sets it for every service). Prints
 * each part's CPU time, the live heap, the peak RSS while planning and scoring, then the
 * assembly's own (Linux: the peak is reset in between; the columns, the data set the baselines
 * load, the bootstraps, this process's code) and a hash of the
 * evaluation, so a change can show that it leaves the numbers alone. Not measured here: the
 * batches' scoring, reading the log (Postgres), and the early-baselines thread, whose heap lives
 * beside the evaluator's while inference runs (measure-early-baselines.js measures it). Usage:
 *     node [--expose-gc] dist/scripts/measure-evaluation.js [--scale K] [--repeat N]
 * With --expose-gc, the heap printed is what is live after a full collection.
 */
const { values } = parseArgs({ options: { scale: { type: 'string', default: '1' }, repeat: { type: 'string', default: '1' }, dir: { type: 'string' } }, strict: true });

async function main(): Promise<void> {
  // As startService does: the heap grows as it does in the service.
  limitHeapGrowth();
  const scale = Number(values.scale);
  const dir = values.dir ?? join(__dirname, '..', '..', 'outputs', '.measure-evaluation', `x${scale}`);
  const data = await makeSampleData({ outDir: dir, entities: Math.round(589 * scale), groups: 6, itemsPerGroup: 12, features: 250, seed: 7 });
  const split = join(dir, 'split.json');
  if (existsSync(split)) rmSync(split);
  const dataHash = datasetHash(await hashFile(data.files.profiles), await hashFile(data.files.responses));
  await ensureSplit(split, data.entityIds, { seed: 42, testFraction: 0.8, dataHash });
  const files = { ...data.files, split };
  const config = requireModelSection(
    parseExperimentConfig(
      { name: 'measure', method: 'llm_zero_shot', data: files, split: { seed: 42, test_fraction: 0.8 }, model: { id: 'sim/llm-8b', base_url: 'http://127.0.0.1:1/v1' }, output_root: join(dir, 'unused') },
      join(dir, 'measure.yaml'),
    ),
  );
  const columns = await scoredColumns(config);
  const { count, items } = columns;
  process.stdout.write(`workload: ${columns.testEntities} test entities, ${count} predictions, ${items.length} items; peak rss while planning and scoring ${peakRssMb()} MB\n`);
  // From here on the peak is the assembly's own (the planner's data set and the prompts are gone).
  heapMb();
  const reset = resetPeakRss();
  const t0 = cpuMs();
  const { table, answers, spotCheckPaths } = columns.builder.finish();
  process.stdout.write(`CPU: predictions into columns (ScoredPredictionColumnsBuilder) ${((columns.addMs + cpuMs() - t0) / 1000).toFixed(2)} s\n`);
  for (let r = 0; r < Number(values.repeat); r++) {
    const t0 = cpuMs();
    const baselines = await scoreBaselinesFromFiles(config, 'llm_zero_shot', table, items);
    const t1 = cpuMs();
    const result = buildTableEvaluation({
      method: 'llm_zero_shot',
      table,
      answers,
      items,
      baselines,
      spotCheckPaths,
      scope: { perEntity: false },
    });
    const t2 = cpuMs();
    const hash = createHash('sha256').update(JSON.stringify(result)).digest('hex').slice(0, 16);
    process.stdout.write(
      `CPU: baselines (scoreRunBaselines) ${((t1 - t0) / 1000).toFixed(2)} s, method and the rest (buildEvaluation) ${((t2 - t1) / 1000).toFixed(2)} s; ` +
        `heap ${heapMb()} MB, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB, peak rss ${reset ? `of the assembly ${peakRssMb()} MB` : `${peakRssMb()} MB (planning included)`}; evaluation ${hash}\n`,
    );
  }
}

/**
 * The run's scored predictions, made a page of planned entities at a time and added to the
 * evaluation's columns page by page (as the evaluator reads the scored batches), with the items
 * asked. The planner's data set and the pages are let go on return.
 */
async function scoredColumns(config: ExperimentConfig): Promise<{ builder: ScoredPredictionColumnsBuilder; items: ItemDef[]; count: number; testEntities: number; addMs: number }> {
  const prepared = await prepareExperiment(config, 'measure');
  const source = planSource(prepared);
  const itemByKey = new Map(prepared.dataset.items.map((i) => [itemKey(i.group, i.item), i]));
  // The run's planned items (the items asked, as the plan's outline counts them): what the evaluator's columns are built on.
  const { itemsAsked } = planOutline(source).totals;
  const items = prepared.dataset.items.filter((i) => itemsAsked.has(itemKey(i.group, i.item)));
  const builder = new ScoredPredictionColumnsBuilder(items, 'llm_zero_shot');
  let testEntities = 0;
  let addMs = 0;
  for (let start = 0; start < source.entities.length; start += PLAN_PAGE_ENTITIES) {
    const page: ScoredPrediction[] = [];
    for (const b of source.batchesOf(source.entities.slice(start, start + PLAN_PAGE_ENTITIES))) {
      testEntities++;
      for (const p of b.prompts) {
        const key = itemKey(p.group, p.item);
        const raw = deterministicResponder(b.prefix + p.suffix, { model: 'sim/llm-8b', maxTokens: 8, temperature: 0 });
        const sample = { entityId: b.entityId, group: p.group, item: p.item, actual: p.actual };
        page.push({ ...toPrediction({ sample, item: itemByKey.get(key)!, method: 'llm_zero_shot', raw }), promptId: p.promptId, actual: p.actual });
      }
    }
    const t = cpuMs();
    builder.add(page);
    addMs += cpuMs() - t;
  }
  return { builder, items, count: builder.count, testEntities, addMs };
}

/** The live heap in MB: after a full collection when the process runs with --expose-gc. */
function heapMb(): string {
  (globalThis as { gc?: () => void }).gc?.();
  return (process.memoryUsage().heapUsed / 2 ** 20).toFixed(0);
}

/**
 * Resets this process's peak resident set size (Linux: VmHWM, which the bench reads for a
 * service's peak, is cleared by writing 5 to clear_refs); false where that cannot be done.
 */
function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return /^VmHWM:/m.test(readFileSync('/proc/self/status', 'utf8'));
  } catch {
    // Not Linux, or /proc not writable: the peak printed is the whole process's.
    return false;
  }
}

/** This process's peak resident set size since it started or resetPeakRss, in MB. */
function peakRssMb(): string {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return (Number(m[1]) / 1024).toFixed(0);
  } catch {
    // No /proc: getrusage's peak, which cannot be reset.
  }
  return (process.resourceUsage().maxRSS / 1024).toFixed(0);
}

/** This process's CPU time (user + system) in ms: wall time says little on a shared machine. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

void main();
