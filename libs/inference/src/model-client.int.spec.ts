import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PromptResult } from '@assay/contracts';
import { countTokens as simCountTokens, startSimulator, type FaultPlan, type RunningSimulator } from '../../testing/src/simulator';
import { openAiModelClient } from './model-client';
import { classifyError, withRetries } from './retry';
import { runBatch, type BatchProgress } from './run-batch';
import { EntityPipeline } from './entity-pipeline';
import { entityBatch, modelSettings, SIM_MODEL } from './test-helpers';

/** The OpenAI-compatible client and the retry path against the in-process vLLM simulator. */

let sim: RunningSimulator;
beforeAll(async () => {
  sim = await startSimulator({ port: 0, models: [{ id: SIM_MODEL, maxModelLen: 8192 }] });
});
afterAll(async () => {
  await sim.close();
});
beforeEach(() => {
  sim.setFaults({});
  sim.resetPrefixCache();
  sim.resetStats();
});

const FAST_RETRY = { maxRetries: 3, baseDelayMs: 5, maxDelayMs: 20 };

function recorder(): BatchProgress & { done: PromptResult[]; retries: string[] } {
  const done: PromptResult[] = [];
  const retries: string[] = [];
  return { done, retries, onPromptDone: (r) => void done.push(r), onRetry: (_id, e) => void retries.push(e) };
}

describe('openAiModelClient against the simulator', () => {
  it('given a templated prompt, when completed, then text, usage and cached tokens come back as the server counted them', async () => {
    const client = openAiModelClient(modelSettings(sim.url));
    const batch = entityBatch('e-usage', 2);
    const prompt = batch.prefix + batch.prompts[0].suffix;

    const first = await client.complete(prompt);
    expect(first.text).toMatch(/^[1-5]$/); // the question asks for 1..5
    expect(first.finishReason).toBe('stop');
    // add_special_tokens false: exactly the tokens of our text, no second BOS.
    expect(first.promptTokens).toBe(simCountTokens(prompt));
    expect(first.completionTokens).toBeGreaterThanOrEqual(1);
    expect(first.cachedTokens).toBe(0);

    const again = await client.complete(batch.prefix + batch.prompts[1].suffix);
    const prefixTokens = await client.countTokens(batch.prefix);
    expect(prefixTokens).toBe(simCountTokens(batch.prefix));
    // The shared prefix was cached by the first request, in whole 16-token blocks.
    expect(again.cachedTokens).toBeGreaterThan(prefixTokens! - 16);
    expect(again.cachedTokens! % 16).toBe(0);
    expect(sim.stats()).toMatchObject({ requests: 2, cachedTokens: again.cachedTokens });
  });

  it('given the same prompt and seed twice, when completed, then the answer is the same', async () => {
    const client = openAiModelClient(modelSettings(sim.url));
    const batch = entityBatch('e-det', 1);
    const a = await client.complete(batch.prefix + batch.prompts[0].suffix);
    const b = await client.complete(batch.prefix + batch.prompts[0].suffix);
    expect(b.text).toBe(a.text);
  });

  it('given an unknown model, when completed, then the error is non-retryable with the server message, and withRetries makes 1 attempt', async () => {
    const client = openAiModelClient(modelSettings(sim.url, { id: 'nope/model' }));
    const raw = await client.complete('hello').then(
      () => undefined,
      (e: unknown) => e,
    );
    const e = classifyError(raw);
    expect(e).toMatchObject({ retryable: false, status: 404, message: 'HTTP 404: The model `nope/model` does not exist.' });
    const outcome = await withRetries(() => client.complete('hello'), FAST_RETRY);
    expect(outcome.attempts).toBe(1);
    expect(outcome.error?.message).toBe('HTTP 404: The model `nope/model` does not exist.');
  });

  it('given a LoRA adapter, when completed, then the adapter is the model asked for (the server 404s an adapter it does not serve)', async () => {
    const outcome = await withRetries(() => openAiModelClient(modelSettings(sim.url, { loraAdapter: 'my-adapter' })).complete('hello'), FAST_RETRY);
    expect(outcome.error?.message).toBe('HTTP 404: The model `my-adapter` does not exist.');
  });

  it('given api_key_env naming an unset variable, when the client is made, then a clear error names the variable', () => {
    expect(() => openAiModelClient(modelSettings(sim.url, { apiKeyEnv: 'ASSAY_TEST_NO_SUCH_KEY' }), {})).toThrow(
      "model.api_key_env names ASSAY_TEST_NO_SUCH_KEY, but it is not set in the worker's environment",
    );
    expect(() => openAiModelClient(modelSettings(sim.url, { apiKeyEnv: 'ASSAY_TEST_KEY' }), { ASSAY_TEST_KEY: '' })).toThrow('ASSAY_TEST_KEY');
  });

  it('given api_key_env set, when completing and counting, then the key goes out as a bearer token', async () => {
    const seen: string[] = [];
    const server = await fakeServer((path, auth) => {
      seen.push(`${path} ${auth}`);
      return path === '/tokenize' ? [200, { count: 3 }] : [200, { id: 'x', object: 'text_completion', created: 0, model: 'm', choices: [{ index: 0, text: '4', finish_reason: 'stop' }] }];
    });
    try {
      const client = openAiModelClient(modelSettings(`${server.url}/v1`, { apiKeyEnv: 'MY_KEY' }), { MY_KEY: 's3cret' });
      expect(await client.complete('p')).toEqual({ text: '4', finishReason: 'stop', promptTokens: null, completionTokens: null, cachedTokens: null });
      expect(await client.countTokens('p')).toBe(3);
      expect(seen).toEqual(['/v1/completions Bearer s3cret', '/tokenize Bearer s3cret']);
    } finally {
      await server.close();
    }
  });
});

describe('countTokens is best-effort: a /tokenize problem never fails the batch', () => {
  it('given a server without /tokenize (404), when counting, then null and no warning', async () => {
    const server = await fakeServer(() => [404, { detail: 'Not Found' }]);
    try {
      const warnings: string[] = [];
      expect(await openAiModelClient(modelSettings(`${server.url}/v1`), {}, { onWarning: (w) => warnings.push(w) }).countTokens('x')).toBeNull();
      expect(warnings).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('given /tokenize answering 500 twice then 200, when counting, then the retry gets the count', async () => {
    let calls = 0;
    const server = await fakeServer(() => (++calls <= 2 ? [500, { error: { message: 'tokenizer busy' } }] : [200, { count: 42 }]));
    try {
      expect(await openAiModelClient(modelSettings(`${server.url}/v1`)).countTokens('x')).toBe(42);
      expect(calls).toBe(3);
    } finally {
      await server.close();
    }
  });

  it('given /tokenize always failing or unreachable, when counting, then null with a warning saying why', async () => {
    const server = await fakeServer(() => [500, { error: { message: 'tokenizer crashed' } }]);
    try {
      const warnings: string[] = [];
      expect(await openAiModelClient(modelSettings(`${server.url}/v1`), {}, { onWarning: (w) => warnings.push(w) }).countTokens('x')).toBeNull();
      expect(warnings).toEqual([expect.stringMatching(/^prefix token count unavailable after 3 attempt\(s\), recorded as null: HTTP 500: \/tokenize answered 500: .*tokenizer crashed/)]);
    } finally {
      await server.close();
    }
    const warnings: string[] = [];
    // A port that was just freed: nothing listens, the connection is refused.
    const gone = await fakeServer(() => [200, {}]);
    await gone.close();
    expect(await openAiModelClient(modelSettings(`${gone.url}/v1`), {}, { onWarning: (w) => warnings.push(w) }).countTokens('x')).toBeNull();
    expect(warnings[0]).toMatch(/unavailable after 3 attempt\(s\).*fetch failed.*ECONNREFUSED/);
  });
});

describe('runBatch retries against simulator faults', () => {
  const run = async (faults: FaultPlan, over: Parameters<typeof modelSettings>[1] = {}, retry = FAST_RETRY, size = 4) => {
    const batch = entityBatch('e-faults', size);
    sim.setFaults(faults);
    const progress = recorder();
    const results = await runBatch(batch.prefix, batch.prompts, openAiModelClient(modelSettings(sim.url, over)), { pipeline: new EntityPipeline(4), retry, progress });
    return { results, progress, batch };
  };

  it('given the first 2 requests get 503, when run, then the warm-up prompt is answered on attempt 3 and the rest at once', async () => {
    const { results, progress } = await run({ fail5xxFirst: 2 });
    expect(results.map((r) => [r.status, r.attempts])).toEqual([
      ['ok', 3],
      ['ok', 1],
      ['ok', 1],
      ['ok', 1],
    ]);
    expect(progress.retries).toEqual(['HTTP 503: simulator fault: injected 503 (server overloaded)', 'HTTP 503: simulator fault: injected 503 (server overloaded)']);
    expect(sim.stats()).toMatchObject({ requests: 4, errorsInjected: 2 });
  });

  it('given the first request hangs and a short request timeout, when run, then it times out, is retried and answered', async () => {
    const started = Date.now();
    const { results, progress } = await run({ hangFirst: 1 }, { requestTimeoutS: 0.3 });
    expect(results.every((r) => r.status === 'ok')).toBe(true);
    expect(results[0].attempts).toBe(2);
    expect(results[0].latencyMs).toBeGreaterThanOrEqual(290);
    // Plain Node gives APIConnectionTimeoutError; under Jest the AbortError comes from another realm
    // (not `instanceof Error`), so the openai client reports a generic connection error. Retryable either way.
    expect(progress.retries).toEqual([expect.stringMatching(/^(APIConnectionTimeoutError: Request timed out\.|APIConnectionError: Connection error\.)/)]);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('given the first connection is dropped, when run, then it is retried and answered, and the retry says why', async () => {
    const { results, progress } = await run({ dropFirst: 1 });
    expect(results.map((r) => r.status)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(results[0].attempts).toBe(2);
    expect(progress.retries).toHaveLength(1);
    expect(progress.retries[0]).toMatch(/^APIConnectionError: Connection error\. \(fetch failed: .+\)$/);
  });

  it('given more 503s than maxRetries allows, when run, then the prompt is kept with status error, its error and attempts, the rest answered', async () => {
    const { results } = await run({ fail5xxFirst: 3 }, {}, { ...FAST_RETRY, maxRetries: 2 });
    expect(results[0]).toMatchObject({ status: 'error', outputText: null, error: 'HTTP 503: simulator fault: injected 503 (server overloaded)', attempts: 3 });
    expect(results.slice(1).map((r) => r.status)).toEqual(['ok', 'ok', 'ok']);
  });

  it('given a 400, when run, then the prompt fails fast with 1 attempt and the server message', async () => {
    const { results, progress } = await run({ status4xxFirst: 1 });
    expect(results[0]).toMatchObject({ status: 'error', attempts: 1, error: 'HTTP 400: simulator fault: injected 400 (request rejected)' });
    expect(progress.retries).toEqual([]);
    expect(results.slice(1).every((r) => r.status === 'ok' && r.attempts === 1)).toBe(true);
  });

  it('given a prompt longer than the context, when run, then it fails fast with vLLM’s message', async () => {
    const small = await startSimulator({ port: 0, models: [{ id: SIM_MODEL, maxModelLen: 64 }] });
    try {
      const batch = entityBatch('e-long', 2);
      const results = await runBatch(batch.prefix, batch.prompts, openAiModelClient(modelSettings(small.url)), { pipeline: new EntityPipeline(2), retry: FAST_RETRY, progress: recorder() });
      expect(results.map((r) => r.attempts)).toEqual([1, 1]);
      expect(results[0].error).toMatch(/^HTTP 400: This model's maximum context length is 64 tokens/);
    } finally {
      await small.close();
    }
  });
});

/** A tiny HTTP server answering every POST with what `answer(path, authorization)` says. */
async function fakeServer(answer: (path: string, auth: string | undefined) => [number, unknown]): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const [status, body] = answer(req.url ?? '/', req.headers.authorization);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
