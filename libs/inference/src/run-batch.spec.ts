import { APIError } from 'openai';
import type { PromptRequest, PromptResult } from '@assay/contracts';
import { promptString, type Completion, type ModelClient } from './model-client';
import { committedBatchProgress, prefixEvicted, runBatch, type BatchProgress } from './run-batch';
import { WorkAbortedError } from './retry';
import { EntityPipeline } from './entity-pipeline';

const PREFIX = '<sys>profile of entity e1</sys>\nQuestion: ';
const prompts = (n: number): PromptRequest[] =>
  Array.from({ length: n }, (_, i) => ({ promptId: `p${i}`, group: 'g', item: `q${i}`, suffix: `item q${i}?`, actual: i }));
const httpError = (status: number, message: string) => APIError.generate(status, { error: { message } }, undefined, new Headers());
const FAST_RETRY = { maxRetries: 2, baseDelayMs: 1, maxDelayMs: 2 };

/** A model that answers after `delayMs(prompt)` (or once `gate(prompt)` opens), records starts and ends, and fails as told. */
function fakeClient(opts: { delayMs?: (suffix: string) => number; gate?: (suffix: string) => Promise<void>; fail?: (suffix: string, call: number) => unknown } = {}) {
  const events: string[] = [];
  const calls = new Map<string, number>();
  let inFlight = 0;
  let peak = 0;
  const client: ModelClient = {
    async complete(sent) {
      const prompt = promptString(sent);
      expect(prompt.startsWith(PREFIX)).toBe(true);
      const suffix = prompt.slice(PREFIX.length);
      const call = (calls.get(suffix) ?? 0) + 1;
      calls.set(suffix, call);
      events.push(`start ${suffix}`);
      inFlight++;
      peak = Math.max(peak, inFlight);
      try {
        await (opts.gate ? opts.gate(suffix) : new Promise((r) => setTimeout(r, opts.delayMs?.(suffix) ?? 2)));
        const failure = opts.fail?.(suffix, call);
        if (failure) throw failure;
        const answer: Completion = { text: `answer to ${suffix}`, finishReason: 'stop', promptTokens: 40, completionTokens: 2, cachedTokens: 32 };
        return answer;
      } finally {
        inFlight--;
        events.push(`end ${suffix}`);
      }
    },
    countTokens: async () => 32,
  };
  return { client, events, calls, peak: () => peak };
}

function recorder(): BatchProgress & { done: PromptResult[]; retries: Array<[string, string, number]> } {
  const done: PromptResult[] = [];
  const retries: Array<[string, string, number]> = [];
  return { done, retries, onPromptDone: (r) => void done.push(r), onRetry: (id, e, n) => void retries.push([id, e, n]) };
}

describe('runBatch', () => {
  it('given 12 prompts and room for 8, when run, then the first completes before any other starts, and the rest overlap', async () => {
    const fake = fakeClient({ delayMs: () => 5 });
    await runBatch(PREFIX, prompts(12), fake.client, { pipeline: new EntityPipeline(8), retry: FAST_RETRY, progress: recorder() });
    const firstEnd = fake.events.indexOf('end item q0?');
    expect(fake.events[0]).toBe('start item q0?');
    expect(firstEnd).toBe(1);
    expect(fake.events.filter((e) => e.startsWith('start'))).toHaveLength(12);
    expect(fake.peak()).toBe(8);
  });

  it('given answers finishing in reverse order, when run, then results are in prompt order with their outputs', async () => {
    // The fan-out's answers are released last-first once all nine are in flight: out of order by construction, not by timers.
    const release = new Map<string, () => void>();
    const fake = fakeClient({ gate: (s) => (s === 'item q0?' ? Promise.resolve() : new Promise<void>((r) => release.set(s, r))) });
    const running = runBatch(PREFIX, prompts(10), fake.client, { pipeline: new EntityPipeline(10), retry: FAST_RETRY, progress: recorder() });
    while (release.size < 9) await new Promise((r) => setImmediate(r));
    for (let i = 9; i >= 1; i--) {
      release.get(`item q${i}?`)!();
      await new Promise((r) => setImmediate(r));
    }
    const results = await running;
    expect(results.map((r) => r.promptId)).toEqual(prompts(10).map((p) => p.promptId));
    expect(results.map((r) => r.outputText)).toEqual(prompts(10).map((p) => `answer to ${p.suffix}`));
    // They really did finish out of order.
    const ends = fake.events.filter((e) => e.startsWith('end')).slice(1);
    expect(ends[0]).toBe('end item q9?');
    expect(results[3]).toEqual({
      promptId: 'p3',
      status: 'ok',
      outputText: 'answer to item q3?',
      error: null,
      finishReason: 'stop',
      promptTokens: 40,
      completionTokens: 2,
      cachedTokens: 32,
      latencyMs: expect.any(Number),
      attempts: 1,
      startedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      finishedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
  });

  it('given a replica and a clock, when run, then every result, failed or not, carries the replica and the wall-clock start and end of its call', async () => {
    const fake = fakeClient({ fail: (s) => (s === 'item q1?' ? httpError(400, 'prompt too long') : undefined) });
    let tick = Date.parse('2026-01-01T00:00:00.000Z');
    const clock = () => new Date((tick += 1000));
    const results = await runBatch(PREFIX, prompts(2), fake.client, {
      pipeline: new EntityPipeline(1),
      retry: FAST_RETRY,
      progress: recorder(),
      replica: 'http://gpu-3:8000/v1',
      clock,
    });
    expect(results.map((r) => [r.status, r.replica, r.startedAt, r.finishedAt])).toEqual([
      ['ok', 'http://gpu-3:8000/v1', '2026-01-01T00:00:01.000Z', '2026-01-01T00:00:02.000Z'],
      ['error', 'http://gpu-3:8000/v1', '2026-01-01T00:00:03.000Z', '2026-01-01T00:00:04.000Z'],
    ]);
  });

  it('given one prompt that always gets 503 and one that gets 400, when run, then both are kept as errors with their messages and attempts, the others ok', async () => {
    const fake = fakeClient({
      fail: (s) => (s === 'item q2?' ? httpError(503, 'overloaded') : s === 'item q4?' ? httpError(400, 'prompt too long') : undefined),
    });
    const progress = recorder();
    const results = await runBatch(PREFIX, prompts(6), fake.client, { pipeline: new EntityPipeline(3), retry: FAST_RETRY, progress });
    expect(results).toHaveLength(6);
    expect(results[2]).toMatchObject({ promptId: 'p2', status: 'error', outputText: null, error: 'HTTP 503: overloaded', attempts: 3, promptTokens: null, cachedTokens: null });
    expect(results[4]).toMatchObject({ promptId: 'p4', status: 'error', error: 'HTTP 400: prompt too long', attempts: 1 });
    expect(results.filter((r) => r.status === 'ok').map((r) => r.promptId)).toEqual(['p0', 'p1', 'p3', 'p5']);
    expect(fake.calls.get('item q2?')).toBe(3);
    expect(fake.calls.get('item q4?')).toBe(1);
    // Progress: one onPromptDone per prompt, one onRetry per retry.
    expect(progress.done.map((r) => r.promptId).sort()).toEqual(['p0', 'p1', 'p2', 'p3', 'p4', 'p5']);
    expect(progress.done.filter((r) => r.status === 'error')).toHaveLength(2);
    expect(progress.retries).toEqual([
      ['p2', 'HTTP 503: overloaded', 1],
      ['p2', 'HTTP 503: overloaded', 2],
    ]);
  });

  it('given transient failures that clear, when run, then the prompt is ok with attempts counted and a retry reported', async () => {
    const fake = fakeClient({ fail: (s, call) => (s === 'item q1?' && call === 1 ? httpError(429, 'slow down') : undefined) });
    const progress = recorder();
    const results = await runBatch(PREFIX, prompts(3), fake.client, { pipeline: new EntityPipeline(3), retry: FAST_RETRY, progress });
    expect(results[1]).toMatchObject({ status: 'ok', attempts: 2, error: null });
    expect(progress.retries).toEqual([['p1', 'HTTP 429: slow down', 1]]);
    expect(progress.done).toHaveLength(3);
  });

  it('given the warm-up prompt fails, when run, then the rest still run and the failure is kept', async () => {
    const fake = fakeClient({ fail: (s) => (s === 'item q0?' ? httpError(400, 'bad') : undefined) });
    const results = await runBatch(PREFIX, prompts(4), fake.client, { pipeline: new EntityPipeline(4), retry: FAST_RETRY, progress: recorder() });
    expect(results.map((r) => r.status)).toEqual(['error', 'ok', 'ok', 'ok']);
  });

  it('given an injected clock, when run, then latencyMs is the time inside the call (not the queue)', async () => {
    let t = 0;
    const now = () => (t += 1.25);
    const results = await runBatch(PREFIX, prompts(2), fakeClient().client, { pipeline: new EntityPipeline(1), retry: FAST_RETRY, progress: recorder(), now });
    expect(results.map((r) => r.latencyMs)).toEqual([1.25, 1.25]);
  });

  it('given two batches sharing one semaphore, when run together, then the bound holds across them', async () => {
    const fake = fakeClient({ delayMs: () => 3 });
    const pipeline = new EntityPipeline(3);
    const run = () => runBatch(PREFIX, prompts(8), fake.client, { pipeline, retry: FAST_RETRY, progress: recorder() });
    const [a, b] = await Promise.all([run(), run()]);
    expect(a).toHaveLength(8);
    expect(b).toHaveLength(8);
    expect(fake.peak()).toBe(3);
  });

  it('given no prompts, when run, then it returns no results without calling the model', async () => {
    const fake = fakeClient();
    await expect(runBatch(PREFIX, [], fake.client, { pipeline: new EntityPipeline(1), retry: FAST_RETRY, progress: recorder() })).resolves.toEqual([]);
    expect(fake.events).toEqual([]);
  });
});

describe('prefixEvicted', () => {
  const longPrefix = 'x'.repeat(900);
  const asked = [{ promptId: 'p1', group: 'g', item: 'q1', suffix: 'y'.repeat(100), actual: 1 }];
  const result = (promptTokens: number | null, cachedTokens: number | null): PromptResult => ({
    promptId: 'p1', status: 'ok', outputText: '1', error: null, finishReason: 'stop', promptTokens, completionTokens: 1, cachedTokens, latencyMs: 1, attempts: 1,
  });

  it('given fan-out prompts that reused their prefix, when judged, then no eviction', () => {
    expect(prefixEvicted(longPrefix, asked, [result(1000, 896)])).toBe(false);
  });

  it('given a fan-out prompt that prefilled the prefix again, when judged, then evicted', () => {
    expect(prefixEvicted(longPrefix, asked, [result(1000, 0)])).toBe(true);
  });

  it('given no cached-token counts or a prefix too short to judge, when judged, then null (no signal)', () => {
    expect(prefixEvicted(longPrefix, asked, [result(1000, null)])).toBeNull();
    expect(prefixEvicted('x'.repeat(9), asked, [result(110, 0)])).toBeNull();
  });

  it('given a batch whose prompts missed the cache, when run, then its pipeline lowers how many entities it lets ahead', async () => {
    const pipeline = new EntityPipeline(8, { maxAhead: 4, startAhead: 4 });
    const missing: ModelClient = {
      complete: async (prompt) => ({ text: '1', finishReason: 'stop', promptTokens: promptString(prompt).length, completionTokens: 1, cachedTokens: 0 }),
      countTokens: async () => null,
    };
    await runBatch('x'.repeat(900), prompts(3), missing, { pipeline, retry: FAST_RETRY, progress: recorder() });
    expect(pipeline.limit).toBe(2);
  });
});

describe('committedBatchProgress', () => {
  const results = [{ status: 'ok' as const }, { status: 'error' as const }, { status: 'ok' as const }];

  it('given an outcome this delivery committed, counts every prompt of the batch done, its failures failed', () => {
    expect(committedBatchProgress({ duplicate: false }, results)).toEqual({ promptsDone: 3, inferenceFailures: 1 });
  });

  it('given a duplicate (a redelivered batch another delivery committed first), counts nothing, so progress never passes the plan', () => {
    expect(committedBatchProgress({ duplicate: true }, results)).toBeNull();
    expect(committedBatchProgress({ duplicate: true }, { failedPrompts: 12 })).toBeNull();
  });

  it('given a batch that failed as a whole, counts its prompts done and failed', () => {
    expect(committedBatchProgress({ duplicate: false }, { failedPrompts: 12 })).toEqual({ promptsDone: 12, inferenceFailures: 12 });
  });
});

describe('runBatch with an abort signal (the attempt ended)', () => {
  it('given an abort while fan-out calls are in flight, when run, then the calls in flight are cut, waiting prompts make no call, and the batch rejects as dropped', async () => {
    const controller = new AbortController();
    const started: string[] = [];
    let cut = 0;
    const client: ModelClient = {
      complete: (prompt, signal) =>
        new Promise<Completion>((resolve, reject) => {
          const suffix = promptString(prompt).slice(PREFIX.length);
          started.push(suffix);
          // The second fan-out call is the moment the attempt ends: deterministic, no timing.
          if (started.length === 3) controller.abort(new Error('experiment.cancelled'));
          if (suffix === 'item q0?') return resolve({ text: '1', finishReason: 'stop', promptTokens: 40, completionTokens: 1, cachedTokens: 0 });
          const onAbort = () => {
            cut++;
            reject(Object.assign(new Error('Request was aborted.'), { name: 'AbortError' }));
          };
          if (signal?.aborted) onAbort();
          else signal?.addEventListener('abort', onAbort, { once: true });
        }),
      countTokens: async () => null,
    };
    const progress = recorder();
    await expect(runBatch(PREFIX, prompts(8), client, { pipeline: new EntityPipeline(2), retry: FAST_RETRY, progress, signal: controller.signal })).rejects.toThrow(WorkAbortedError);
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual(['item q0?', 'item q1?', 'item q2?']);
    expect(cut).toBe(2);
    // Neither a retry nor a recorded failure: dropped work is not a model failure.
    expect(progress.retries).toEqual([]);
    expect(progress.done.map((r) => r.status)).toEqual(['ok']);
  });

  it('given a signal aborted before the batch starts, when run, then no model call is made', async () => {
    const fake = fakeClient();
    const controller = new AbortController();
    controller.abort(new Error('ended'));
    await expect(runBatch(PREFIX, prompts(3), fake.client, { pipeline: new EntityPipeline(2), retry: FAST_RETRY, progress: recorder(), signal: controller.signal })).rejects.toThrow(/dropped: ended/);
    expect(fake.events).toEqual([]);
  });
});
