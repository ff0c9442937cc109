import type { PromptResult } from '@assay/contracts';
import { startSimulator, type RunningSimulator } from '../../testing/src/simulator';
import { DEFAULT_LIVENESS } from './server-liveness';
import { ModelEndpoints } from './model-endpoints';
import { replicaOrder } from './replicas';
import { runBatch, type BatchProgress } from './run-batch';
import { entityBatch, FAST_GPU_LATENCY, modelSettings, SIM_MODEL } from './test-helpers';

/** Entity affinity and failover over real (simulated) replicas. */

const FAST_RETRY = { maxRetries: 3, baseDelayMs: 5, maxDelayMs: 20 };
const progress: BatchProgress = { onPromptDone: () => undefined, onRetry: () => undefined };

let sims: RunningSimulator[] = [];
let endpoints: ModelEndpoints;
beforeEach(async () => {
  sims = await Promise.all([0, 1, 2].map(() => startSimulator({ port: 0, models: [{ id: SIM_MODEL, maxModelLen: 8192 }] })));
  endpoints = new ModelEndpoints(DEFAULT_LIVENESS, {}, 50);
});
afterEach(async () => {
  endpoints.close();
  await Promise.all(sims.map((s) => s.close().catch(() => undefined)));
});

async function runEntity(router: ReturnType<ModelEndpoints['router']>, id: string): Promise<PromptResult[]> {
  const batch = entityBatch(id, 5);
  const route = router.forEntity(id);
  return runBatch(batch.prefix, batch.prompts, route.client, { pipeline: route.pipeline, retry: FAST_RETRY, progress, replica: route.replica });
}

describe('ModelEndpoints over several replicas', () => {
  it('given three replicas, when entities run, then each entity is served by its hashed replica alone and every result names it', async () => {
    const urls = sims.map((s) => s.url);
    const router = endpoints.router(modelSettings(urls[0], { replicas: urls }));
    const ids = Array.from({ length: 9 }, (_, i) => `ent-${i}`);
    for (const id of ids) {
      const results = await runEntity(router, id);
      const preferred = replicaOrder(id, urls)[0];
      expect(results.map((r) => [r.status, r.replica, r.failoverFrom])).toEqual(results.map(() => ['ok', preferred, undefined]));
    }
    // Each replica saw requests only for its own entities: 5 prompts each, with the prefix cached after the first.
    const perReplica = urls.map((u) => ids.filter((id) => replicaOrder(id, urls)[0] === u).length * 5);
    expect(sims.map((s) => s.stats().requests)).toEqual(perReplica);
  });

  it('given an entity\'s replica going down, when its batch runs, then its calls fail over to its next replica, recorded per result and said once', async () => {
    const urls = sims.map((s) => s.url);
    const down: string[] = [];
    const router = endpoints.router(modelSettings(urls[0], { replicas: urls }), { onReplicaDown: (r) => down.push(r) });
    const id = 'ent-failover';
    const [preferred, next] = replicaOrder(id, urls);
    await sims[urls.indexOf(preferred)].close();
    const results = await runEntity(router, id);
    expect(results.every((r) => r.status === 'ok' && r.replica === next)).toBe(true);
    expect(results.filter((r) => r.failoverFrom === preferred).length).toBeGreaterThanOrEqual(results.length - 1);
    expect(down).toEqual([preferred]);
  });

  it('given a replica dropping calls after the warm-up, when the fan-out fails over, then the next replica is warmed by one call before the others, so they hit its cache', async () => {
    const gpu = await Promise.all([0, 1].map(() => startSimulator({ port: 0, models: [{ id: SIM_MODEL, maxModelLen: 8192 }], latency: FAST_GPU_LATENCY })));
    // Down stays down for this test: /health still answers on the dropping replica.
    const slow = new ModelEndpoints(DEFAULT_LIVENESS, {}, 600_000);
    try {
      const id = 'ent-warm-failover';
      const byOrder = replicaOrder(id, gpu.map((s) => s.url));
      const [preferred, next] = byOrder.map((url) => gpu.find((s) => s.url === url)!);
      preferred.setFaults({ okFirst: 1, dropFirst: 1000 });
      const router = slow.router(modelSettings(preferred.url, { replicas: gpu.map((s) => s.url) }));
      const batch = entityBatch(id, 6);
      const route = router.forEntity(id);
      const results = await runBatch(batch.prefix, batch.prompts, route.client, { pipeline: route.pipeline, retry: FAST_RETRY, progress, replica: route.replica });
      expect(results.map((r) => [r.status, r.replica, r.failoverFrom])).toEqual([['ok', preferred.url, undefined], ...batch.prompts.slice(1).map(() => ['ok', next.url, preferred.url])]);
      // One prefill of the prefix on the next replica, the other four prompts reuse it.
      const stats = next.stats();
      expect(stats.requests).toBe(5);
      expect(stats.cachedTokens / stats.promptTokens).toBeGreaterThan(0.7);
    } finally {
      slow.close();
      await Promise.all(gpu.map((s) => s.close()));
    }
  });

  it('given ASSAY_MODEL_BASE_URL serving another model, when verified, then an error naming the replica before any call', async () => {
    const other = await startSimulator({ port: 0, models: [{ id: 'other/model', maxModelLen: 8192 }] });
    try {
      const local = new ModelEndpoints(DEFAULT_LIVENESS, { ASSAY_MODEL_BASE_URL: other.url });
      const router = local.router(modelSettings(sims[0].url));
      expect(router.replicas).toEqual({ replicas: [other.url], source: 'ASSAY_MODEL_BASE_URL' });
      await expect(router.verify({})).rejects.toThrow(`ASSAY_MODEL_BASE_URL replica ${other.url} does not serve the run's model '${SIM_MODEL}'; it serves: other/model`);
      expect(other.stats().requests).toBe(0);
      local.close();
    } finally {
      await other.close();
    }
  });

  it('given ASSAY_MODEL_BASE_URL serving the model, when a batch runs, then the worker\'s own server answers every call', async () => {
    const local = new ModelEndpoints(DEFAULT_LIVENESS, { ASSAY_MODEL_BASE_URL: sims[2].url });
    try {
      const router = local.router(modelSettings(sims[0].url));
      await router.verify({});
      const results = await runEntity(router, 'ent-local');
      expect(results.every((r) => r.replica === sims[2].url && r.status === 'ok')).toBe(true);
      expect(sims[0].stats().requests).toBe(0);
    } finally {
      local.close();
    }
  });
});
