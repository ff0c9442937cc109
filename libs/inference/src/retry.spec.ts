import { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai';
import { classifyError, ModelCallError, retryDelayMs, withRetries, type RetryPolicy } from './retry';

/** An error as the openai client builds it from an HTTP answer with vLLM's error body. */
const httpError = (status: number, message: string) => APIError.generate(status, { error: { message, type: 'X', param: null, code: status } }, undefined, new Headers());

describe('classifyError', () => {
  it.each([500, 502, 503, 429, 408])('given HTTP %i, when classified, then it is retryable and keeps status and server message', (status) => {
    const e = classifyError(httpError(status, 'server says why'));
    expect(e).toBeInstanceOf(ModelCallError);
    expect(e.retryable).toBe(true);
    expect(e.status).toBe(status);
    expect(e.message).toBe(`HTTP ${status}: server says why`);
  });

  it.each([400, 401, 404, 422])('given HTTP %i, when classified, then it fails fast with the server message', (status) => {
    const e = classifyError(httpError(status, 'The model `nope` does not exist.'));
    expect(e.retryable).toBe(false);
    expect(e.status).toBe(status);
    expect(e.message).toBe(`HTTP ${status}: The model \`nope\` does not exist.`);
  });

  it('given a plain object with a status (not an openai error), when classified, then the status decides', () => {
    expect(classifyError({ status: 404, message: 'gone' })).toMatchObject({ retryable: false, status: 404, message: 'HTTP 404: gone' });
    expect(classifyError({ status: 504, message: 'late' })).toMatchObject({ retryable: true, status: 504 });
  });

  it('given a timeout, when classified, then it is retryable, named and keeps its message', () => {
    const e = classifyError(new APIConnectionTimeoutError());
    expect(e).toMatchObject({ retryable: true, status: null });
    expect(e.message).toBe('APIConnectionTimeoutError: Request timed out.');
  });

  it('given a dropped connection, when classified, then it is retryable and the reason from the cause chain is kept', () => {
    const socket = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
    const fetchFailed = new TypeError('fetch failed', { cause: socket });
    const e = classifyError(new APIConnectionError({ message: undefined, cause: fetchFailed }));
    expect(e).toMatchObject({ retryable: true, status: null });
    expect(e.message).toBe('APIConnectionError: Connection error. (fetch failed: other side closed [UND_ERR_SOCKET])');
  });

  it('given a refused connection from plain fetch, when classified, then it is retryable with its code', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const e = classifyError(new TypeError('fetch failed', { cause: refused }));
    expect(e.retryable).toBe(true);
    expect(e.message).toBe('TypeError: fetch failed (connect ECONNREFUSED 127.0.0.1:1)');
  });

  it('given a ModelCallError, when classified again, then it is returned unchanged', () => {
    const e = new ModelCallError('already', false, 400);
    expect(classifyError(e)).toBe(e);
  });

  it('given a non-error value, when classified, then it still gives a message', () => {
    expect(classifyError('boom').message).toBe('Error: boom');
    expect(classifyError(undefined).message).toBe('Error: undefined');
  });
});

describe('retryDelayMs', () => {
  const policy: RetryPolicy = { maxRetries: 10, baseDelayMs: 100, maxDelayMs: 1000 };

  it('given random 0, when computed, then the delay is 0 (full jitter lower bound)', () => {
    for (let retry = 1; retry <= 10; retry++) expect(retryDelayMs(retry, policy, () => 0)).toBe(0);
  });

  it('given random near 1, when computed, then the delay doubles per retry up to the cap', () => {
    const top = (retry: number) => retryDelayMs(retry, policy, () => 0.999999);
    expect([1, 2, 3, 4, 5, 6].map(top)).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(top(200)).toBe(1000); // 2 ** 199 does not overflow the cap
  });

  it('given any random in [0, 1), when computed, then the delay stays within [0, min(cap, base * 2^(retry-1))]', () => {
    for (let retry = 1; retry <= 8; retry++) {
      for (const r of [0.1, 0.37, 0.5, 0.93]) {
        const d = retryDelayMs(retry, policy, () => r);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(Math.min(1000, 100 * 2 ** (retry - 1)));
        expect(d).toBe(Math.round(r * Math.min(1000, 100 * 2 ** (retry - 1))));
      }
    }
  });
});

describe('withRetries', () => {
  const policy: RetryPolicy = { maxRetries: 3, baseDelayMs: 100, maxDelayMs: 1000 };
  const fakeSleep = () => {
    const slept: number[] = [];
    return { slept, sleep: async (ms: number) => void slept.push(ms) };
  };
  const failing = (failures: number, error: () => unknown) => {
    let calls = 0;
    return {
      calls: () => calls,
      call: async () => {
        calls++;
        if (calls <= failures) throw error();
        return `answer after ${calls}`;
      },
    };
  };

  it('given 2 transient failures, when run, then it succeeds on attempt 3 after 2 backoff sleeps', async () => {
    const { slept, sleep } = fakeSleep();
    const retries: Array<[string, number]> = [];
    const f = failing(2, () => httpError(503, 'busy'));
    const outcome = await withRetries(f.call, policy, { sleep, random: () => 0.5, onRetry: (e, n) => retries.push([e.message, n]) });
    expect(outcome).toEqual({ value: 'answer after 3', error: null, attempts: 3 });
    expect(slept).toEqual([50, 100]);
    expect(retries).toEqual([
      ['HTTP 503: busy', 1],
      ['HTTP 503: busy', 2],
    ]);
  });

  it('given more transient failures than maxRetries, when run, then it gives up after maxRetries + 1 attempts with the last error', async () => {
    const { slept, sleep } = fakeSleep();
    const f = failing(99, () => new APIConnectionTimeoutError());
    const outcome = await withRetries(f.call, policy, { sleep, random: () => 0 });
    expect(outcome.value).toBeNull();
    expect(outcome.attempts).toBe(4);
    expect(f.calls()).toBe(4);
    expect(slept).toHaveLength(3);
    expect(outcome.error).toMatchObject({ retryable: true, message: 'APIConnectionTimeoutError: Request timed out.' });
  });

  it('given a 4xx, when run, then it fails fast: 1 attempt, no sleep, no onRetry', async () => {
    const { slept, sleep } = fakeSleep();
    const onRetry = jest.fn();
    const f = failing(99, () => httpError(400, 'prompt too long'));
    const outcome = await withRetries(f.call, policy, { sleep, onRetry });
    expect(outcome).toMatchObject({ value: null, attempts: 1, error: { retryable: false, status: 400, message: 'HTTP 400: prompt too long' } });
    expect(f.calls()).toBe(1);
    expect(slept).toEqual([]);
    expect(onRetry).not.toHaveBeenCalled();
  });

  it('given maxRetries 0, when the call fails transiently, then there is exactly one attempt', async () => {
    const { sleep } = fakeSleep();
    const outcome = await withRetries(failing(1, () => httpError(500, 'x')).call, { ...policy, maxRetries: 0 }, { sleep });
    expect(outcome.attempts).toBe(1);
    expect(outcome.error?.status).toBe(500);
  });

  it('given a success at once, when run, then attempts is 1', async () => {
    expect(await withRetries(async () => 7, policy)).toEqual({ value: 7, error: null, attempts: 1 });
  });
});
