import { createEvent, experimentStream, type InferenceCompleted, type PromptResult } from '@assay/contracts';
import { cacheUsage } from './scoring';

const identity = 'abcd1234_test';
const ctx = { stream: experimentStream(identity), correlationId: 'r', causationId: null, producer: 'test', codeVersion: 'test' };
const ok = (promptId: string, cachedTokens: number | null): PromptResult => ({
  promptId,
  status: 'ok',
  outputText: '3',
  error: null,
  finishReason: 'stop',
  promptTokens: 100,
  completionTokens: 1,
  cachedTokens,
  latencyMs: 1,
  attempts: 1,
});
function completed(results: PromptResult[], extra: Partial<InferenceCompleted['data']> = {}): InferenceCompleted {
  return createEvent('inference.completed', { identity, attempt: 1, phase: 'full', batchId: 'b', entityId: 'e', worker: 'w', prefixTokens: 80, results, ...extra }, ctx);
}

describe('cacheUsage', () => {
  it('given answers with cachedTokens, when summed, then the hit rate is theirs (source usage) and the ideal the recorded bound', () => {
    const usage = cacheUsage([completed([ok('a', 0), ok('b', 80)], { idealCachedTokens: 85 })]);
    expect(usage).toEqual({ promptTokens: 200, cachedTokens: 80, hitRate: 0.4, idealHitRate: 0.425, source: 'usage' });
  });

  it('given events logged before the bound was recorded, then the ideal is the old prefix x (n - 1)', () => {
    expect(cacheUsage([completed([ok('a', 0), ok('b', 80)])]).idealHitRate).toBe(0.4);
  });

  it('given answers without cachedTokens but server counters, when summed, then the counters over the run give the hit rate (not 0)', () => {
    const usage = cacheUsage([
      completed([ok('a', null), ok('b', null)], { serverCache: { server: 's', before: { hits: 1000, queries: 5000 }, after: { hits: 1080, queries: 5200 } } }),
      completed([ok('c', null), ok('d', null)], { serverCache: { server: 's', before: { hits: 1000, queries: 5000 }, after: { hits: 1240, queries: 5400 } } }),
    ]);
    expect(usage).toMatchObject({ promptTokens: 400, hitRate: 240 / 400, source: 'server-counters', shared: false });
  });

  it('given counters that counted more than the run sent, then they are marked shared', () => {
    const usage = cacheUsage([completed([ok('a', null)], { serverCache: { server: 's', before: { hits: 0, queries: 0 }, after: { hits: 500, queries: 1000 } } })]);
    expect(usage).toMatchObject({ hitRate: 0.5, source: 'server-counters', shared: true });
  });

  it('given neither cachedTokens nor counters, then the hit rate is unknown (null), never 0', () => {
    expect(cacheUsage([completed([ok('a', null), ok('b', null)])])).toMatchObject({ hitRate: null, source: 'unknown' });
  });
});
