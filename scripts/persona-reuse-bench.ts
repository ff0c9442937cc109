import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { experimentStream } from '@assay/contracts';
import { EventStore, readTypedEvents } from '@assay/event-store';
import { datasetHash, ensureSplit, hashFile } from '@assay/data';
import { DEFAULT_PROMPT_TEMPLATES } from '@assay/prompting';
import { REPO_ROOT, simulatorStats, startStack, writeConfig, type Stack } from '../libs/testing/src/fixtures/stack';
import { makeSampleData } from './make-sample-data';

/**
 * `npm run build && node dist/scripts/persona-reuse-bench.js [--entities N] [--workers W]`
 *
 * The two-stage persona method on a GPU-like simulator, run twice: a first run, then a run that
 * changes only the stage-2 template (prompt.user). For each: wall time of `assay run`, model calls
 * by stage (summary / predictions, from the log: answers without `reusedFrom`), and prompt tokens
 * the simulator received (and served from its prefix cache). With a stage cache the second run
 * would make no summary call; without one it repeats them, and the table says which happened.
 * Results: the console and outputs/.bench/persona-reuse.json.
 */

interface RunNumbers {
  run: string;
  wallS: number;
  summaryCalls: number;
  predictionCalls: number;
  reusedAnswers: number;
  simulatorRequests: number;
  promptTokens: number;
  cachedTokens: number;
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { entities: { type: 'string', default: '120' }, workers: { type: 'string', default: '2' }, 'items-per-group': { type: 'string', default: '12' } }, strict: true });
  const entities = positive(values.entities!, '--entities');
  const workers = positive(values.workers!, '--workers');
  const itemsPerGroup = positive(values['items-per-group']!, '--items-per-group');
  const dir = join(REPO_ROOT, 'outputs', '.bench', 'persona');
  mkdirSync(dir, { recursive: true });
  const data = await makeSampleData({ outDir: dir, entities, groups: 6, itemsPerGroup, features: 12, seed: 7, hostileIds: false });
  const split = join(dir, 'split.json');
  const dataHash = datasetHash(await hashFile(data.files.profiles), await hashFile(data.files.responses));
  await ensureSplit(split, data.entityIds, { seed: 42, testFraction: 0.8, dataHash });
  const stack = await startStack({ workers, simulatorArgs: ['--latency', 'gpu'] });
  const store = await EventStore.open({ url: stack.databaseUrl });
  try {
    const base = { method: 'llm_persona_two_stage', data: { ...data.files, split }, split: { seed: 42, test_fraction: 0.8 }, llm_persona_two_stage: { max_tokens: 48 } };
    const first = await measure(stack, store, 'first run', writeConfig(stack, 'persona-bench-first', base).path);
    const changedUser = `${DEFAULT_PROMPT_TEMPLATES.user}\nThink of the persona above before answering.`;
    const second = await measure(stack, store, 'stage-2 template changed', writeConfig(stack, 'persona-bench-second', { ...base, prompt: { system: DEFAULT_PROMPT_TEMPLATES.system, user: changedUser } }).path);
    const rows = [first, second];
    const header = ['run', 'wall s', 'summary calls', 'prediction calls', 'reused answers', 'sim requests', 'prompt tokens', 'cached tokens'];
    console.log(`\ntwo-stage persona, ${entities} entities x ${6 * itemsPerGroup} items (80% test), ${workers} workers, GPU-like simulator`);
    console.log(header.join(' | '));
    for (const r of rows) console.log([r.run, r.wallS.toFixed(1), r.summaryCalls, r.predictionCalls, r.reusedAnswers, r.simulatorRequests, r.promptTokens, r.cachedTokens].join(' | '));
    const reused = second.summaryCalls === 0;
    console.log(reused ? `stage 1 reused: the second run made no summary call (saved ${(first.wallS - second.wallS).toFixed(1)} s)` : 'stage 1 NOT reused: this build has no stage cache, so the second run asked for every summary again');
    mkdirSync(join(REPO_ROOT, 'outputs', '.bench'), { recursive: true });
    writeFileSync(join(REPO_ROOT, 'outputs', '.bench', 'persona-reuse.json'), `${JSON.stringify({ entities, itemsPerGroup, workers, rows, stage1Reused: reused }, null, 2)}\n`);
  } finally {
    await store.close();
    await stack.stop();
  }
}

async function measure(stack: Stack, store: EventStore, run: string, configPath: string): Promise<RunNumbers> {
  const before = await simulatorStats(stack);
  const began = performance.now();
  const result = await stack.cli(['run', configPath]);
  const wallS = (performance.now() - began) / 1000;
  if (result.code !== 0) throw new Error(`${run}: assay run exited ${result.code}:\n${result.stderr}`);
  const after = await simulatorStats(stack);
  const identity = result.stdout.trim().split('\n').pop()!.split('/').pop()!;
  const answers = await store.read((sql) => readTypedEvents(sql, experimentStream(identity), ['inference.completed']));
  const count = (phase: string, reused: boolean) =>
    answers.filter((e) => e.data.phase === phase).flatMap((e) => e.data.results).filter((r) => (r.reusedFrom !== undefined) === reused).length;
  return {
    run,
    wallS,
    summaryCalls: count('summary', false),
    predictionCalls: count('full', false),
    reusedAnswers: count('summary', true) + count('full', true),
    simulatorRequests: after.requests - before.requests,
    promptTokens: after.promptTokens - before.promptTokens,
    cachedTokens: after.cachedTokens - before.cachedTokens,
  };
}

function positive(raw: string, name: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
