import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { loadChatTemplate, renderChatTemplate, type ChatMessage, type ChatTemplate } from '../../../prompting/src/chat-template';
import { FaultInjector, FaultPlanSchema, type FaultPlan } from './faults';
import { HoldPlanSchema, RequestHold, type HoldPlan, type HoldStatus } from './hold';
import { StatsRecorder, type SimulatorStats } from './metrics';
import { DEFAULT_BLOCK_SIZE, DEFAULT_CAPACITY_BLOCKS, PrefixCache, blockHashes } from './prefix-cache';
import {
  ChatCompletionRequestSchema,
  CompletionRequestSchema,
  TokenizeRequestSchema,
  contextLengthError,
  describeIssues,
  errorBody,
  messageText,
} from './protocol';
import { deterministicResponder, type Responder } from './responder';
import { Scheduler, ZERO_LATENCY, type LatencyModel } from './scheduler';
import { tokenStrings, tokenize, truncateToTokens } from './tokenizer';
import { errorMessage } from '@assay/contracts';

/**
 * An OpenAI-compatible server that answers like vLLM (same routes, bodies, errors, usage and
 * Prometheus metrics) without a GPU, so the inference worker runs unchanged against either.
 */

export interface SimulatorModel {
  id: string;
  maxModelLen: number;
  /** A spec for loadChatTemplate; default 'builtin:chatml'. */
  chatTemplate?: string;
  /**
   * LoRA adapters served on top of this model, as vLLM's `--lora-modules name=path` does: each
   * name becomes a model id of its own in /v1/models (parent: this model, root: the path) and can
   * be asked for by name, with this model's context length and chat template.
   */
  loraAdapters?: Array<{ name: string; path: string }>;
}

export interface SimulatorOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  models: SimulatorModel[];
  /** Default ZERO_LATENCY. */
  latency?: LatencyModel;
  cache?: { blockSize?: number; capacityBlocks?: number };
  responder?: Responder;
  faults?: FaultPlan;
  /** Like vLLM without --enable-prompt-tokens-details: no usage.prompt_tokens_details in answers. */
  noCachedTokens?: boolean;
  /** Like a server without vLLM's prefix-cache counters: /metrics has no vllm:prefix_cache_* families. */
  noPrefixCacheMetrics?: boolean;
}

export interface RunningSimulator {
  /** `http://host:port/v1`, what an OpenAI client takes as its base URL. */
  url: string;
  port: number;
  stats(): SimulatorStats;
  setFaults(f: FaultPlan): void;
  resetStats(): void;
  /** Empties the prefix cache (vLLM's POST /reset_prefix_cache), e.g. between benchmark runs. */
  resetPrefixCache(): void;
  /** Holds generation requests after the next `afterRequests` until release() (see RequestHold). */
  hold(plan: HoldPlan): void;
  holdStatus(): HoldStatus;
  /** Ends the hold; returns how many waiting requests it let run. */
  release(): number;
  close(): Promise<void>;
}

/** Bodies larger than this are refused: 64 MiB is far beyond any prompt that fits a context. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

const badRequest = (message: string): HttpError => new HttpError(400, 'BadRequestError', message);

interface ServedModel {
  id: string;
  maxModelLen: number;
  template: ChatTemplate;
  /** Id of the tokenizer's BOS token, which vLLM adds when `add_special_tokens` is true. */
  bosId: number | undefined;
  /** For a LoRA adapter: the base model's id and the adapter's path (vLLM's parent and root). */
  adapterOf?: { parent: string; path: string };
}

interface Generation {
  model: ServedModel;
  /** The exact text the model sees. */
  prompt: string;
  addSpecialTokens: boolean;
  maxTokens: number | undefined;
  temperature: number;
  seed: number | undefined;
  stop: string[];
  n: number;
}

interface GenerationResult {
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  choices: Array<{ text: string; finishReason: 'stop' | 'length'; stopReason: string | null }>;
}

export async function startSimulator(opts: SimulatorOptions): Promise<RunningSimulator> {
  const sim = new Simulator(opts);
  return sim.listen(opts.host ?? '127.0.0.1', opts.port ?? 0);
}

class Simulator {
  private readonly models = new Map<string, ServedModel>();
  private readonly defaultModel: ServedModel;
  private readonly cache: PrefixCache;
  private readonly scheduler: Scheduler;
  private readonly stats: StatsRecorder;
  private readonly cachedTokensInUsage: boolean;
  private readonly faults: FaultInjector;
  private readonly responder: Responder;
  private readonly createdAt = Math.floor(Date.now() / 1000);
  /** Sockets of requests told to hang: destroyed on close, or they would keep the process alive. */
  private readonly hung = new Set<Socket>();
  private readonly hold = new RequestHold();

  constructor(opts: SimulatorOptions) {
    if (opts.models.length === 0) throw new Error('simulator needs at least one model');
    for (const m of opts.models) {
      if (this.models.has(m.id)) throw new Error(`simulator model '${m.id}' is listed twice`);
      if (!Number.isInteger(m.maxModelLen) || m.maxModelLen < 2) throw new Error(`simulator model '${m.id}': maxModelLen must be an integer >= 2, got ${m.maxModelLen}`);
      const template = loadChatTemplate(m.chatTemplate ?? 'builtin:chatml');
      const bosId = template.bosToken ? tokenize(template.bosToken).ids[0] : undefined;
      this.models.set(m.id, { id: m.id, maxModelLen: m.maxModelLen, template, bosId });
    }
    for (const m of opts.models) {
      for (const adapter of m.loraAdapters ?? []) {
        if (this.models.has(adapter.name)) throw new Error(`simulator LoRA adapter '${adapter.name}' has the id of a model or adapter already served`);
        this.models.set(adapter.name, { ...this.models.get(m.id)!, id: adapter.name, adapterOf: { parent: m.id, path: adapter.path } });
      }
    }
    this.defaultModel = this.models.get(opts.models[0].id)!;
    this.cache = new PrefixCache(opts.cache?.blockSize ?? DEFAULT_BLOCK_SIZE, opts.cache?.capacityBlocks ?? DEFAULT_CAPACITY_BLOCKS);
    this.stats = new StatsRecorder([...this.models.keys()], { prefixCacheCounters: !opts.noPrefixCacheMetrics, blockSize: this.cache.blockSize });
    this.cachedTokensInUsage = !opts.noCachedTokens;
    this.scheduler = new Scheduler(opts.latency ?? ZERO_LATENCY, { onChange: (running, waiting) => this.stats.occupancy(running, waiting) });
    this.faults = new FaultInjector(opts.faults ?? {});
    this.responder = opts.responder ?? deterministicResponder;
  }

  listen(host: string, port: number): Promise<RunningSimulator> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => this.fail(res, error));
    });
    // Clients (undici, the openai SDK) reuse connections; keep them longer than Node's 5 s default.
    server.keepAliveTimeout = 65_000;
    return new Promise((resolve, reject) => {
      server.once('error', (error) => reject(new Error(`simulator cannot listen on ${host}:${port}: ${error.message}`)));
      server.listen(port, host, () => {
        const address = server.address() as AddressInfo;
        // A wildcard address is not something a client can dial.
        const dialHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
        let closing: Promise<void> | undefined;
        resolve({
          url: `http://${dialHost}:${address.port}/v1`,
          port: address.port,
          stats: () => this.stats.snapshot(),
          setFaults: (f) => this.faults.set(f),
          resetStats: () => this.stats.reset(),
          resetPrefixCache: () => this.cache.clear(),
          hold: (plan) => this.hold.set(HoldPlanSchema.parse(plan)),
          holdStatus: () => this.hold.status(),
          release: () => this.hold.release(),
          close: () => {
            closing ??= new Promise<void>((done, fail) => {
              this.scheduler.shutdown();
              for (const socket of this.hung) socket.destroy();
              this.hung.clear();
              server.close((error) => (error ? fail(error) : done()));
              server.closeAllConnections();
            });
            return closing;
          },
        });
      });
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const method = req.method ?? 'GET';
    const route = `${method} ${path}`;
    if (this.faults.frozen && !path.startsWith('/sim/')) {
      this.hang(req.socket);
      return;
    }
    switch (route) {
      case 'GET /health':
        res.writeHead(200).end();
        return;
      case 'GET /version':
        return sendJson(res, 200, { version: 'simulator' });
      case 'GET /v1/models':
        return sendJson(res, 200, this.modelList());
      case 'GET /metrics':
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        res.end(this.stats.prometheus((m) => this.scheduler.countsFor(m)));
        return;
      case 'POST /v1/completions':
      case 'POST /v1/chat/completions':
        return this.generate(req, res, path === '/v1/chat/completions');
      case 'POST /tokenize':
        return sendJson(res, 200, this.tokenizeRoute(parseJson(await readBody(req))));
      case 'GET /sim/stats':
        // `hanging`: requests held by hangFirst whose client has not gone away yet.
        return sendJson(res, 200, { ...this.stats.snapshot(), hanging: this.hung.size });
      case 'POST /sim/faults': {
        const parsed = FaultPlanSchema.safeParse(parseJson(await readBody(req)));
        if (!parsed.success) throw badRequest(`invalid fault plan: ${describeIssues(parsed.error)}`);
        this.faults.set(parsed.data);
        return sendJson(res, 200, { ok: true, faults: parsed.data });
      }
      case 'GET /sim/hold':
        return sendJson(res, 200, this.hold.status());
      case 'POST /sim/hold': {
        const parsed = HoldPlanSchema.safeParse(parseJson(await readBody(req)));
        if (!parsed.success) throw badRequest(`invalid hold plan: ${describeIssues(parsed.error)}`);
        this.hold.set(parsed.data);
        return sendJson(res, 200, this.hold.status());
      }
      case 'POST /sim/release':
        await readBody(req);
        return sendJson(res, 200, { released: this.hold.release() });
      case 'POST /sim/reset':
        await readBody(req);
        this.stats.reset();
        return sendJson(res, 200, { ok: true });
      case 'POST /reset_prefix_cache':
        await readBody(req);
        this.cache.clear();
        res.writeHead(200).end();
        return;
    }
    const known = ['/health', '/version', '/v1/models', '/metrics', '/v1/completions', '/v1/chat/completions', '/tokenize', '/sim/stats', '/sim/faults', '/sim/hold', '/sim/release', '/sim/reset', '/reset_prefix_cache'];
    // FastAPI's shapes for an unknown route and a wrong method.
    if (known.includes(path)) sendJson(res, 405, { detail: 'Method Not Allowed' });
    else sendJson(res, 404, { detail: 'Not Found' });
  }

  /** Keeps a request's socket open without answering (until the client gives up or close()). */
  private hang(socket: Socket): void {
    this.hung.add(socket);
    socket.once('close', () => this.hung.delete(socket));
  }

  private modelList(): unknown {
    return {
      object: 'list',
      data: [...this.models.values()].map((m) => ({
        id: m.id,
        object: 'model',
        created: this.createdAt,
        owned_by: 'vllm',
        root: m.adapterOf?.path ?? m.id,
        parent: m.adapterOf?.parent ?? null,
        max_model_len: m.maxModelLen,
        permission: [],
      })),
    };
  }

  private async generate(req: IncomingMessage, res: ServerResponse, chat: boolean): Promise<void> {
    const raw = await readBody(req);
    // Faults come before validation: an overloaded or broken server does not read the request.
    switch (this.faults.next()) {
      case 'drop':
        this.stats.faultInjected();
        req.socket.destroy();
        return;
      case 'hang':
        this.stats.faultInjected();
        this.hang(req.socket);
        return;
      case 'fail5xx':
        this.stats.faultInjected();
        throw new HttpError(503, 'ServiceUnavailableError', 'simulator fault: injected 503 (server overloaded)');
      case 'fail4xx':
        this.stats.faultInjected();
        throw badRequest('simulator fault: injected 400 (request rejected)');
      case 'none':
        break;
    }
    const body = parseJson(raw);
    const generation = chat ? this.chatGeneration(body) : this.completionGeneration(body);
    // A held request whose client went away (e.g. a killed worker) never runs, as vLLM aborts it.
    if (!(await this.hold.admit((gone) => res.once('close', gone)))) return;
    const { id, object } = chat ? { id: `chatcmpl-${uuidHex()}`, object: 'chat.completion' } : { id: `cmpl-${uuidHex()}`, object: 'text_completion' };
    const result = await this.run(generation, res);
    if (!result) return; // The client went away while it waited; vLLM aborts such requests too.
    const usage = {
      prompt_tokens: result.promptTokens,
      total_tokens: result.promptTokens + result.completionTokens,
      completion_tokens: result.completionTokens,
      ...(this.cachedTokensInUsage ? { prompt_tokens_details: { cached_tokens: result.cachedTokens } } : {}),
    };
    const created = Math.floor(Date.now() / 1000);
    const model = generation.model.id;
    if (chat) {
      const choices = result.choices.map((c, index) => ({
        index,
        message: { role: 'assistant', content: c.text, reasoning_content: null, tool_calls: [] },
        logprobs: null,
        finish_reason: c.finishReason,
        stop_reason: c.stopReason,
      }));
      return sendJson(res, 200, { id, object, created, model, choices, usage, prompt_logprobs: null });
    }
    const choices = result.choices.map((c, index) => ({
      index,
      text: c.text,
      logprobs: null,
      finish_reason: c.finishReason,
      stop_reason: c.stopReason,
      prompt_logprobs: null,
    }));
    return sendJson(res, 200, { id, object, created, model, choices, usage });
  }

  private completionGeneration(body: unknown): Generation {
    const parsed = CompletionRequestSchema.safeParse(body);
    if (!parsed.success) throw badRequest(describeIssues(parsed.error));
    const r = parsed.data;
    return {
      model: this.model(r.model),
      prompt: r.prompt,
      // vLLM's completions tokenize with special tokens (a BOS for Llama), chat does not.
      addSpecialTokens: r.add_special_tokens ?? true,
      maxTokens: r.max_tokens ?? undefined,
      temperature: r.temperature ?? 1,
      seed: r.seed ?? undefined,
      stop: stopList(r.stop),
      n: r.n ?? 1,
    };
  }

  private chatGeneration(body: unknown): Generation {
    const parsed = ChatCompletionRequestSchema.safeParse(body);
    if (!parsed.success) throw badRequest(describeIssues(parsed.error));
    const r = parsed.data;
    const model = this.model(r.model);
    return {
      model,
      prompt: this.render(model, r.messages, r.add_generation_prompt ?? true),
      addSpecialTokens: r.add_special_tokens ?? false,
      maxTokens: r.max_completion_tokens ?? r.max_tokens ?? undefined,
      temperature: r.temperature ?? 1,
      seed: r.seed ?? undefined,
      stop: stopList(r.stop),
      n: r.n ?? 1,
    };
  }

  private render(model: ServedModel, messages: Array<{ role: ChatMessage['role']; content: Parameters<typeof messageText>[0] }>, addGenerationPrompt: boolean): string {
    const chatMessages: ChatMessage[] = messages.map((m) => ({ role: m.role, content: messageText(m.content) }));
    try {
      return renderChatTemplate(model.template, chatMessages, addGenerationPrompt);
    } catch (error) {
      // A template that rejects the conversation (e.g. roles not alternating) is the caller's error.
      throw badRequest(`chat template ${model.template.source} failed to render the messages: ${errorMessage(error)}`);
    }
  }

  private model(id: string | undefined): ServedModel {
    if (id === undefined) return this.defaultModel;
    const model = this.models.get(id);
    if (!model) throw new HttpError(404, 'NotFoundError', `The model \`${id}\` does not exist.`);
    return model;
  }

  private promptIds(model: ServedModel, prompt: string, addSpecialTokens: boolean): number[] {
    const { ids } = tokenize(prompt);
    if (addSpecialTokens && model.bosId !== undefined) ids.unshift(model.bosId);
    return ids;
  }

  /** Validates, queues and "runs" one request; undefined if the client left before the end. */
  private run(g: Generation, res: ServerResponse): Promise<GenerationResult | undefined> {
    const ids = this.promptIds(g.model, g.prompt, g.addSpecialTokens);
    const promptTokens = ids.length;
    const tooLong = contextLengthError(g.model.maxModelLen, promptTokens, g.maxTokens);
    if (tooLong) throw badRequest(tooLong);
    const maxTokens = g.maxTokens ?? g.model.maxModelLen - promptTokens;
    const text = this.responder(g.prompt, { model: g.model.id, maxTokens, temperature: g.temperature, seed: g.seed });
    if (typeof text !== 'string') throw new Error(`simulator responder returned ${typeof text}, not a string`);
    const choice = finishText(text, g.stop, maxTokens);
    const choices = Array.from({ length: g.n }, () => ({ text: choice.text, finishReason: choice.finishReason, stopReason: choice.stopReason }));
    // The n sequences decode side by side, so they take the time of one.
    const completionTokens = choice.tokens * g.n;
    const hashes = blockHashes(ids, this.cache.blockSize, g.model.id);
    let cachedTokens = 0;
    return new Promise((resolve) => {
      let finished = false;
      const handle = this.scheduler.submit({
        model: g.model.id,
        onSchedule: () => {
          cachedTokens = this.cache.lookup(hashes, promptTokens);
          this.stats.scheduled(g.model.id, promptTokens, cachedTokens);
          return { uncachedTokens: promptTokens - cachedTokens, completionTokens: choice.tokens };
        },
        onPrefilled: () => this.cache.insert(hashes),
        onFinished: () => {
          finished = true;
          this.stats.succeeded(g.model.id, { promptTokens, cachedTokens, completionTokens, finishReason: choice.finishReason });
          resolve({ promptTokens, cachedTokens, completionTokens, choices });
        },
      });
      if (!finished) {
        res.once('close', () => {
          if (!finished) {
            handle.abort();
            resolve(undefined);
          }
        });
      }
    });
  }

  private tokenizeRoute(body: unknown): unknown {
    const parsed = TokenizeRequestSchema.safeParse(body);
    if (!parsed.success) throw badRequest(describeIssues(parsed.error));
    const r = parsed.data;
    const model = this.model(r.model);
    const isChat = 'messages' in r;
    const text = isChat ? this.render(model, r.messages, r.add_generation_prompt ?? true) : r.prompt;
    const addSpecialTokens = r.add_special_tokens ?? !isChat;
    const tokens = this.promptIds(model, text, addSpecialTokens);
    let strs: string[] | null = null;
    if (r.return_token_strs) {
      strs = tokenStrings(text);
      if (tokens.length > strs.length) strs.unshift(model.template.bosToken);
    }
    return { count: tokens.length, max_model_len: model.maxModelLen, tokens, token_strs: strs };
  }

  private fail(res: ServerResponse, error: unknown): void {
    if (error instanceof HttpError) {
      if (!res.headersSent && !res.destroyed) sendJson(res, error.status, errorBody(error.status, error.type, error.message));
      return;
    }
    // A bug in the simulator (or in a custom responder): say so loudly, in the log and the answer.
    console.error('simulator: internal error:', error);
    if (!res.headersSent && !res.destroyed) sendJson(res, 500, errorBody(500, 'InternalServerError', `simulator internal error: ${errorMessage(error)}`));
  }
}

/**
 * The answer as vLLM would report it: cut at the first stop string (excluded from the text, like
 * vLLM), else ended by EOS, which counts as a generated token; or cut at max_tokens ('length').
 */
function finishText(full: string, stop: string[], maxTokens: number): { text: string; tokens: number; finishReason: 'stop' | 'length'; stopReason: string | null } {
  let cut = -1;
  let matched: string | null = null;
  for (const s of stop) {
    const at = s === '' ? -1 : full.indexOf(s);
    if (at >= 0 && (cut < 0 || at < cut)) {
      cut = at;
      matched = s;
    }
  }
  const generated = matched === null ? full : full.slice(0, cut + matched.length);
  const tokens = tokenize(generated).ids.length + (matched === null ? 1 : 0);
  if (tokens > maxTokens) return { text: truncateToTokens(full, maxTokens), tokens: maxTokens, finishReason: 'length', stopReason: null };
  return { text: matched === null ? full : full.slice(0, cut), tokens, finishReason: 'stop', stopReason: matched };
}

function stopList(stop: string | string[] | null | undefined): string[] {
  if (stop === undefined || stop === null) return [];
  return typeof stop === 'string' ? [stop] : stop;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Keep draining (so the 413 can be sent on a healthy connection) but stop storing.
      if (size > MAX_BODY_BYTES) reject(new HttpError(413, 'BadRequestError', `request body exceeds ${MAX_BODY_BYTES} bytes`));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    // The client hung up mid-body: there is no one left to answer (fail() skips destroyed responses).
    req.on('error', (error) => reject(new HttpError(400, 'BadRequestError', `reading the request body failed: ${error.message}`)));
  });
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch (error) {
    throw badRequest(`request body is not valid JSON: ${errorMessage(error)}`);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function uuidHex(): string {
  return randomUUID().replace(/-/g, '');
}

