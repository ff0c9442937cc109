import type { PromptResult } from '@assay/contracts';
import { startSimulator, type RunningSimulator } from '../../testing/src/simulator';
import { openAiModelClient, type ModelClient } from './model-client';
import { runBatch } from './run-batch';
import { EntityPipeline } from './entity-pipeline';
import { Semaphore } from './semaphore';
import { entityBatch, FAST_GPU_LATENCY, modelSettings, SIM_MODEL } from './test-helpers';

/**
 * Prefix caching against the simulator's cache: one entity's prompts share a long prefix, and
 * runBatch's warm-up (first prompt alone, then the rest) lets every later prompt reuse it.
 */

let sim: RunningSimulator;
let client: ModelClient;
const ITEMS = 12;
const batch = entityBatch('entity-cache-1', ITEMS, 120);
const quiet = { onPromptDone: () => undefined, onRetry: () => undefined };
const RETRY = { maxRetries: 2, baseDelayMs: 5, maxDelayMs: 20 };

beforeAll(async () => {
  sim = await startSimulator({ port: 0, models: [{ id: SIM_MODEL, maxModelLen: 8192 }], latency: FAST_GPU_LATENCY });
  client = openAiModelClient(modelSettings(sim.url, { concurrency: 16 }));
});
afterAll(async () => {
  await sim.close();
});
beforeEach(() => {
  sim.resetPrefixCache();
  sim.resetStats();
});

const hitRate = (results: PromptResult[]) => results.reduce((s, r) => s + r.cachedTokens!, 0) / results.reduce((s, r) => s + r.promptTokens!, 0);

describe('prefix cache reuse (simulator, GPU-like latency scaled down)', () => {
  it('given one entity’s 12 prompts via runBatch, when run, then the hit rate is near the ideal prefix × (n-1) / total', async () => {
    const prefixTokens = (await client.countTokens(batch.prefix))!;
    expect(prefixTokens).toBeGreaterThan(500); // a long profile, as in a real survey dataset (~3,000 tokens)
    const results = await runBatch(batch.prefix, batch.prompts, client, { pipeline: new EntityPipeline(16), retry: RETRY, progress: quiet });
    expect(results.every((r) => r.status === 'ok')).toBe(true);

    const total = results.reduce((s, r) => s + r.promptTokens!, 0);
    const ideal = (prefixTokens * (ITEMS - 1)) / total;
    const actual = hitRate(results);
    // Only whole 16-token blocks are cached, so a little under; a suffix's common start can add a little.
    expect(actual).toBeGreaterThan(ideal - 0.03);
    expect(actual).toBeLessThan(ideal + 0.03);
    expect(results[0].cachedTokens).toBe(0);
    for (const r of results.slice(1)) expect(r.cachedTokens).toBeGreaterThanOrEqual(prefixTokens - 16);
    // The simulator saw the same thing.
    const stats = sim.stats();
    expect(stats.cachedTokens / stats.promptTokens).toBeCloseTo(actual, 6);
  });

  it('given the same prompts all sent at once (no warm-up), when run, then the hit rate is clearly lower than with runBatch', async () => {
    const warm = hitRate(await runBatch(batch.prefix, batch.prompts, client, { pipeline: new EntityPipeline(16), retry: RETRY, progress: quiet }));

    sim.resetPrefixCache();
    sim.resetStats();
    const slots = new Semaphore(16);
    const cold = await Promise.all(batch.prompts.map((p) => slots.run(() => client.complete(batch.prefix + p.suffix))));
    const coldRate = cold.reduce((s, r) => s + r.cachedTokens!, 0) / cold.reduce((s, r) => s + r.promptTokens!, 0);

    // Every one of them was scheduled before any prefill finished: each paid for the whole profile.
    expect(coldRate).toBeLessThan(warm / 2);
    expect(warm - coldRate).toBeGreaterThan(0.4);
  });
});
