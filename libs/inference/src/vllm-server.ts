import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import type { OutgoingHttpHeaders } from 'node:http';
import { keepAliveAgents, keepAliveFetch, postRaw, requestTarget, RequestTimeoutError, type KeepAliveAgents, type RequestTarget } from './http-fetch';
import { serverUrls, type ServerUrls } from './server-urls';

/**
 * The one adapter to a vLLM(-compatible) server, used by pre-flight (planner) and the workers
 * alike, so both send the same credentials to the same URLs and read the same answers the same
 * way: the served models (/v1/models), token counts (/tokenize), the Prometheus gauges (/metrics)
 * and completions (/v1/completions).
 *
 * Credentials: with model.api_key_env set, its value goes out as a bearer token on every request
 * (vLLM's --api-key); without it no Authorization header is sent.
 */
export class VllmServer {
  readonly urls: ServerUrls;
  private readonly fetchFn: typeof fetch;
  private readonly agents: KeepAliveAgents = keepAliveAgents();
  private readonly completionsTarget: RequestTarget;
  private readonly completionHeaders: OutgoingHttpHeaders;

  constructor(
    readonly baseUrl: string,
    private readonly apiKey: string | null,
    fetchFn?: typeof fetch,
  ) {
    this.urls = serverUrls(baseUrl);
    this.fetchFn = fetchFn ?? keepAliveFetch(this.agents);
    this.completionsTarget = requestTarget(new URL(this.urls.completions));
    this.completionHeaders = { ...this.headers(true), accept: 'application/json' };
  }

  /** The bearer token from model.api_key_env, or null without one; a named but unset variable is an error. */
  static apiKeyFrom(apiKeyEnv: string | null, env: NodeJS.ProcessEnv, process: string): string | null {
    if (!apiKeyEnv) return null;
    const value = env[apiKeyEnv];
    if (!value) throw new Error(`model.api_key_env names ${apiKeyEnv}, but it is not set in the ${process}'s environment`);
    return value;
  }

  private headers(json: boolean): Record<string, string> {
    const h: Record<string, string> = json ? { 'content-type': 'application/json' } : {};
    if (this.apiKey !== null) h.authorization = `Bearer ${this.apiKey}`;
    return h;
  }

  /** GET /v1/models: what the server serves, with each model's max_model_len when it says. */
  async models(timeoutMs: number): Promise<ServedModel[]> {
    let response: Response;
    try {
      response = await this.fetchFn(this.urls.models, { headers: this.headers(false), signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      throw new ServerAnswerError(`${this.urls.models} does not answer (${networkCause(error)}); is the model server running?`, null);
    }
    const text = await response.text();
    if (response.status !== 200) throw new ServerAnswerError(`GET ${this.urls.models} answered ${response.status}: ${text.slice(0, 200)}`, response.status);
    let data: unknown;
    try {
      data = (JSON.parse(text) as { data?: unknown }).data;
    } catch {
      throw new ServerAnswerError(`GET ${this.urls.models} answered something other than JSON: ${text.slice(0, 200)}`, response.status);
    }
    if (!Array.isArray(data)) throw new ServerAnswerError(`GET ${this.urls.models} answered without a data list: ${text.slice(0, 200)}`, response.status);
    return data.map((m: { id?: unknown; max_model_len?: unknown }) => ({
      id: String(m.id),
      maxModelLen: typeof m.max_model_len === 'number' && Number.isInteger(m.max_model_len) && m.max_model_len > 0 ? m.max_model_len : null,
    }));
  }

  /**
   * POST /tokenize: the token count of a text by the server's own tokenizer; null when the server
   * has no /tokenize (404, not vLLM). Any other failure, or an answer without a whole count, throws
   * (with `status` when the server answered), so a caller can retry or decide it does not matter.
   * With `addSpecialTokens`, the tokens a completion adds (a BOS) are counted too.
   */
  async tokenize(model: string, text: string, signal: AbortSignal, addSpecialTokens = false): Promise<number | null> {
    const response = await this.fetchFn(this.urls.tokenize, {
      method: 'POST',
      headers: this.headers(true),
      body: JSON.stringify({ model, prompt: text, add_special_tokens: addSpecialTokens }),
      signal,
    });
    if (response.status === 404) return null;
    const body = await response.text();
    if (!response.ok) throw new ServerAnswerError(`/tokenize answered ${response.status}: ${body.slice(0, 200)}`, response.status);
    let count: unknown;
    try {
      count = (JSON.parse(body) as { count?: unknown }).count;
    } catch {
      count = undefined;
    }
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) throw new Error(`/tokenize answered without a token count: ${body.slice(0, 200)}`);
    return count;
  }

  /** GET /metrics (Prometheus text): status and body, for the caller to judge. */
  async metrics(signal: AbortSignal): Promise<{ status: number; text: string }> {
    const response = await this.fetchFn(this.urls.metrics, { headers: this.headers(false), signal });
    return { status: response.status, text: await response.text() };
  }

  /**
   * The constant parts of a completion request's JSON body for `complete`: the model first, then
   * the prompt, then `rest`. A prompt's shared prefix is encoded once and kept (a few entities are
   * in flight at a time): JSON-encoding and UTF-8-encoding a prompt of thousands of tokens for each
   * call was the worker's largest single CPU cost.
   */
  completionRequest(model: string, rest: Record<string, unknown>): CompletionRequest {
    return new CompletionRequest(model, rest);
  }

  /**
   * POST /v1/completions (non-streaming), the per-prompt call: the answer's JSON, or an error of
   * the openai client's classes with the messages it would give (APIError with the status and the
   * server's message, APIConnectionError with the socket error as cause, APIConnectionTimeoutError,
   * APIUserAbortError when `signals` abort it), so retry classification and the recorded errors
   * read as they did when the openai client made the call. Its per-request machinery (headers,
   * logging, abort signals, WHATWG Response) cost more CPU than the call itself.
   */
  async complete(request: CompletionRequest, prompt: string | { prefix: string; suffix: string }, timeoutMs: number, signals: ReadonlyArray<AbortSignal | undefined>): Promise<CompletionAnswer> {
    const body = request.body(prompt);
    let answer;
    try {
      answer = await postRaw(this.agents, this.completionsTarget, this.completionHeaders, body, timeoutMs, signals);
    } catch (error) {
      if (signals.some((s) => s?.aborted)) throw new APIUserAbortError();
      if (error instanceof RequestTimeoutError) throw new APIConnectionTimeoutError();
      throw new APIConnectionError({ cause: error as Error });
    }
    const text = answer.body.toString('utf8');
    if (answer.status < 200 || answer.status >= 300) {
      const json = parseJsonOrUndefined(text);
      const headers = new Headers();
      for (const [name, value] of Object.entries(answer.headers)) if (value !== undefined) for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
      throw APIError.generate(answer.status, json, json === undefined ? text : undefined, headers);
    }
    try {
      return JSON.parse(text) as CompletionAnswer;
    } catch {
      throw new ServerAnswerError(`POST ${this.urls.completions} answered ${answer.status} with something other than JSON: ${text.slice(0, 200)}`, null);
    }
  }
}

/** Prefixes kept encoded per request shape: more than the entities a worker has in flight at once. */
const ENCODED_PREFIXES = 64;

/**
 * A completion request's body, `{"model":..,"prompt":..,...rest}` byte for byte as JSON.stringify
 * writes it, from bytes encoded once: the parts around the prompt, and each recent prefix.
 */
export class CompletionRequest {
  private readonly head: Buffer;
  private readonly tail: Buffer;
  private readonly prefixes = new Map<string, Buffer>();

  constructor(model: string, rest: Record<string, unknown>) {
    const restJson = JSON.stringify(rest);
    this.head = Buffer.from(`{"model":${JSON.stringify(model)},"prompt":`);
    this.tail = Buffer.from(restJson === '{}' ? '}' : `,${restJson.slice(1)}`);
  }

  body(prompt: string | { prefix: string; suffix: string }): Buffer {
    if (typeof prompt === 'string') return Buffer.concat([this.head, Buffer.from(JSON.stringify(prompt)), this.tail]);
    // A JSON string is its characters escaped one by one, so the prefix's encoding (without its
    // closing quote) followed by the suffix's (without its opening quote) is the whole prompt's.
    // Only a surrogate pair split between the two is escaped as two halves: the same string to a parser.
    let prefix = this.prefixes.get(prompt.prefix);
    if (prefix === undefined) {
      const json = JSON.stringify(prompt.prefix);
      prefix = Buffer.from(json.slice(0, -1));
      if (this.prefixes.size >= ENCODED_PREFIXES) this.prefixes.delete(this.prefixes.keys().next().value!);
      this.prefixes.set(prompt.prefix, prefix);
    }
    return Buffer.concat([this.head, prefix, Buffer.from(JSON.stringify(prompt.suffix).slice(1)), this.tail]);
  }
}

/** The parts of a /v1/completions answer that are read. */
export interface CompletionAnswer {
  choices?: Array<{ text?: string; finish_reason?: string | null }>;
  usage?: { prompt_tokens?: number; completion_tokens?: number; prompt_tokens_details?: { cached_tokens?: number | null } | null } | null;
}

function parseJsonOrUndefined(text: string): object | undefined {
  try {
    return JSON.parse(text) as object;
  } catch {
    return undefined;
  }
}

export interface ServedModel {
  id: string;
  maxModelLen: number | null;
}

/** The server answered with an error (status set) or not at all (status null). */
export class ServerAnswerError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
  ) {
    super(message);
    this.name = 'ServerAnswerError';
  }
}

/** ECONNREFUSED, ENOTFOUND, a timeout...: the short reason a request got no answer. */
export function networkCause(error: unknown): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'timed out';
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(error);
}
