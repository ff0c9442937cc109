import { CacheBlockSizeReader, parseCacheBlockSize, parsePrefixCacheCounters, PrefixCacheCounterReader, serverCacheDelta } from './server-cache-counters';

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

describe('parseCacheBlockSize', () => {
  it('given vLLM\'s cache config info gauge, when parsed, then its block_size label', () => {
    const text = '# TYPE vllm:cache_config_info gauge\nvllm:cache_config_info{block_size="16",cache_dtype="auto",engine="0",num_gpu_blocks="661"} 1.0\n';
    expect(parseCacheBlockSize(text)).toBe(16);
    expect(parseCacheBlockSize(text + 'vllm:cache_config_info{block_size="16",engine="1"} 1.0\n')).toBe(16);
  });
  it('given no gauge, no block_size label (only a lookalike), or engines that disagree, then null', () => {
    expect(parseCacheBlockSize(METRICS)).toBeNull();
    expect(parseCacheBlockSize('vllm:cache_config_info{kv_block_size="16"} 1.0\n')).toBeNull();
    expect(parseCacheBlockSize('vllm:cache_config_info{block_size="16",engine="0"} 1.0\nvllm:cache_config_info{block_size="32",engine="1"} 1.0\n')).toBeNull();
  });
});

describe('CacheBlockSizeReader', () => {
  it('given a server with the gauge, when read many times, then it is asked once and nothing is said', async () => {
    let reads = 0;
    const warnings: string[] = [];
    const reader = new CacheBlockSizeReader({ urls: { metrics: 'http://h/metrics' }, metrics: async () => (reads++, { status: 200, text: 'vllm:cache_config_info{block_size="32"} 1.0\n' }) }, (m) => warnings.push(m));
    for (let i = 0; i < 3; i++) expect(await reader.read()).toBe(32);
    expect(reads).toBe(1);
    expect(warnings).toEqual([]);
  });
  it('given a server without it, when read many times, then null, asked once, said once', async () => {
    let reads = 0;
    const warnings: string[] = [];
    const reader = new CacheBlockSizeReader({ urls: { metrics: 'http://h/metrics' }, metrics: async () => (reads++, { status: 200, text: METRICS }) }, (m) => warnings.push(m));
    for (let i = 0; i < 3; i++) expect(await reader.read()).toBeNull();
    expect(reads).toBe(1);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/block size is unknown .*has no vllm:cache_config_info.*whole tokens/);
  });
  it('given a read that fails, then null now, said once, and asked again later', async () => {
    let reads = 0;
    const warnings: string[] = [];
    const reader = new CacheBlockSizeReader(
      {
        urls: { metrics: 'http://h/metrics' },
        metrics: async () => {
          if (reads++ < 2) throw new Error('ECONNRESET');
          return { status: 200, text: 'vllm:cache_config_info{block_size="16"} 1.0\n' };
        },
      },
      (m) => warnings.push(m),
    );
    expect(await reader.read()).toBeNull();
    expect(await reader.read()).toBeNull();
    expect(await reader.read()).toBe(16);
    expect(warnings).toHaveLength(1);
  });
});
