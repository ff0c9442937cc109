import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { simulatorStats, startStack, writeConfig, type Stack } from '../libs/testing/src/fixtures/stack';

jest.setTimeout(300_000);

interface MetricsCache {
  hitRate: number | null;
  idealHitRate: number | null;
  source?: string;
  shared?: boolean;
}

async function runSample(stack: Stack, name: string): Promise<{ readme: string; cache: MetricsCache; workerLog: string }> {
  const { path } = writeConfig(stack, name);
  const run = await stack.cli(['run', path]);
  expect(run.stderr).toMatch(/completed: normalized_mae=/);
  expect(run.code).toBe(0);
  const runDir = run.stdout.trim().split('\n').pop()!;
  const readme = readFileSync(join(runDir, 'README.txt'), 'utf8');
  const cache = (JSON.parse(readFileSync(join(runDir, 'metrics.json'), 'utf8')) as { cache: MetricsCache }).cache;
  const workerLog = readFileSync(join(runDir, 'logs', 'inference-worker.attempt-1.log'), 'utf8');
  return { readme, cache, workerLog };
}

describe('prefix-cache hit rate against a server without usage.cached_tokens (e2e, simulated vLLM)', () => {
  describe('with the vllm:prefix_cache_* counters (simulator --no-cached-tokens)', () => {
    let stack: Stack;
    beforeAll(async () => {
      stack = await startStack({ simulatorArgs: ['--no-cached-tokens'] });
    });
    afterAll(async () => {
      await stack?.stop();
    });

    it('reports the counters’ hit rate over the run, server-wide, and at most the ideal', async () => {
      const { readme, cache } = await runSample(stack, 'e2e-counters');
      expect(cache.source).toBe('server-counters');
      expect(cache.hitRate).toBeGreaterThan(0.3);
      expect(cache.hitRate!).toBeLessThanOrEqual(cache.idealHitRate!);
      const stats = await simulatorStats(stack);
      // Only this run used the server (smoke test included): the counters saw what the simulator did.
      expect(cache.hitRate).toBeLessThanOrEqual(1);
      expect(stats.requests).toBeGreaterThan(0);
      expect(readme).toMatch(/Prefix-cache hit rate: \d+\.\d\d% \(ideal for this prompt order: \d+\.\d\d%\)\nFrom the servers' vllm:prefix_cache_hits_total/);
      expect(readme).not.toMatch(/Prefix-cache hit rate: 0\.00%/);
    });
  });

  describe('with neither (simulator --no-cached-tokens --no-prefix-cache-metrics)', () => {
    let stack: Stack;
    beforeAll(async () => {
      stack = await startStack({ simulatorArgs: ['--no-cached-tokens', '--no-prefix-cache-metrics'] });
    });
    afterAll(async () => {
      await stack?.stop();
    });

    it('says the hit rate is unknown, gives no dispatch-order advice, and the worker says why once', async () => {
      const { readme, cache, workerLog } = await runSample(stack, 'e2e-unknown');
      expect(cache).toMatchObject({ hitRate: null, source: 'unknown' });
      expect(readme).toMatch(/Prefix-cache hit rate: unknown \(ideal for this prompt order: \d+\.\d\d%\)/);
      expect(readme).not.toMatch(/check the dispatch order/);
      expect(workerLog.match(/has no vllm:prefix_cache_hits_total/g)).toHaveLength(1);
    });
  });
});
