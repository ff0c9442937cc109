import { parsePrefixCacheCounters, PrefixCacheCounterReader, serverCacheDelta } from './server-cache-counters';

const METRICS = [
  '# TYPE vllm:prefix_cache_queries_total counter',
  'vllm:prefix_cache_queries_total{model_name="a"} 1000.0',
  'vllm:prefix_cache_queries_total{model_name="b"} 24.0',
  '# TYPE vllm:prefix_cache_hits_total counter',
  'vllm:prefix_cache_hits_total{model_name="a"} 900.0',
  'vllm:prefix_cache_hits_total{model_name="b"} 0.0',
  'vllm:prefix_cache_hits_total_created{model_name="a"} 1.7e9',
].join('\n');

describe('parsePrefixCacheCounters', () => {
  it('given vLLM /metrics, when parsed, then both counters are summed over the models (and _created is not a sample)', () => {
    expect(parsePrefixCacheCounters(METRICS)).toEqual({ hits: 900, queries: 1024 });
  });
  it('given /metrics without the families, when parsed, then null (unknown, not 0)', () => {
    expect(parsePrefixCacheCounters('vllm:num_requests_waiting{model_name="a"} 0.0\n')).toBeNull();
    expect(parsePrefixCacheCounters('vllm:prefix_cache_hits_total 1.0\n')).toBeNull();
  });
});

describe('serverCacheDelta', () => {
  it('given readings of two workers on one server and one on another, when combined, then each server spans its earliest start to its latest end', () => {
    const delta = serverCacheDelta([
      { server: 's1', before: { hits: 100, queries: 200 }, after: { hits: 150, queries: 300 } },
      { server: 's1', before: { hits: 110, queries: 210 }, after: { hits: 400, queries: 700 } },
      { server: 's2', before: { hits: 0, queries: 0 }, after: { hits: 10, queries: 20 } },
    ]);
    expect(delta).toEqual({ hits: 300 + 10, queries: 500 + 20, servers: ['s1', 's2'] });
  });
  it('given no readings, or a server whose counters went down (restarted), when combined, then null', () => {
    expect(serverCacheDelta([])).toBeNull();
    expect(serverCacheDelta([{ server: 's', before: { hits: 100, queries: 200 }, after: { hits: 5, queries: 10 } }])).toBeNull();
  });
});

describe('PrefixCacheCounterReader', () => {
  const server = (text: string, status = 200) => {
    let reads = 0;
    return {
      urls: { metrics: 'http://h/metrics' },
      reads: () => reads,
      metrics: async () => {
        reads++;
        return { status, text };
      },
    };
  };
  it('given a server with the counters, when read, then they are returned and nothing is said', async () => {
    const warnings: string[] = [];
    expect(await new PrefixCacheCounterReader(server(METRICS), (m) => warnings.push(m)).read()).toEqual({ hits: 900, queries: 1024 });
    expect(warnings).toEqual([]);
  });
  it('given a server without them, when read many times, then it is said once and asked once', async () => {
    const warnings: string[] = [];
    const s = server('vllm:num_requests_waiting 0.0\n');
    const reader = new PrefixCacheCounterReader(s, (m) => warnings.push(m));
    for (let i = 0; i < 5; i++) expect(await reader.read()).toBeNull();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/has no vllm:prefix_cache_hits_total .*hit rate is unknown/);
    expect(s.reads()).toBe(1);
  });
});
