import { createHash } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
// Relative imports (like the bench), so the script runs from dist/ without aliases.
import { parseExperimentConfig, requireModelSection } from '../libs/config/src';
import { itemKey, type ItemDef } from '../libs/contracts/src';
import { datasetHash, ensureSplit, hashFile } from '../libs/data/src';
import { buildTableEvaluation, toPrediction } from '../libs/evaluation/src';
import { PLAN_PAGE_ENTITIES, planSource, prepareExperiment, scoreRunBaselines, scoredPredictionColumns, type ScoredPrediction } from '../libs/experiments/src';
import { deterministicResponder } from '../libs/testing/src/simulator/responder';
import { makeSampleData } from './make-sample-data';

/**
 * CPU time of the evaluation a run's last scored batch assembles (baselines fitted, predicted and
 * scored, which the evaluator does while inference runs; then evaluate() for the method, with its
 * bootstraps, and the rest of buildEvaluation), on the bench's workload
 * (589 entities x 72 items, 80% test; --scale multiplies the entities), with the simulator's
 * deterministic answers. Prints each part's time, the heap, the peak RSS (before the assembly and
 * after it: the whole process, its data set and the run's scored predictions included) and a hash of the evaluation, so a
 * change can show that it leaves the numbers alone. Usage:
 *     node dist/scripts/measure-evaluation.js [--scale K] [--repeat N]
 */
const { values } = parseArgs({ options: { scale: { type: 'string', default: '1' }, repeat: { type: 'string', default: '1' }, dir: { type: 'string' } }, strict: true });

async function main(): Promise<void> {
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
  const prepared = await prepareExperiment(config, 'measure');
  // The plan a page of entities at a time (as the planner makes it), so the prompts' text is never
  // all in memory: what stays is what the evaluator holds at the end, the run's scored predictions.
  const source = planSource(prepared);
  const itemByKey = new Map(prepared.dataset.items.map((i) => [itemKey(i.group, i.item), i]));
  const asked = new Set<string>();
  const predictions: ScoredPrediction[] = [];
  let testEntities = 0;
  for (let start = 0; start < source.entities.length; start += PLAN_PAGE_ENTITIES) {
    for (const b of source.batchesOf(source.entities.slice(start, start + PLAN_PAGE_ENTITIES))) {
      testEntities++;
      for (const p of b.prompts) {
        const key = itemKey(p.group, p.item);
        asked.add(key);
        const raw = deterministicResponder(b.prefix + p.suffix, { model: 'sim/llm-8b', maxTokens: 8, temperature: 0 });
        const sample = { entityId: b.entityId, group: p.group, item: p.item, actual: p.actual };
        predictions.push({ ...toPrediction({ sample, item: itemByKey.get(key)!, method: 'llm_zero_shot', raw }), promptId: p.promptId, actual: p.actual });
      }
    }
  }
  const items: ItemDef[] = prepared.dataset.items.filter((i) => asked.has(itemKey(i.group, i.item)));
  process.stdout.write(`workload: ${testEntities} test entities, ${predictions.length} predictions, ${items.length} items; peak rss before the assembly ${peakRssMb()} MB\n`);
  for (let r = 0; r < Number(values.repeat); r++) {
    const t0 = cpuMs();
    // As the evaluator assembles it: the predictions into columns, then the baselines on the same table.
    const { table, answers, spotCheckPaths } = scoredPredictionColumns(items, 'llm_zero_shot', predictions);
    const baselines = await scoreRunBaselines({ dataset: prepared.dataset, split: prepared.split, table, items, method: 'llm_zero_shot' });
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
        `heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MB, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB, ` +
        `peak rss ${peakRssMb()} MB (whole process, data set included); evaluation ${hash}\n`,
    );
  }
}

/** This process's peak resident set size so far, in MB. */
function peakRssMb(): string {
  return (process.resourceUsage().maxRSS / 1024).toFixed(0);
}

/** This process's CPU time (user + system) in ms: wall time says little on a shared machine. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

void main();
