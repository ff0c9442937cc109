import type { PromptRequest, PromptResult } from '@assay/contracts';
import type { ModelClient } from './model-client';
import { throwIfAborted, withRetries, type RetryPolicy } from './retry';
import type { EntityPipeline } from './entity-pipeline';
import type { PrefixCacheCounters } from './server-cache-counters';

export interface BatchProgress {
  onPromptDone(result: PromptResult): void;
  onRetry(promptId: string, error: string, retry: number): void;
}

/**
 * What a batch adds to the run's progress once its outcome is handled: its prompts count as done
 * only when the outcome was committed by this handling. A duplicate (the batch was redelivered and
 * another delivery committed it first) adds nothing, so progress counts prompts, not model calls,
 * and never passes the plan. A batch that failed as a whole counts all its prompts as failed.
 */
export function committedBatchProgress(outcome: { duplicate: boolean }, results: ReadonlyArray<Pick<PromptResult, 'status'>> | { failedPrompts: number }): { promptsDone: number; inferenceFailures: number } | null {
  if (outcome.duplicate) return null;
  if ('failedPrompts' in results) return { promptsDone: results.failedPrompts, inferenceFailures: results.failedPrompts };
  return { promptsDone: results.length, inferenceFailures: results.filter((r) => r.status === 'error').length };
}

/**
 * Runs one entity's prompts. The first goes alone: vLLM caches a prefix's blocks only when a
 * prefill finishes, so prompts sent together would all miss and all prefill the profile. Once
 * it is done the rest fan out and hit the cache. The worker's EntityPipeline decides when the
 * entity may warm up and gives fan-out prompts the slots first. Every prompt ends with a result:
 * a failure after retries is kept with its error, never dropped. An abort of `signal` (the
 * attempt ended) is the exception: calls in flight are cut, prompts waiting for a slot give it up
 * at once, and the batch rejects with WorkAbortedError, since nothing of it is to be recorded.
 */
export async function runBatch(
  prefix: string,
  prompts: PromptRequest[],
  client: ModelClient,
  opts: {
    pipeline: EntityPipeline;
    retry: RetryPolicy;
    progress: BatchProgress;
    /** The server the client sends to (its base URL), recorded with every result unless the client's answer names its own. */
    replica?: string;
    /** Monotonic milliseconds, for latencies. */
    now?: () => number;
    /** Wall clock, for the results' startedAt / finishedAt. */
    clock?: () => Date;
    /** Aborted when the attempt ends (cancelled, failed): calls in flight and waiting prompts stop. */
    signal?: AbortSignal;
  },
): Promise<PromptResult[]> {
  const now = opts.now ?? (() => performance.now());
  const clock = opts.clock ?? (() => new Date());
  const where = opts.replica === undefined ? {} : { replica: opts.replica };
  /** Asks the model (with retries) for one prompt; the caller holds a slot. */
  const answer = async (prompt: PromptRequest): Promise<PromptResult> => {
    throwIfAborted(opts.signal);
    const startedAt = clock().toISOString();
    const started = now();
    const outcome = await withRetries(() => client.complete({ prefix, suffix: prompt.suffix }, opts.signal), opts.retry, {
      onRetry: (error, retry) => opts.progress.onRetry(prompt.promptId, error.message, retry),
      signal: opts.signal,
    });
    const latencyMs = Math.round((now() - started) * 1000) / 1000;
    // A client spreading calls over replicas says which one answered (or failed last), and whether it failed over.
    const served = (outcome.value ?? outcome.error ?? {}) as { replica?: string; failoverFrom?: string };
    const when = {
      startedAt,
      finishedAt: clock().toISOString(),
      ...(served.replica === undefined ? where : { replica: served.replica }),
      ...(served.failoverFrom === undefined ? {} : { failoverFrom: served.failoverFrom }),
    };
    // Decided by the error, not by the value's truthiness: only a recorded error makes a failure.
    const result: PromptResult = outcome.error === null && outcome.value !== null
      ? {
          promptId: prompt.promptId,
          status: 'ok',
          outputText: outcome.value.text,
          error: null,
          finishReason: outcome.value.finishReason,
          promptTokens: outcome.value.promptTokens,
          completionTokens: outcome.value.completionTokens,
          cachedTokens: outcome.value.cachedTokens,
          latencyMs,
          attempts: outcome.attempts,
          ...when,
        }
      : {
          promptId: prompt.promptId,
          status: 'error',
          outputText: null,
          error: outcome.error?.message ?? 'unknown error',
          finishReason: null,
          promptTokens: null,
          completionTokens: null,
          cachedTokens: null,
          latencyMs,
          attempts: outcome.attempts,
          ...when,
        };
    opts.progress.onPromptDone(result);
    return result;
  };

  if (prompts.length === 0) return [];
  const { pipeline } = opts;
  const [first, ...rest] = prompts;
  const release = await pipeline.admit();
  // The entity stays "ahead" until its last prompt has a slot: until then its cached prefix waits
  // unused, and that waiting is what the pipeline bounds.
  let unstarted = rest.length;
  const fanOutOne = (prompt: PromptRequest): Promise<PromptResult> =>
    pipeline.fanOut(() => {
      if (--unstarted === 0) release();
      return answer(prompt);
    });
  let others: Promise<PromptResult[]> = Promise.resolve([]);
  let warm: PromptResult;
  // Without cachedTokens in the answers, the server's counters over the fan-out judge the cache.
  let countersBefore: Promise<PrefixCacheCounters | null> | null = null;
  try {
    warm = await pipeline.warmUp(async () => {
      const result = await answer(first);
      if (result.status === 'ok' && result.cachedTokens === null && rest.length > 0 && client.prefixCacheCounters) countersBefore = client.prefixCacheCounters();
      // Queued while the warm-up still holds its slot, so no later entity's prompt gets in between.
      others = Promise.all(rest.map(fanOutOne));
      return result;
    });
  } catch (error) {
    release();
    throw error;
  }
  if (rest.length === 0) release();
  const fannedOut = await others;
  let evicted = prefixEvicted(prefix, rest, fannedOut);
  const before = countersBefore === null ? null : await (countersBefore as Promise<PrefixCacheCounters | null>);
  if (evicted === null && before !== null && client.prefixCacheCounters) {
    const after = await client.prefixCacheCounters();
    if (after !== null) evicted = prefixEvictedByCounters(prefix, rest, fannedOut, before, after);
  }
  if (evicted !== null) pipeline.recordCacheOutcome(evicted);
  return [warm, ...fannedOut];
}

/** Below this many expected prefix tokens a miss cannot be told from block rounding. */
const MIN_JUDGED_PREFIX_TOKENS = 64;

/**
 * Whether the server prefilled the shared prefix again for some fan-out prompt (a finite cache
 * evicted it between warm-up and use); null when the server does not report cached tokens or
 * the prefix is too short to judge. A prompt's expected reuse is its share of prefix characters
 * times its prompt tokens; a prompt reusing less than half of that counts as a miss.
 */
export function prefixEvicted(prefix: string, prompts: readonly PromptRequest[], results: readonly PromptResult[]): boolean | null {
  let judged = 0;
  for (let i = 0; i < results.length; i++) {
    const { cachedTokens, promptTokens } = results[i];
    if (cachedTokens === null || promptTokens === null) continue;
    const expected = (promptTokens * prefix.length) / (prefix.length + prompts[i].suffix.length);
    if (expected < MIN_JUDGED_PREFIX_TOKENS) continue;
    judged++;
    if (cachedTokens < expected / 2) return true;
  }
  return judged > 0 ? false : null;
}

/**
 * prefixEvicted's fallback for a server that reports no cachedTokens: its counters from the end
 * of the warm-up to the end of the fan-out. They count the server's other work in that window
 * too (other entities' warm-ups and fan-outs), so this is the server's hit rate over the window
 * against the share of the fan-out prompts' tokens that lie in the prefix; below half of it
 * counts as a miss. Null when the window has no lookups or the prefix is too short to judge.
 */
export function prefixEvictedByCounters(
  prefix: string,
  prompts: readonly PromptRequest[],
  results: readonly PromptResult[],
  before: PrefixCacheCounters,
  after: PrefixCacheCounters,
): boolean | null {
  const queries = after.queries - before.queries;
  const hits = after.hits - before.hits;
  if (queries <= 0 || hits < 0) return null;
  let promptTokens = 0;
  let prefixTokens = 0;
  for (let i = 0; i < results.length; i++) {
    const tokens = results[i].promptTokens;
    if (results[i].status !== 'ok' || tokens === null) continue;
    promptTokens += tokens;
    prefixTokens += (tokens * prefix.length) / (prefix.length + prompts[i].suffix.length);
  }
  if (promptTokens === 0 || prefixTokens / results.length < MIN_JUDGED_PREFIX_TOKENS) return null;
  return hits / queries < prefixTokens / promptTokens / 2;
}
