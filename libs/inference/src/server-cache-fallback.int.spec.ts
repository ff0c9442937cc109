import type { PromptResult } from '@assay/contracts';
import { startSimulator, type RunningSimulator } from '../../testing/src/simulator';
import { EntityPipeline } from './entity-pipeline';
import { batchIdeal, IdealCacheCounter, sharedWithOthers } from './ideal-cache';
import { openAiModelClient } from './model-client';
import { ModelEndpoints } from './model-endpoints';
import { runBatch } from './run-batch';
import { CacheBlockSizeReader, serverCacheDelta } from './server-cache-counters';
import { VllmServer } from './vllm-server';
import { DEFAULT_LIVENESS } from './server-liveness';
import { entityBatch, FAST_GPU_LATENCY, modelSettings, SIM_MODEL } from './test-helpers';

/**
 * A server that reports no usage.prompt_tokens_details.cached_tokens (vLLM's default): the
 * worker's scheduling and the run's hit rate fall back to the server's prefix-cache counters;
 * without those too, the hit rate is unknown and that is said once.
 */

const quiet = { onPromptDone: () => undefined, onRetry: () => undefined };
const RETRY = { maxRetries: 2, baseDelayMs: 5, maxDelayMs: 20 };
const sims: RunningSimulator[] = [];
async function simulator(opts: { noCachedTokens?: boolean; noPrefixCacheMetrics?: boolean; capacityBlocks?: number }): Promise<RunningSimulator> {
  const sim = await startSimulator({ port: 0, models: [{ id: SIM_MODEL, maxModelLen: 8192 }], latency: FAST_GPU_LATENCY, cache: { capacityBlocks: opts.capacityBlocks }, ...opts });
  sims.push(sim);
  return sim;
}
afterAll(async () => {
  await Promise.all(sims.map((s) => s.close()));
});

describe('prefix-cache fallback to the server counters (simulator --no-cached-tokens)', () => {
  it('given answers without cachedTokens, when entities are served from the cache, then the pipeline still widens (slow start) on the counters', async () => {
    const sim = await simulator({ noCachedTokens: true });
    const client = openAiModelClient(modelSettings(sim.url, { concurrency: 16 }));
    const pipeline = new EntityPipeline(16);
    expect(pipeline.limit).toBe(1);
    for (const id of ['e1', 'e2']) {
      const batch = entityBatch(id, 12, 120);
      const results = await runBatch(batch.prefix, batch.prompts, client, { pipeline, retry: RETRY, progress: quiet });
      expect(results.every((r) => r.status === 'ok' && r.cachedTokens === null)).toBe(true);
    }
    expect(pipeline.limit).toBe(4);
  });

  it('given a cache too small for one prefix, when an entity fans out, then the counters tell the eviction and the pipeline does not widen', async () => {
    const sim = await simulator({ noCachedTokens: true, capacityBlocks: 4 });
    const client = openAiModelClient(modelSettings(sim.url, { concurrency: 16 }));
    const pipeline = new EntityPipeline(16, { startAhead: 2 });
    const batch = entityBatch('e-small', 12, 120);
    await runBatch(batch.prefix, batch.prompts, client, { pipeline, retry: RETRY, progress: quiet });
    expect(pipeline.limit).toBe(1);
  });

  it('given a run on one server, when the router reads the counters at its start and after a batch, then their delta is what the server did', async () => {
    const sim = await simulator({ noCachedTokens: true });
    const endpoints = new ModelEndpoints(DEFAULT_LIVENESS, {});
    const router = endpoints.router(modelSettings(sim.url, { concurrency: 16 }));
    const route = router.forEntity('e1');
    await router.beginCacheCounters(route.replica);
    const batch = entityBatch('e1', 12, 120);
    await runBatch(batch.prefix, batch.prompts, route.client, { pipeline: route.pipeline, retry: RETRY, progress: quiet });
    const reading = (await router.serverCacheReading(route.replica))!;
    expect(reading.server).toBe(sim.url);
    const delta = serverCacheDelta([reading])!;
    const stats = sim.stats();
    expect(delta.queries).toBe(stats.promptTokens);
    expect(delta.hits).toBe(stats.cachedTokens);
    expect(delta.hits / delta.queries).toBeGreaterThan(0.5);
    endpoints.close();
  });
});

describe('neither cachedTokens nor counters (simulator --no-cached-tokens --no-prefix-cache-metrics)', () => {
  it('given many reads, when the counters are missing, then it is said once and the readings are null (unknown)', async () => {
    const sim = await simulator({ noCachedTokens: true, noPrefixCacheMetrics: true });
    const warnings: string[] = [];
    const client = openAiModelClient(modelSettings(sim.url, { concurrency: 8 }), process.env, { onWarning: (m) => warnings.push(m) });
    const pipeline = new EntityPipeline(8);
    for (const id of ['e1', 'e2', 'e3']) {
      const batch = entityBatch(id, 6, 60);
      await runBatch(batch.prefix, batch.prompts, client, { pipeline, retry: RETRY, progress: quiet });
    }
    expect(await client.prefixCacheCounters!()).toBeNull();
    expect(warnings.filter((w) => /prefix_cache/.test(w))).toHaveLength(1);
    expect(warnings[0]).toMatch(/hit rate is unknown/);
    // Nothing to judge by: the scheduling stays where it started.
    expect(pipeline.limit).toBe(1);
  });
});

describe('the ideal hit rate is an upper bound (demo-like prompts: short profiles, items that start alike, a smoke test first)', () => {
  const hit = (results: PromptResult[]) => results.reduce((s, r) => s + r.cachedTokens!, 0);
  const tokens = (results: PromptResult[]) => results.reduce((s, r) => s + r.promptTokens!, 0);

  for (const features of [6, 12, 40]) {
    it(`given 8 entities x 12 items with ${features} profile features, when run in plan order after a smoke test, then hits <= ideal, which the old prefix x (n - 1) was not`, async () => {
      const sim = await simulator({});
      const client = openAiModelClient(modelSettings(sim.url, { concurrency: 16 }));
      const pipeline = new EntityPipeline(16);
      const counter = new IdealCacheCounter((text, addSpecialTokens) => client.countTokens(text, addSpecialTokens));
      const batches = Array.from({ length: 8 }, (_, i) => entityBatch(`entity-${i + 1}`, 12, features));
      const shared = sharedWithOthers(batches.map((b) => b.prefix));
      // The smoke test: 4 of the first entity's prompts, before the run.
      const smoke = batches[0].prompts.slice(0, 4);
      await runBatch(batches[0].prefix, smoke, client, { pipeline, retry: RETRY, progress: quiet });
      sim.resetStats();

      let cached = 0;
      let promptTokens = 0;
      let ideal = 0;
      let oldIdeal = 0;
      let unroundedIdeal = 0;
      const blockSize = await new CacheBlockSizeReader(new VllmServer(sim.url, null), (m) => {
        throw new Error(m);
      }).read();
      expect(blockSize).toBe(16);
      await Promise.all(
        batches.map(async (b, i) => {
          const request = { ...b, prefixSharedChars: shared[i], ...(i === 0 ? { promptsSentBefore: smoke.map((p) => p.promptId) } : {}) };
          const [prefixTokens, counts, results] = await Promise.all([client.countTokens(b.prefix), counter.counts(request), runBatch(b.prefix, b.prompts, client, { pipeline, retry: RETRY, progress: quiet })]);
          cached += hit(results);
          promptTokens += tokens(results);
          ideal += batchIdeal(request, prefixTokens, counts, results, blockSize)!;
          unroundedIdeal += batchIdeal(request, prefixTokens, counts, results, null)!;
          oldIdeal += prefixTokens! * (results.length - 1);
        }),
      );
      expect(cached).toBeLessThanOrEqual(ideal);
      expect(ideal).toBeLessThan(unroundedIdeal);
      // A good order comes close to it: the bound is not loose (whole blocks are counted as the server caches them).
      expect(cached / ideal).toBeGreaterThan(0.95);
      if (features <= 12) expect(cached).toBeGreaterThan(oldIdeal);
      expect(sim.stats().cachedTokens / sim.stats().promptTokens).toBeCloseTo(cached / promptTokens, 6);
    });
  }
});
