import type { ModelCallSettings } from '@assay/contracts';
import { withRetries, type RetryPolicy } from './retry';
import { ServerUnresponsiveError, type ServerLiveness } from './server-liveness';
import { VllmServer } from './vllm-server';
import { PrefixCacheCounterReader, type PrefixCacheCounters } from './server-cache-counters';

export interface Completion {
  text: string;
  finishReason: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
  /** From usage.prompt_tokens_details (vLLM with --enable-prompt-tokens-details); null otherwise. */
  cachedTokens: number | null;
  /** The server (base URL) that answered, where a client spreads calls over replicas. */
  replica?: string;
  /** The entity's preferred replica, when it was down and this call went to the next one. */
  failoverFrom?: string;
}

/**
 * A prompt as sent: one text, or an entity's shared prefix and one item's suffix (sent as their
 * concatenation), so the client can encode a prefix once for all of its batch's prompts.
 */
export type PromptText = string | { prefix: string; suffix: string };

/** The text of a prompt, whichever form it has. */
export function promptString(prompt: PromptText): string {
  return typeof prompt === 'string' ? prompt : prompt.prefix + prompt.suffix;
}

export interface ModelClient {
  /** `signal` aborts the call in flight (the attempt was cancelled or failed). */
  complete(prompt: PromptText, signal?: AbortSignal): Promise<Completion>;
  /**
   * Token count of a text by the server's tokenizer (vLLM's /tokenize), null if it has none or the
   * count could not be had. Informational only (the ideal cache reuse), so it must never fail a batch.
   * With `addSpecialTokens`, the tokens the server adds to a completion's prompt (a BOS) count too.
   */
  countTokens(text: string, addSpecialTokens?: boolean): Promise<number | null>;
  /**
   * The server's prefix-cache counters now (vLLM's /metrics), null when it has none or they could
   * not be read: the fallback where answers carry no cachedTokens. Absent on clients that cannot tell.
   */
  prefixCacheCounters?(): Promise<PrefixCacheCounters | null>;
}

export interface ModelClientHooks {
  /** Something went wrong that does not fail the work (e.g. /tokenize unreachable): worth a log line. */
  onWarning?(message: string): void;
  /** Watches the server while calls are out (one per server, shared by every client of it). */
  liveness?: ServerLiveness;
  /**
   * The server's prefix-cache counter reader, shared by every client of the server in the worker
   * (so a server without the counters is said once); without it the client has its own.
   */
  prefixCacheCounters?: PrefixCacheCounterReader;
  /** The server stopped answering and this client's calls were cut short: once per outage. */
  onServerUnresponsive?(message: string): void;
}

/** /tokenize is cheap and optional: a couple of quick retries, then give up on the count. */
const TOKENIZE_RETRY: RetryPolicy = { maxRetries: 2, baseDelayMs: 200, maxDelayMs: 2000 };

/** The JSON schema a guided (structured-output) answer must follow: one number. */
const ANSWER_SCHEMA = { type: 'object', properties: { answer: { type: 'number' } }, required: ['answer'] };

/**
 * Calls vLLM's OpenAI-compatible completions endpoint with the prompt already templated by us,
 * so the logged input is exactly what the model saw. `add_special_tokens: false` because the
 * rendered template carries its own BOS; vLLM would otherwise add a second one.
 */
export function openAiModelClient(settings: ModelCallSettings, env: NodeJS.ProcessEnv = process.env, hooks: ModelClientHooks = {}): ModelClient {
  const server = new VllmServer(settings.baseUrl, VllmServer.apiKeyFrom(settings.apiKeyEnv, env, 'worker'));
  const timeoutMs = settings.requestTimeoutS * 1000;
  // Everything of a request body but the prompt (which goes second, after the model).
  const rest: Record<string, unknown> = { max_tokens: settings.maxTokens, temperature: settings.temperature, seed: settings.seed, add_special_tokens: false };
  if (settings.stop.length > 0) rest.stop = settings.stop;
  if (settings.guidedJson) rest.structured_outputs = { json: ANSWER_SCHEMA };
  const request = server.completionRequest(settings.loraAdapter ?? settings.id, rest);
  let saidEpisode = 0;
  // One reader per server (or client), so a server without the counters is said once, not at every read.
  const counters = hooks.prefixCacheCounters ?? new PrefixCacheCounterReader(server, (message) => hooks.onWarning?.(message));
  const watched = <T>(call: (signal: AbortSignal | undefined) => Promise<T>): Promise<T> => {
    if (!hooks.liveness) return call(undefined);
    return hooks.liveness.track(call).catch((error: unknown) => {
      if (error instanceof ServerUnresponsiveError && error.episode !== saidEpisode) {
        saidEpisode = error.episode;
        hooks.onServerUnresponsive?.(`${settings.baseUrl}: ${error.message}`);
      }
      throw error;
    });
  };
  return {
    async complete(prompt, signal) {
      // Two reasons to stop waiting: the server stopped answering (hung), or the attempt ended (signal).
      const response = await watched((hung) => server.complete(request, prompt, timeoutMs, [hung, signal]));
      const choice = response.choices?.[0];
      const usage = response.usage;
      return {
        text: choice?.text ?? '',
        finishReason: choice?.finish_reason ?? null,
        promptTokens: usage?.prompt_tokens ?? null,
        completionTokens: usage?.completion_tokens ?? null,
        cachedTokens: usage?.prompt_tokens_details?.cached_tokens ?? null,
      };
    },
    async countTokens(text, addSpecialTokens = false) {
      const outcome = await withRetries(() => watched((hung) => {
        const timeout = AbortSignal.timeout(settings.requestTimeoutS * 1000);
        return server.tokenize(settings.id, text, hung ? AbortSignal.any([timeout, hung]) : timeout, addSpecialTokens);
      }), TOKENIZE_RETRY);
      if (outcome.error) {
        hooks.onWarning?.(`prefix token count unavailable after ${outcome.attempts} attempt(s), recorded as null: ${outcome.error.message}`);
        return null;
      }
      return outcome.value;
    },
    prefixCacheCounters: () => counters.read(),
  };
}
