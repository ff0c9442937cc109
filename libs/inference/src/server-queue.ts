import { errorMessage } from '@assay/contracts';
import { VllmServer } from './vllm-server';

/** How many requests wait in the model server's queue. Resolves null when it cannot be told now; never rejects. */
export interface ServerQueue {
  waiting(): Promise<number | null>;
}

const WAITING = 'vllm:num_requests_waiting';

/** The sum of vLLM's `vllm:num_requests_waiting` gauge over its label sets, or null when absent. */
export function parseWaitingRequests(metricsText: string): number | null {
  let total: number | null = null;
  for (const line of metricsText.split('\n')) {
    if (!line.startsWith(WAITING)) continue;
    const next = line.charAt(WAITING.length);
    if (next !== '{' && next !== ' ') continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) total = (total ?? 0) + value;
  }
  return total;
}

/** A healthy server answers /metrics in milliseconds. */
const METRICS_TIMEOUT_MS = 10_000;

/**
 * The queue of a vLLM(-compatible) server, read from its Prometheus `/metrics` (at the server's
 * root, beside `/v1`). A server without that endpoint or gauge is said once and not asked again:
 * the worker then schedules without it. A failed read is "unknown now", said when a streak of
 * failures starts (the model calls' own retries deal with a server that is down).
 */
export class MetricsServerQueue implements ServerQueue {
  readonly url: string;
  private unsupported = false;
  private failing = false;

  private readonly server: VllmServer;

  /** `server`: a base URL (read without credentials: vLLM serves /metrics without --api-key's check), or the adapter itself. */
  constructor(
    server: string | VllmServer,
    private readonly onWarning: (warning: string) => void,
    fetchFn?: typeof fetch,
  ) {
    this.server = typeof server === 'string' ? new VllmServer(server, null, fetchFn) : server;
    this.url = this.server.urls.metrics;
  }

  async waiting(): Promise<number | null> {
    if (this.unsupported) return null;
    let text: string;
    try {
      // Bounded: a frozen server would otherwise hold this read, and with it every later one, forever.
      const response = await this.server.metrics(AbortSignal.timeout(METRICS_TIMEOUT_MS));
      text = response.text;
      if (response.status < 200 || response.status >= 300) return this.unsupportedBecause(`answered ${response.status}`);
    } catch (error) {
      if (!this.failing) this.onWarning(`cannot read the server's queue at ${this.url} (${errorMessage(error)}); scheduling without it until it answers`);
      this.failing = true;
      return null;
    }
    this.failing = false;
    const waiting = parseWaitingRequests(text);
    return waiting === null ? this.unsupportedBecause(`has no ${WAITING} gauge`) : waiting;
  }

  private unsupportedBecause(why: string): null {
    this.unsupported = true;
    this.onWarning(`${this.url} ${why}: entities are admitted without looking at the server's queue`);
    return null;
  }
}
