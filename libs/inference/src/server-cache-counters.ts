import { errorMessage } from '@assay/contracts';

/**
 * vLLM's server-wide prefix-cache counters, the fallback where completions carry no
 * `usage.prompt_tokens_details.cached_tokens` (vLLM's default unless started with
 * `--enable-prompt-tokens-details`). Both count tokens: queries = prompt tokens looked up in the
 * cache, hits = those found there. They are the server's, not the run's: every client of the
 * server during the run is counted too.
 */
export interface PrefixCacheCounters {
  hits: number;
  queries: number;
}

const HITS = 'vllm:prefix_cache_hits_total';
const QUERIES = 'vllm:prefix_cache_queries_total';

/** Sum of one counter family over its label sets (every model the server serves), or null when absent. */
function sumFamily(metricsText: string, name: string): number | null {
  let total: number | null = null;
  for (const line of metricsText.split('\n')) {
    if (!line.startsWith(name)) continue;
    const next = line.charAt(name.length);
    if (next !== '{' && next !== ' ') continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) total = (total ?? 0) + value;
  }
  return total;
}

/** Both prefix-cache counters from Prometheus text, or null when the server exposes either not. */
export function parsePrefixCacheCounters(metricsText: string): PrefixCacheCounters | null {
  const hits = sumFamily(metricsText, HITS);
  const queries = sumFamily(metricsText, QUERIES);
  return hits === null || queries === null ? null : { hits, queries };
}

/** One worker's readings of one server around its work for a run (recorded in inference.completed). */
export interface ServerCacheReading {
  server: string;
  /** When the worker began its work for the run on this server. */
  before: PrefixCacheCounters;
  /** After this batch's last call. */
  after: PrefixCacheCounters;
}

/**
 * The run's prefix-cache use per server from the readings of every batch: from the earliest
 * "before" to the latest "after" (the counters only grow). Null when there is no reading, or a
 * server's counters went down (it restarted during the run, so the delta means nothing).
 */
export function serverCacheDelta(readings: readonly ServerCacheReading[]): { hits: number; queries: number; servers: string[] } | null {
  if (readings.length === 0) return null;
  const span = new Map<string, { before: PrefixCacheCounters; after: PrefixCacheCounters }>();
  for (const r of readings) {
    const s = span.get(r.server);
    if (!s) {
      span.set(r.server, { before: { ...r.before }, after: { ...r.after } });
      continue;
    }
    s.before = { hits: Math.min(s.before.hits, r.before.hits), queries: Math.min(s.before.queries, r.before.queries) };
    s.after = { hits: Math.max(s.after.hits, r.after.hits), queries: Math.max(s.after.queries, r.after.queries) };
  }
  let hits = 0;
  let queries = 0;
  for (const { before, after } of span.values()) {
    if (after.hits < before.hits || after.queries < before.queries) return null;
    hits += after.hits - before.hits;
    queries += after.queries - before.queries;
  }
  return { hits, queries, servers: [...span.keys()].sort() };
}

/**
 * Reads a server's prefix-cache counters for the worker. A server without them (not vLLM, an old
 * vLLM, or /metrics missing) is said once and not asked again; a failed read is said once per
 * streak of failures. Never rejects: null means "not known".
 */
export class PrefixCacheCounterReader {
  private unsupported = false;
  private failing = false;

  constructor(
    private readonly server: { readonly urls: { metrics: string }; metrics(signal: AbortSignal): Promise<{ status: number; text: string }> },
    private readonly onWarning: (message: string) => void,
    private readonly timeoutMs = 10_000,
  ) {}

  async read(): Promise<PrefixCacheCounters | null> {
    if (this.unsupported) return null;
    let response: { status: number; text: string };
    try {
      response = await this.server.metrics(AbortSignal.timeout(this.timeoutMs));
    } catch (error) {
      if (!this.failing) this.onWarning(`cannot read the prefix-cache counters at ${this.server.urls.metrics} (${errorMessage(error)}); the hit rate falls back to them only where they were read`);
      this.failing = true;
      return null;
    }
    this.failing = false;
    if (response.status < 200 || response.status >= 300) return this.unsupportedBecause(`answered ${response.status}`);
    const counters = parsePrefixCacheCounters(response.text);
    return counters ?? this.unsupportedBecause(`has no ${HITS} / ${QUERIES} counters`);
  }

  private unsupportedBecause(why: string): null {
    this.unsupported = true;
    this.onWarning(
      `${this.server.urls.metrics} ${why} and completions carry no usage.prompt_tokens_details.cached_tokens: ` +
        'the prefix-cache hit rate is unknown (start vLLM with --enable-prompt-tokens-details to have it)',
    );
    return null;
  }
}

const CACHE_CONFIG = 'vllm:cache_config_info';

/**
 * The server's KV-cache block size from vLLM's info gauge (`vllm:cache_config_info{block_size="16",...} 1`,
 * one sample per engine); null when the gauge or its label is absent, or engines disagree.
 */
export function parseCacheBlockSize(metricsText: string): number | null {
  const sizes = new Set<number>();
  for (const line of metricsText.split('\n')) {
    if (!line.startsWith(`${CACHE_CONFIG}{`)) continue;
    const label = /[{,]\s*block_size="(\d+)"/.exec(line);
    if (!label) return null;
    sizes.add(Number(label[1]));
  }
  if (sizes.size !== 1) return null;
  const [size] = sizes;
  return Number.isInteger(size) && size > 0 ? size : null;
}

/**
 * Reads a server's cache block size once for the worker (it is fixed at the server's start). When
 * it cannot be had, that is said once and the caller goes on without it (null); a failed read is
 * not remembered, so a later batch asks again. Never rejects.
 */
export class CacheBlockSizeReader {
  private known: Promise<number | null> | null = null;
  private said = false;

  constructor(
    private readonly server: { readonly urls: { metrics: string }; metrics(signal: AbortSignal): Promise<{ status: number; text: string }> },
    private readonly onWarning: (message: string) => void,
    private readonly timeoutMs = 10_000,
  ) {}

  read(): Promise<number | null> {
    if (!this.known) {
      const reading = this.fetch();
      this.known = reading.then((r) => r.blockSize);
      void reading.then((r) => {
        if (r.retry) this.known = null;
      });
    }
    return this.known;
  }

  private async fetch(): Promise<{ blockSize: number | null; retry: boolean }> {
    let response: { status: number; text: string };
    try {
      response = await this.server.metrics(AbortSignal.timeout(this.timeoutMs));
    } catch (error) {
      this.sayOnce(`could not be read (${errorMessage(error)})`);
      return { blockSize: null, retry: true };
    }
    const blockSize = response.status >= 200 && response.status < 300 ? parseCacheBlockSize(response.text) : null;
    if (blockSize === null) this.sayOnce(response.status >= 200 && response.status < 300 ? `has no ${CACHE_CONFIG} with one block_size` : `answered ${response.status}`);
    return { blockSize, retry: false };
  }

  private sayOnce(why: string): void {
    if (this.said) return;
    this.said = true;
    this.onWarning(`the server's cache block size is unknown (${this.server.urls.metrics} ${why}): the ideal hit rate counts whole tokens instead of whole blocks (a looser upper bound)`);
  }
}
