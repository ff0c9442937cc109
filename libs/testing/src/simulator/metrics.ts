import { DEFAULT_BLOCK_SIZE } from './prefix-cache';

/**
 * Two views of what the simulator did:
 * - `SimulatorStats`: resettable totals for tests and benchmarks (GET /sim/stats);
 * - Prometheus counters named as vLLM v1 names them (GET /metrics), monotonic like the real ones
 *   (a reset of the stats does not touch them), so a dashboard or the worker's cache-hit check
 *   reads the simulator exactly as it would read vLLM.
 */

export interface SimulatorStats {
  /** Completion/chat requests answered successfully. */
  requests: number;
  promptTokens: number;
  /** Prompt tokens served from the prefix cache. */
  cachedTokens: number;
  completionTokens: number;
  /** Wall time with at least one request running. */
  busyMs: number;
  /** Wall time since start or the last reset. */
  wallMs: number;
  maxRunning: number;
  maxWaiting: number;
  /** Requests answered with an injected fault (503, 400, hang or drop). */
  errorsInjected: number;
}

interface ModelCounters {
  promptTokens: number;
  generationTokens: number;
  prefixQueries: number;
  prefixHits: number;
  successStop: number;
  successLength: number;
}

export class StatsRecorder {
  private requests = 0;
  private promptTokens = 0;
  private cachedTokens = 0;
  private completionTokens = 0;
  private errorsInjected = 0;
  private maxRunning = 0;
  private maxWaiting = 0;
  private busyAccumMs = 0;
  private busySince: number | undefined;
  private wallStart = performance.now();
  private running = 0;
  private waiting = 0;
  private readonly counters = new Map<string, ModelCounters>();

  constructor(
    private readonly modelIds: readonly string[],
    private readonly exposition: { prefixCacheCounters: boolean; blockSize: number } = { prefixCacheCounters: true, blockSize: DEFAULT_BLOCK_SIZE },
  ) {
    for (const id of modelIds) this.counters.set(id, emptyCounters());
  }

  /** Scheduler occupancy changed. */
  occupancy(running: number, waiting: number): void {
    const now = performance.now();
    if (this.running === 0 && running > 0) this.busySince = now;
    if (this.running > 0 && running === 0 && this.busySince !== undefined) {
      this.busyAccumMs += now - this.busySince;
      this.busySince = undefined;
    }
    this.running = running;
    this.waiting = waiting;
    this.maxRunning = Math.max(this.maxRunning, running);
    this.maxWaiting = Math.max(this.maxWaiting, waiting);
  }

  /** A request got a slot and looked up the prefix cache (vLLM counts cache queries here). */
  scheduled(model: string, promptTokens: number, cachedTokens: number): void {
    const c = this.model(model);
    c.prefixQueries += promptTokens;
    c.prefixHits += cachedTokens;
  }

  succeeded(model: string, r: { promptTokens: number; cachedTokens: number; completionTokens: number; finishReason: 'stop' | 'length' }): void {
    this.requests++;
    this.promptTokens += r.promptTokens;
    this.cachedTokens += r.cachedTokens;
    this.completionTokens += r.completionTokens;
    const c = this.model(model);
    c.promptTokens += r.promptTokens;
    c.generationTokens += r.completionTokens;
    if (r.finishReason === 'stop') c.successStop++;
    else c.successLength++;
  }

  faultInjected(): void {
    this.errorsInjected++;
  }

  reset(): void {
    this.requests = 0;
    this.promptTokens = 0;
    this.cachedTokens = 0;
    this.completionTokens = 0;
    this.errorsInjected = 0;
    this.maxRunning = this.running;
    this.maxWaiting = this.waiting;
    this.busyAccumMs = 0;
    this.wallStart = performance.now();
    this.busySince = this.running > 0 ? this.wallStart : undefined;
  }

  snapshot(): SimulatorStats {
    const now = performance.now();
    const openBusy = this.busySince === undefined ? 0 : now - this.busySince;
    return {
      requests: this.requests,
      promptTokens: this.promptTokens,
      cachedTokens: this.cachedTokens,
      completionTokens: this.completionTokens,
      busyMs: round3(this.busyAccumMs + openBusy),
      wallMs: round3(now - this.wallStart),
      maxRunning: this.maxRunning,
      maxWaiting: this.maxWaiting,
      errorsInjected: this.errorsInjected,
    };
  }

  /** Prometheus text exposition, one series per served model. */
  prometheus(occupancy: (model: string) => { running: number; waiting: number }): string {
    const lines: string[] = [];
    const family = (name: string, type: 'counter' | 'gauge', help: string, value: (m: string, c: ModelCounters) => number): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const id of this.modelIds) lines.push(`${name}{model_name="${escapeLabel(id)}"} ${formatValue(value(id, this.model(id)))}`);
    };
    family('vllm:num_requests_running', 'gauge', 'Number of requests in model execution batches.', (m) => occupancy(m).running);
    family('vllm:num_requests_waiting', 'gauge', 'Number of requests waiting to be processed.', (m) => occupancy(m).waiting);
    if (this.exposition.prefixCacheCounters) {
      family('vllm:prefix_cache_queries_total', 'counter', 'Prefix cache queries, in terms of number of queried tokens.', (_, c) => c.prefixQueries);
      family('vllm:prefix_cache_hits_total', 'counter', 'Prefix cache hits, in terms of number of cached tokens.', (_, c) => c.prefixHits);
    }
    // vLLM's info gauge of its cache config (one per engine; the labels carry the values).
    lines.push('# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig', '# TYPE vllm:cache_config_info gauge');
    lines.push(`vllm:cache_config_info{block_size="${this.exposition.blockSize}",enable_prefix_caching="True",engine="0"} 1.0`);
    family('vllm:prompt_tokens_total', 'counter', 'Number of prefill tokens processed.', (_, c) => c.promptTokens);
    family('vllm:generation_tokens_total', 'counter', 'Number of generation tokens processed.', (_, c) => c.generationTokens);
    lines.push('# HELP vllm:request_success_total Count of successfully processed requests.', '# TYPE vllm:request_success_total counter');
    for (const id of this.modelIds) {
      const c = this.model(id);
      lines.push(`vllm:request_success_total{finished_reason="stop",model_name="${escapeLabel(id)}"} ${formatValue(c.successStop)}`);
      lines.push(`vllm:request_success_total{finished_reason="length",model_name="${escapeLabel(id)}"} ${formatValue(c.successLength)}`);
    }
    return `${lines.join('\n')}\n`;
  }

  private model(id: string): ModelCounters {
    let c = this.counters.get(id);
    if (!c) {
      c = emptyCounters();
      this.counters.set(id, c);
    }
    return c;
  }
}

function emptyCounters(): ModelCounters {
  return { promptTokens: 0, generationTokens: 0, prefixQueries: 0, prefixHits: 0, successStop: 0, successLength: 0 };
}

function round3(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** prometheus_client (Python) writes every sample as a float: `12.0`. */
function formatValue(v: number): string {
  return Number.isInteger(v) ? v.toFixed(1) : String(v);
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
