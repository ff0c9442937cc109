import OpenAI from 'openai';
import { loadChatTemplate, renderChatTemplate } from '../../../prompting/src/chat-template';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from './index';

const MODEL = 'sim/llm-8b';
const PROFILE = Array.from({ length: 40 }, (_, i) => `feature_${i}: ${(i * 3) % 7}`).join('\n');
const question = (item: string) => `${PROFILE}\n\nQuestion: for item '${item}', answer with a number between 1 and 5.\nAnswer:`;

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
}
interface Completion {
  id: string;
  object: string;
  model: string;
  choices: Array<{ index: number; text: string; finish_reason: string; logprobs: null; stop_reason: string | null }>;
  usage: Usage;
}

let sims: RunningSimulator[] = [];
async function start(opts: Partial<SimulatorOptions> = {}): Promise<RunningSimulator> {
  const sim = await startSimulator({ port: 0, models: [{ id: MODEL, maxModelLen: 4096 }], ...opts });
  sims.push(sim);
  return sim;
}
afterEach(async () => {
  await Promise.all(sims.map((s) => s.close()));
  sims = [];
});

const root = (sim: RunningSimulator) => sim.url.replace(/\/v1$/, '');
async function post(sim: RunningSimulator, path: string, body: unknown, init: RequestInit = {}): Promise<{ status: number; json: any }> {
  const res = await fetch(`${root(sim)}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body), ...init });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}
async function complete(sim: RunningSimulator, prompt: string, extra: object = {}): Promise<Completion> {
  const { status, json } = await post(sim, '/v1/completions', { model: MODEL, prompt, max_tokens: 8, temperature: 0, ...extra });
  expect(status).toBe(200);
  return json as Completion;
}
async function metric(sim: RunningSimulator, name: string): Promise<number> {
  const text = await (await fetch(`${root(sim)}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{model_name="${MODEL}"}`));
  if (!line) throw new Error(`metric ${name} not found in:\n${text}`);
  return Number(line.split(' ').pop());
}

describe('simulator: API shapes', () => {
  it('given two models, when listing, then vLLM model cards come back', async () => {
    const sim = await start({ models: [{ id: MODEL, maxModelLen: 4096 }, { id: 'lora-a', maxModelLen: 2048 }] });
    expect(sim.url).toBe(`http://127.0.0.1:${sim.port}/v1`);
    const json = (await (await fetch(`${sim.url}/models`)).json()) as { object: string; data: unknown[] };
    expect(json.object).toBe('list');
    expect(json.data).toEqual([
      expect.objectContaining({ id: MODEL, object: 'model', owned_by: 'vllm', root: MODEL, max_model_len: 4096, created: expect.any(Number) }),
      expect.objectContaining({ id: 'lora-a', max_model_len: 2048 }),
    ]);
    expect((await fetch(`${root(sim)}/health`)).status).toBe(200);
  });

  it('given a LoRA adapter (vLLM --lora-modules name=path), when listing and completing, then the adapter is a model id of its own with the base as parent', async () => {
    const sim = await start({ models: [{ id: MODEL, maxModelLen: 4096, loraAdapters: [{ name: 'survey-lora', path: '/adapters/survey' }] }] });
    const json = (await (await fetch(`${sim.url}/models`)).json()) as { data: unknown[] };
    expect(json.data).toEqual([
      expect.objectContaining({ id: MODEL, root: MODEL, parent: null }),
      expect.objectContaining({ id: 'survey-lora', root: '/adapters/survey', parent: MODEL, max_model_len: 4096 }),
    ]);
    const { status, json: answer } = await post(sim, '/v1/completions', { model: 'survey-lora', prompt: question('q1'), max_tokens: 8 });
    expect(status).toBe(200);
    expect(answer.model).toBe('survey-lora');
    await expect(startSimulator({ port: 0, models: [{ id: MODEL, maxModelLen: 64, loraAdapters: [{ name: MODEL, path: '/x' }] }] })).rejects.toThrow(
      `simulator LoRA adapter '${MODEL}' has the id of a model or adapter already served`,
    );
  });

  it('given a prompt with a range, when completed, then a text_completion with usage comes back', async () => {
    const sim = await start();
    const c = await complete(sim, question('q1'));
    expect(c).toMatchObject({ object: 'text_completion', model: MODEL, choices: [{ index: 0, finish_reason: 'stop', logprobs: null }] });
    expect(c.id).toMatch(/^cmpl-/);
    expect(Number(c.choices[0].text)).toBeGreaterThanOrEqual(1);
    expect(Number(c.choices[0].text)).toBeLessThanOrEqual(5);
    expect(c.usage.completion_tokens).toBe(2); // one digit + EOS, as vLLM counts it
    expect(c.usage.total_tokens).toBe(c.usage.prompt_tokens + c.usage.completion_tokens);
    expect(c.usage.prompt_tokens_details.cached_tokens).toBe(0);
  });

  it('given max_tokens, stop and n, when completed, then vLLM finish reasons and choices come back', async () => {
    const sim = await start({ responder: () => 'abc, def' });
    const cut = await complete(sim, 'x', { max_tokens: 2 });
    expect(cut.choices[0]).toMatchObject({ text: 'abc,', finish_reason: 'length' });
    expect(cut.usage.completion_tokens).toBe(2);
    const stopped = await complete(sim, 'x', { stop: [','], n: 2 });
    expect(stopped.choices).toEqual([
      expect.objectContaining({ index: 0, text: 'abc', finish_reason: 'stop', stop_reason: ',' }),
      expect.objectContaining({ index: 1, text: 'abc' }),
    ]);
  });

  it('given a tokenize request, when sent as prompt or messages, then vLLM shapes and matching counts come back', async () => {
    const sim = await start();
    const prompt = question('q1');
    const t = await post(sim, '/tokenize', { model: MODEL, prompt });
    expect(t.status).toBe(200);
    expect(t.json).toMatchObject({ count: t.json.tokens.length, max_model_len: 4096 });
    expect((await complete(sim, prompt)).usage.prompt_tokens).toBe(t.json.count);
    const messages = [{ role: 'user', content: prompt }];
    const chat = await post(sim, '/tokenize', { model: MODEL, messages, add_generation_prompt: true });
    const rendered = renderChatTemplate(loadChatTemplate('builtin:chatml'), [{ role: 'user', content: prompt }], true);
    expect(chat.json.tokens).toEqual((await post(sim, '/tokenize', { model: MODEL, prompt: rendered })).json.tokens);
  });

  it('given messages, when chat-completed, then the result equals completing the rendered template', async () => {
    const sim = await start();
    const messages = [
      { role: 'system' as const, content: 'You predict survey answers.' },
      { role: 'user' as const, content: question('q7') },
    ];
    const rendered = renderChatTemplate(loadChatTemplate('builtin:chatml'), messages, true);
    const { status, json } = await post(sim, '/v1/chat/completions', { model: MODEL, messages, max_tokens: 8, temperature: 0 });
    expect(status).toBe(200);
    expect(json).toMatchObject({ object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant' }, finish_reason: 'stop' }] });
    const viaCompletion = await complete(sim, rendered);
    expect(json.choices[0].message.content).toBe(viaCompletion.choices[0].text);
    expect(json.usage.prompt_tokens).toBe(viaCompletion.usage.prompt_tokens);
    // The second one found the first one's blocks: both paths are the same text to the cache.
    expect(viaCompletion.usage.prompt_tokens_details.cached_tokens).toBeGreaterThan(0);
  });

  it('given a Llama 3 template, when the rendered text goes to completions, then vLLM adds a second BOS like the real server', async () => {
    const sim = await start({ models: [{ id: MODEL, maxModelLen: 4096, chatTemplate: 'builtin:llama3' }] });
    const messages = [{ role: 'user', content: 'hi' }];
    const chat = await post(sim, '/tokenize', { model: MODEL, messages });
    const rendered = renderChatTemplate(loadChatTemplate('builtin:llama3'), [{ role: 'user', content: 'hi' }], true);
    const completion = await post(sim, '/tokenize', { model: MODEL, prompt: rendered });
    expect(completion.json.count).toBe(chat.json.count + 1);
    expect((await post(sim, '/tokenize', { model: MODEL, prompt: rendered, add_special_tokens: false })).json.count).toBe(chat.json.count);
  });
});

describe('simulator: errors', () => {
  it('given an unknown model, when completed, then 404 with vLLM error JSON', async () => {
    const sim = await start();
    const { status, json } = await post(sim, '/v1/completions', { model: 'nope', prompt: 'x' });
    expect(status).toBe(404);
    expect(json).toEqual({ error: { message: 'The model `nope` does not exist.', type: 'NotFoundError', param: null, code: 404 } });
  });

  it('given a prompt longer than max_model_len, or no room for max_tokens, when completed, then 400 says so', async () => {
    const sim = await start({ models: [{ id: MODEL, maxModelLen: 50 }] });
    const long = await post(sim, '/v1/completions', { model: MODEL, prompt: Array(60).fill('word').join(' ') });
    expect(long.status).toBe(400);
    expect(long.json.error).toMatchObject({ type: 'BadRequestError', code: 400 });
    expect(long.json.error.message).toMatch(/maximum context length is 50 tokens\. However, your request has 60 input tokens/);
    const room = await post(sim, '/v1/completions', { model: MODEL, prompt: Array(45).fill('word').join(' '), max_tokens: 10 });
    expect(room.status).toBe(400);
    expect(room.json.error.message).toMatch(/'max_tokens' or 'max_completion_tokens' is too large: 10/);
  });

  it('given invalid JSON or missing fields, when completed, then 400 names the problem', async () => {
    const sim = await start();
    const bad = await post(sim, '/v1/completions', '{not json');
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toMatch(/not valid JSON/);
    const missing = await post(sim, '/v1/completions', { model: MODEL });
    expect(missing.status).toBe(400);
    expect(missing.json.error.message).toMatch(/^prompt: /);
    const chat = await post(sim, '/v1/chat/completions', { model: MODEL, messages: [{ role: 'tool', content: 'x' }] });
    expect(chat.status).toBe(400);
    expect(chat.json.error.message).toMatch(/messages\.0\.role/);
  });
});

describe('simulator: prefix cache and metrics', () => {
  it('given a finished request, when a request with the same prefix follows, then it reports cached tokens', async () => {
    const sim = await start();
    const first = await complete(sim, question('q1'));
    const second = await complete(sim, question('q2'));
    expect(first.usage.prompt_tokens_details.cached_tokens).toBe(0);
    const cached = second.usage.prompt_tokens_details.cached_tokens;
    expect(cached % 16).toBe(0);
    expect(cached).toBeGreaterThan(second.usage.prompt_tokens - 32);
    expect(sim.stats()).toMatchObject({ requests: 2, cachedTokens: cached, promptTokens: first.usage.prompt_tokens + second.usage.prompt_tokens });
  });

  it('given two concurrent requests with latency, when they share a prefix, then both miss; a later one hits', async () => {
    const sim = await start({ latency: { prefillMsPerToken: 0.1, decodeMsPerToken: 1, maxNumSeqs: 8 } });
    const [a, b] = await Promise.all([complete(sim, question('q1')), complete(sim, question('q2'))]);
    expect(a.usage.prompt_tokens_details.cached_tokens).toBe(0);
    expect(b.usage.prompt_tokens_details.cached_tokens).toBe(0);
    expect((await complete(sim, question('q3'))).usage.prompt_tokens_details.cached_tokens).toBeGreaterThan(0);
  });

  it('given a small cache, when other prompts fill it, then the old prefix is evicted', async () => {
    const sim = await start({ cache: { blockSize: 16, capacityBlocks: 24 } });
    const prompt = question('q1'); // ~18 blocks: fits alone, not next to another one
    await complete(sim, prompt);
    expect((await complete(sim, prompt)).usage.prompt_tokens_details.cached_tokens).toBeGreaterThan(0);
    await complete(sim, `Other entity.\n${prompt}`); // shares nothing from the first token on
    const again = await complete(sim, prompt);
    const full = again.usage.prompt_tokens;
    expect(again.usage.prompt_tokens_details.cached_tokens).toBeLessThan(full - 32);
  });

  it('given some requests, when /metrics is scraped, then vLLM counters match the usage', async () => {
    const sim = await start();
    const a = await complete(sim, question('q1'));
    const b = await complete(sim, question('q2'));
    expect(await metric(sim, 'vllm:prefix_cache_queries_total')).toBe(a.usage.prompt_tokens + b.usage.prompt_tokens);
    expect(await metric(sim, 'vllm:prefix_cache_hits_total')).toBe(b.usage.prompt_tokens_details.cached_tokens);
    expect(await metric(sim, 'vllm:prompt_tokens_total')).toBe(a.usage.prompt_tokens + b.usage.prompt_tokens);
    expect(await metric(sim, 'vllm:generation_tokens_total')).toBe(a.usage.completion_tokens + b.usage.completion_tokens);
    expect(await metric(sim, 'vllm:num_requests_running')).toBe(0);
    expect(await metric(sim, 'vllm:num_requests_waiting')).toBe(0);
    const text = await (await fetch(`${root(sim)}/metrics`)).text();
    expect(text).toContain(`vllm:request_success_total{finished_reason="stop",model_name="${MODEL}"} 2.0`);
  });

  it('given a block size, when /metrics is scraped, then vLLM\'s cache config info gauge carries it', async () => {
    const text = async (sim: Awaited<ReturnType<typeof start>>) => (await fetch(`${root(sim)}/metrics`)).text();
    expect(await text(await start())).toMatch(/^vllm:cache_config_info\{block_size="16",[^}]*\} 1\.0$/m);
    expect(await text(await start({ cache: { blockSize: 32 } }))).toMatch(/^vllm:cache_config_info\{block_size="32",[^}]*\} 1\.0$/m);
  });

  it('given maxNumSeqs, when more requests arrive, then the rest wait (FIFO order: scheduler.spec)', async () => {
    const sim = await start({ latency: { prefillMsPerToken: 0, decodeMsPerToken: 40, maxNumSeqs: 2 } });
    const all = Array.from({ length: 5 }, (_, i) => complete(sim, `req ${i}`));
    // Poll rather than sleep: opening five connections may take a while on a loaded machine.
    while ((await metric(sim, 'vllm:num_requests_waiting')) === 0) await new Promise((r) => setTimeout(r, 2));
    expect(await metric(sim, 'vllm:num_requests_running')).toBe(2);
    await Promise.all(all);
    const stats = sim.stats();
    expect(stats).toMatchObject({ requests: 5, maxRunning: 2, maxWaiting: 3 });
    expect(stats.busyMs).toBeGreaterThanOrEqual(230); // 3 waves of (1 token + EOS) x 40 ms
    expect(stats.wallMs).toBeGreaterThanOrEqual(stats.busyMs);
  });
});

describe('simulator: faults and control endpoints', () => {
  it('given fail5xxFirst, when requests come, then the first N get 503 and the rest succeed', async () => {
    const sim = await start({ faults: { fail5xxFirst: 2 } });
    expect((await post(sim, '/v1/completions', { model: MODEL, prompt: 'x' })).status).toBe(503);
    expect((await post(sim, '/tokenize', { model: MODEL, prompt: 'x' })).status).toBe(200); // not affected
    const second = await post(sim, '/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'x' }] });
    expect(second).toMatchObject({ status: 503, json: { error: { type: 'ServiceUnavailableError', code: 503 } } });
    await complete(sim, 'x');
    expect(sim.stats()).toMatchObject({ requests: 1, errorsInjected: 2 });
  });

  it('given hangFirst, when the client gives up, then the next request is answered; close() frees held sockets', async () => {
    const sim = await start({ faults: { hangFirst: 2 } });
    await expect(post(sim, '/v1/completions', { model: MODEL, prompt: 'x' }, { signal: AbortSignal.timeout(100) })).rejects.toThrow();
    const held = fetch(`${sim.url}/completions`, { method: 'POST', body: JSON.stringify({ model: MODEL, prompt: 'x' }) });
    await new Promise((r) => setTimeout(r, 20));
    await complete(sim, 'x');
    await sim.close();
    await expect(held).rejects.toThrow();
  });

  it('given freeze, when anything but the controls is asked, then nothing answers, /health included, until the freeze is lifted', async () => {
    const sim = await start();
    expect((await post(sim, '/sim/faults', { freeze: true })).status).toBe(200);
    await expect(fetch(`${root(sim)}/health`, { signal: AbortSignal.timeout(100) })).rejects.toThrow();
    await expect(post(sim, '/v1/completions', { model: MODEL, prompt: 'x' }, { signal: AbortSignal.timeout(100) })).rejects.toThrow();
    expect(await (await fetch(`${root(sim)}/sim/stats`)).json()).toMatchObject({ requests: 0 });
    expect((await post(sim, '/sim/faults', {})).status).toBe(200);
    expect((await fetch(`${root(sim)}/health`)).status).toBe(200);
    await complete(sim, 'x');
    await sim.close();
  });

  it('given dropFirst and status4xxFirst, when requests come, then the socket is destroyed, then 400, then success', async () => {
    const sim = await start({ faults: { dropFirst: 1, status4xxFirst: 1 } });
    await expect(post(sim, '/v1/completions', { model: MODEL, prompt: 'x' })).rejects.toThrow();
    expect((await post(sim, '/v1/completions', { model: MODEL, prompt: 'x' })).status).toBe(400);
    await complete(sim, 'x');
  });

  it('given a hold after 2 requests, when more come, then they wait unanswered until released; one whose client left never runs', async () => {
    const sim = await start();
    expect((await post(sim, '/sim/hold', { afterRequests: 2 })).json).toEqual({ active: true, passed: 0, held: 0 });
    expect((await post(sim, '/sim/hold', { after: 2 })).status).toBe(400); // misspelt key
    await complete(sim, 'a');
    await complete(sim, 'b');
    let answered = false;
    const waiting = complete(sim, 'c').then(() => (answered = true));
    const leaving = new AbortController();
    const gone = post(sim, '/v1/completions', { model: MODEL, prompt: 'd' }, { signal: leaving.signal }).catch(() => 'aborted');
    const status = async () => (await (await fetch(`${root(sim)}/sim/hold`)).json()) as { active: boolean; passed: number; held: number };
    while ((await status()).held < 2) await new Promise((r) => setTimeout(r, 10));
    leaving.abort();
    await gone;
    while ((await status()).held > 1) await new Promise((r) => setTimeout(r, 10));
    expect(await status()).toEqual({ active: true, passed: 2, held: 1 });
    expect(answered).toBe(false);
    expect(sim.stats().requests).toBe(2);
    expect((await post(sim, '/sim/release', {})).json).toEqual({ released: 1 });
    await waiting;
    expect(sim.stats().requests).toBe(3);
    // Released: later requests pass.
    await complete(sim, 'e');
    expect(sim.holdStatus()).toEqual({ active: false, passed: 2, held: 0 });
  });

  it('given the control endpoints, when used over HTTP, then faults, stats and reset work out of process', async () => {
    const sim = await start();
    expect((await post(sim, '/sim/faults', { fail5xxRate: 1, seed: 3 })).status).toBe(200);
    expect((await post(sim, '/v1/completions', { model: MODEL, prompt: 'x' })).status).toBe(503);
    expect((await post(sim, '/sim/faults', { failFirst: 1 })).status).toBe(400); // misspelt key
    expect((await post(sim, '/sim/faults', {})).status).toBe(200);
    await complete(sim, 'x');
    expect(await (await fetch(`${root(sim)}/sim/stats`)).json()).toMatchObject({ requests: 1, errorsInjected: 1 });
    expect((await post(sim, '/sim/reset', {})).status).toBe(200);
    expect(sim.stats()).toMatchObject({ requests: 0, errorsInjected: 0 });
  });
});

describe('simulator: the openai client the worker uses', () => {
  it('given the official client, when it calls completions, chat and an unknown model, then it parses everything', async () => {
    const sim = await start();
    const client = new OpenAI({ baseURL: sim.url, apiKey: 'unused', maxRetries: 0 });
    const c = await client.completions.create({ model: MODEL, prompt: question('q1'), max_tokens: 8, temperature: 0, seed: 1 });
    expect(c.choices[0].finish_reason).toBe('stop');
    expect(c.usage?.prompt_tokens_details?.cached_tokens).toBe(0);
    const chat = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: question('q2') }], max_tokens: 8 });
    expect(Number(chat.choices[0].message.content)).toBeGreaterThanOrEqual(1);
    await expect(client.completions.create({ model: 'nope', prompt: 'x' })).rejects.toMatchObject({ status: 404, message: expect.stringContaining('does not exist') });
    sim.setFaults({ fail5xxFirst: 1 });
    await expect(client.completions.create({ model: MODEL, prompt: 'x' })).rejects.toBeInstanceOf(OpenAI.InternalServerError);
  });
});
