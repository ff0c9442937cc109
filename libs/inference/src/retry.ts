import { backoffDelayMs } from '@assay/contracts';

/** A failed model call, classified: transient ones are retried, the rest fail fast with the server's message. */
export class ModelCallError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status: number | null,
  ) {
    super(message);
    this.name = 'ModelCallError';
  }
}

/**
 * 5xx, 429, 408, timeouts and dropped connections are transient on a busy GPU server; any
 * other 4xx (bad request, unknown model, prompt too long) will fail the same way again.
 */
export function classifyError(error: unknown): ModelCallError {
  if (error instanceof ModelCallError) return error;
  const e = (error ?? {}) as { status?: number; name?: string; message?: string; error?: { message?: string } | null; cause?: unknown };
  const message = e.error?.message ?? e.message ?? String(error);
  if (typeof e.status === 'number') {
    const retryable = e.status >= 500 || e.status === 429 || e.status === 408;
    return new ModelCallError(`HTTP ${e.status}: ${message}`, retryable, e.status);
  }
  // No status: the request never got an answer (connection refused/reset, timeout).
  // The openai client says only "Connection error."; the reason (ECONNREFUSED, "other side closed") is in its cause chain.
  const reasons = causeChain(e.cause).filter((r) => !message.includes(r));
  return new ModelCallError(`${errorName(error)}: ${message}${reasons.length ? ` (${reasons.join(': ')})` : ''}`, true, null);
}

/** The class name: openai's error classes leave `name` as the inherited 'Error'. */
function errorName(error: unknown): string {
  if (typeof error !== 'object' || error === null) return 'Error';
  const e = error as { name?: unknown; constructor?: { name?: unknown } };
  if (typeof e.name === 'string' && e.name !== 'Error') return e.name;
  if (typeof e.constructor?.name === 'string' && e.constructor.name !== 'Object' && e.constructor.name !== '') return e.constructor.name;
  return 'Error';
}

/** Messages (and error codes) of an error's causes, outermost first, at most a few levels deep. */
function causeChain(cause: unknown): string[] {
  const out: string[] = [];
  for (let c = cause as { message?: unknown; code?: unknown; cause?: unknown } | undefined, depth = 0; c && depth < 4; c = c.cause as typeof c, depth++) {
    const text = typeof c.message === 'string' && c.message ? c.message : typeof c.code === 'string' ? c.code : '';
    if (text && !out.includes(text)) out.push(typeof c.code === 'string' && !text.includes(c.code) ? `${text} [${c.code}]` : text);
  }
  return out;
}

export interface RetryPolicy {
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** Exponential backoff with full jitter: spreads retries of many workers hitting one server. */
export function retryDelayMs(retry: number, policy: RetryPolicy, random: () => number): number {
  return backoffDelayMs(retry, policy.baseDelayMs, policy.maxDelayMs, random, 'full');
}

export interface RetryOutcome<T> {
  value: T | null;
  error: ModelCallError | null;
  attempts: number;
}

/** The work of an attempt that ended (cancelled, failed) was dropped: not a model failure, nothing to record. */
export class WorkAbortedError extends Error {
  constructor(reason: unknown) {
    super(`dropped: ${reason instanceof Error ? reason.message : String(reason ?? 'aborted')}`);
    this.name = 'WorkAbortedError';
  }
}

/** Throws WorkAbortedError when the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new WorkAbortedError(signal.reason);
}

/**
 * Calls with retries; with `signal`, an abort ends the retries at once with WorkAbortedError
 * (a call cut short by the abort is not a failure of the model server).
 */
export async function withRetries<T>(
  call: () => Promise<T>,
  policy: RetryPolicy,
  hooks: { onRetry?: (error: ModelCallError, retry: number) => void; sleep?: (ms: number) => Promise<void>; random?: () => number; signal?: AbortSignal } = {},
): Promise<RetryOutcome<T>> {
  const { signal } = hooks;
  // A backoff of up to maxDelayMs ends early on an abort: the loop then stops.
  const sleep =
    hooks.sleep ??
    ((ms: number) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms);
        function done(): void {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          resolve();
        }
        signal?.addEventListener('abort', done, { once: true });
      }));
  const random = hooks.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    throwIfAborted(signal);
    try {
      return { value: await call(), error: null, attempts: attempt };
    } catch (raw) {
      throwIfAborted(signal);
      const error = classifyError(raw);
      if (!error.retryable || attempt > policy.maxRetries) return { value: null, error, attempts: attempt };
      hooks.onRetry?.(error, attempt);
      await sleep(retryDelayMs(attempt, policy, random));
    }
  }
}
