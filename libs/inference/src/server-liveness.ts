import { ModelCallError } from './retry';
import { serverUrls } from './server-urls';

/** What a liveness probe found: any HTTP answer means the server's process is alive. */
export type ProbeOutcome = { answered: true; ms: number; status: number } | { answered: false; reason: string };

/**
 * Asks a vLLM-style server whether it is alive: GET /health at the server's root (vLLM answers it
 * even with a full queue, from its API process). Any HTTP status counts as an answer (a server
 * without /health answers 404 quickly); only silence past the timeout or a refused connection
 * counts as "not answering".
 */
export async function probeServer(baseUrl: string, timeoutMs: number, fetchImpl: typeof fetch = fetch): Promise<ProbeOutcome> {
  const url = serverUrls(baseUrl).health;
  const started = performance.now();
  try {
    const response = await fetchImpl(url, { signal: AbortSignal.timeout(timeoutMs) });
    await response.arrayBuffer().catch(() => undefined);
    return { answered: true, ms: Math.round(performance.now() - started), status: response.status };
  } catch (error) {
    const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
    const reason =
      e.name === 'TimeoutError' || e.name === 'AbortError'
        ? `GET ${url} got no answer within ${formatSeconds(timeoutMs)}`
        : `GET ${url} failed: ${e.cause?.code ?? e.cause?.message ?? e.message ?? String(error)}`;
    return { answered: false, reason };
  }
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}

/** A call aborted because its server stopped answering; `episode` tells one outage from the next. */
export class ServerUnresponsiveError extends ModelCallError {
  constructor(
    message: string,
    readonly episode: number,
  ) {
    super(message, true, null);
    this.name = 'ServerUnresponsiveError';
  }
}

export interface LivenessSettings {
  /** Probe once calls are outstanding this long with no answer from the server meanwhile. */
  stallAfterMs: number;
  /** How long a probe may take before the server counts as not answering. */
  probeTimeoutMs: number;
}

/** Defaults: a busy GPU server answers some call (or /health) well within 30 s. */
export const DEFAULT_LIVENESS: LivenessSettings = { stallAfterMs: 30_000, probeTimeoutMs: 10_000 };

/**
 * The worker's liveness settings from its environment (ASSAY_SERVER_STALL_S,
 * ASSAY_SERVER_PROBE_TIMEOUT_S); operational, so not part of an experiment's config or identity.
 */
export function livenessFromEnv(env: NodeJS.ProcessEnv): LivenessSettings {
  const seconds = (name: string, fallbackMs: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallbackMs;
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number of seconds, got '${raw}'`);
    return n * 1000;
  };
  return { stallAfterMs: seconds('ASSAY_SERVER_STALL_S', DEFAULT_LIVENESS.stallAfterMs), probeTimeoutMs: seconds('ASSAY_SERVER_PROBE_TIMEOUT_S', DEFAULT_LIVENESS.probeTimeoutMs) };
}

interface Outstanding {
  startedAt: number;
  controller: AbortController;
}

/**
 * Notices a server that stopped answering (a frozen or wedged process keeps its sockets open, so
 * calls would otherwise wait for their full request timeout, minutes per prompt slot with
 * retries). While calls are outstanding past `stallAfterMs` and no call has been answered in that
 * time, it probes the server; if the probe gets no answer, every outstanding call is aborted with
 * a retryable ServerUnresponsiveError, and later calls fail the same way at once (each starting
 * a probe in the background if none runs) until the server answers again, so retries run out in
 * backoff time, not in request timeouts. A slow but alive server
 * (a long GPU queue) answers the probe, and its calls keep their full request timeout.
 */
export class ServerLiveness {
  private readonly outstanding = new Set<Outstanding>();
  private lastAnswerAt: number;
  private lastProbeOkAt = -Infinity;
  private unresponsive: string | null = null;
  private episode = 0;
  private probing: Promise<ProbeOutcome> | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly probe: () => Promise<ProbeOutcome>,
    private readonly settings: LivenessSettings,
    private readonly hooks: { now?: () => number; onUnresponsive?(reason: string, aborted: number): void; onRecovered?(): void } = {},
    /** Check period; 0 leaves checking to the caller (tests call check()). */
    checkEveryMs = Math.max(50, Math.min(1000, settings.stallAfterMs / 4)),
  ) {
    this.lastAnswerAt = this.now();
    if (checkEveryMs > 0) {
      this.timer = setInterval(() => void this.check(), checkEveryMs);
      this.timer.unref();
    }
  }

  private now(): number {
    return (this.hooks.now ?? (() => performance.now()))();
  }

  /** The reason the server counts as not answering, or null. */
  get notAnswering(): string | null {
    return this.unresponsive;
  }

  /** Runs one call under watch; the call must honour the signal. */
  async track<T>(call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (this.unresponsive !== null) {
      // Fail at once (the caller's retries back off), and look again in the background: a server
      // that answers again is used again from the next call on.
      void this.probeOnce();
      throw this.error(`not sent: ${this.unresponsive}`);
    }
    const entry: Outstanding = { startedAt: this.now(), controller: new AbortController() };
    this.outstanding.add(entry);
    try {
      const value = await call(entry.controller.signal);
      this.answered();
      return value;
    } catch (error) {
      if (entry.controller.signal.aborted && entry.controller.signal.reason instanceof ServerUnresponsiveError) throw entry.controller.signal.reason;
      // An HTTP error is an answer too: the server is alive.
      if (typeof (error as { status?: unknown }).status === 'number') this.answered();
      throw error;
    } finally {
      this.outstanding.delete(entry);
    }
  }

  /** One look: probes when calls have waited past the threshold with the server silent meanwhile. */
  async check(): Promise<void> {
    if (this.outstanding.size === 0 || this.probing) return;
    const now = this.now();
    const oldest = Math.min(...[...this.outstanding].map((o) => o.startedAt));
    const quietSince = Math.max(this.lastAnswerAt, this.lastProbeOkAt, oldest);
    if (now - quietSince < this.settings.stallAfterMs) return;
    const waiting = [...this.outstanding];
    const outcome = await this.probeOnce();
    if (outcome.answered) return;
    const error = this.error(`${waiting.length} call(s) waiting for ${formatSeconds(now - oldest)} and ${outcome.reason}`);
    for (const o of waiting) o.controller.abort(error);
    this.hooks.onUnresponsive?.(error.message, waiting.length);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private answered(): void {
    this.lastAnswerAt = this.now();
    if (this.unresponsive !== null) {
      this.unresponsive = null;
      this.hooks.onRecovered?.();
    }
  }

  /** One probe at a time, shared by everyone who asks while it runs. */
  private probeOnce(): Promise<ProbeOutcome> {
    this.probing ??= this.probe()
      .then((outcome) => {
        if (outcome.answered) {
          this.lastProbeOkAt = this.now();
          if (this.unresponsive !== null) {
            this.unresponsive = null;
            this.hooks.onRecovered?.();
          }
        } else if (this.unresponsive === null) {
          this.unresponsive = outcome.reason;
          this.episode++;
        } else this.unresponsive = outcome.reason;
        return outcome;
      })
      .finally(() => {
        this.probing = null;
      });
    return this.probing;
  }

  private error(detail: string): ServerUnresponsiveError {
    return new ServerUnresponsiveError(`the model server stopped answering (${detail})`, this.episode);
  }
}

/** Probes every replica at once; the first that does not answer is the one worth naming, else the first. */
export async function probeReplicas(baseUrls: readonly string[], timeoutMs: number): Promise<ProbeOutcome & { url: string }> {
  const outcomes = await Promise.all(baseUrls.map(async (url) => ({ ...(await probeServer(url, timeoutMs)), url })));
  return outcomes.find((o) => !o.answered) ?? outcomes[0];
}
