import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
// Relative imports (like make-sample-data.ts), so the bench runs from dist/ without aliases.
import { parseExperimentConfig, requireModelSection } from '../../libs/config/src';
import { itemKey } from '../../libs/contracts/src';
import { datasetHash, ensureSplit, hashFile } from '../../libs/data/src';
import { planBatches, prepareExperiment, type PlannedBatch } from '../../libs/experiments/src';
import { countTokens } from '../../libs/testing/src/simulator/tokenizer';
import { makeSampleData } from '../make-sample-data';

/**
 * The benchmark's dataset and the exact prompt set the planner will build from it (same libs,
 * same config), with the token statistics the ideal prefix-cache hit rate needs.
 */
/** The simulator's default prefix-cache block size (vLLM's too). */
export const BLOCK = 16;

export interface WorkloadOptions {
  entities: number;
  groups: number;
  itemsPerGroup: number;
  features: number;
  seed: number;
  splitSeed: number;
  testFraction: number;
  dir: string;
}

export interface Workload {
  opts: WorkloadOptions;
  files: { profiles: string; responses: string; items: string; split: string };
  /** The config sections a run of this workload needs (merged into writeConfig's defaults). */
  configOverrides: Record<string, unknown>;
  trainEntities: number;
  testEntities: number;
  /** Full-run batches in planner order (entity order), prompts with their full text. */
  batches: PlannedBatch[];
  prompts: number;
  promptTokens: number;
  /** Token count of each batch's shared prefix, by batch index. */
  prefixTokens: number[];
  /** Every entity prefix computed once, reused by its other prompts (the best a prefix cache can do). */
  idealCachedTokens: number;
  idealHitRate: number;
  /** Mean tokens of one prompt / one prefix. */
  meanPromptTokens: number;
  meanPrefixTokens: number;
  /**
   * Mean prefix-cache blocks (16 tokens) one entity occupies once all its prompts ran: the
   * prefix's blocks plus each prompt's own full blocks after it.
   */
  meanEntityBlocks: number;
  seconds: number;
  /** Where those seconds went; prepare and plan are the planner's own functions on this data. */
  timings: { generateS: number; prepareS: number; planS: number; tokensS: number };
}

export async function prepareWorkload(opts: WorkloadOptions): Promise<Workload> {
  const began = performance.now();
  const data = await makeSampleData({
    outDir: opts.dir,
    entities: opts.entities,
    groups: opts.groups,
    itemsPerGroup: opts.itemsPerGroup,
    features: opts.features,
    seed: opts.seed,
  });
  // As `make-sample-data --split`: the split is drawn once from the data hash. The data is
  // deterministic, so a stale split from other options is simply drawn again.
  const split = join(opts.dir, 'split.json');
  if (existsSync(split)) rmSync(split);
  const dataHash = datasetHash(await hashFile(data.files.profiles), await hashFile(data.files.responses));
  const made = await ensureSplit(split, data.entityIds, { seed: opts.splitSeed, testFraction: opts.testFraction, dataHash });
  const files = { ...data.files, split };
  const configOverrides = {
    data: files,
    split: { seed: opts.splitSeed, test_fraction: opts.testFraction },
  };

  const generated = performance.now();
  // The planner's own code path: prepareExperiment + planBatches on the same config.
  const config = requireModelSection(parseExperimentConfig(
    { name: 'bench', method: 'llm_zero_shot', data: files, split: configOverrides.split, model: { id: 'sim/llm-8b', base_url: 'http://127.0.0.1:1/v1' }, output_root: join(opts.dir, 'unused') },
    join(opts.dir, 'bench.yaml'),
  ));
  const prepared = await prepareExperiment(config, 'bench');
  const preparedAt = performance.now();
  const batches = planBatches(prepared);
  const plannedAt = performance.now();

  let prompts = 0;
  let promptTokens = 0;
  let idealCachedTokens = 0;
  let blocks = 0;
  const prefixTokens: number[] = [];
  for (const b of batches) {
    const p = countTokens(b.prefix);
    prefixTokens.push(p);
    blocks += Math.floor(p / BLOCK);
    for (const q of b.prompts) {
      // The prefix ends on a one-character punctuation token, so counts add up exactly.
      const t = p + countTokens(q.suffix);
      promptTokens += t;
      blocks += Math.floor(t / BLOCK) - Math.floor(p / BLOCK);
      prompts++;
    }
    idealCachedTokens += p * Math.max(0, b.prompts.length - 1);
  }
  return {
    opts,
    files,
    configOverrides,
    trainEntities: made.split.train.length,
    testEntities: made.split.test.length,
    batches,
    prompts,
    promptTokens,
    prefixTokens,
    idealCachedTokens,
    idealHitRate: idealCachedTokens / promptTokens,
    meanPromptTokens: promptTokens / prompts,
    meanPrefixTokens: prefixTokens.reduce((a, b) => a + b, 0) / prefixTokens.length,
    meanEntityBlocks: blocks / batches.length,
    seconds: (performance.now() - began) / 1000,
    timings: {
      generateS: (generated - began) / 1000,
      prepareS: (preparedAt - generated) / 1000,
      planS: (plannedAt - preparedAt) / 1000,
      tokensS: (performance.now() - plannedAt) / 1000,
    },
  };
}

/** One prompt as a direct driver sends it. */
export interface DriverPrompt {
  entity: number;
  /** Position of the prompt inside its entity's batch (0 = the planner's first, the warm-up). */
  index: number;
  text: string;
}

/** Entity order, as the planner publishes (entity by entity, items in (group, item) order). */
export function entityOrder(w: Workload): DriverPrompt[] {
  const out: DriverPrompt[] = [];
  w.batches.forEach((b, entity) => b.prompts.forEach((p, index) => out.push({ entity, index, text: b.prefix + p.suffix })));
  return out;
}

/** Item order (the data's natural order, which defeats the prefix cache): every entity's item A, then B, ... */
export function itemOrder(w: Workload): DriverPrompt[] {
  const keys: string[] = [];
  const byKey = new Map<string, DriverPrompt[]>();
  w.batches.forEach((b, entity) =>
    b.prompts.forEach((p, index) => {
      const key = itemKey(p.group, p.item);
      let list = byKey.get(key);
      if (!list) {
        list = [];
        byKey.set(key, list);
        keys.push(key);
      }
      list.push({ entity, index, text: b.prefix + p.suffix });
    }),
  );
  keys.sort();
  return keys.flatMap((k) => byKey.get(k)!);
}
