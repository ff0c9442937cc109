import type { PromptRequest, PromptResult } from '@assay/contracts';
import type { ModelClient } from './model-client';
import { withRetries, type RetryPolicy } from './retry';
import type { Semaphore } from './semaphore';

export interface BatchProgress {
  onPromptDone(result: PromptResult): void;
  onRetry(promptId: string, error: string, retry: number): void;
}

/**
 * Runs one entity's prompts. The first goes alone: vLLM caches a prefix's blocks only when a
 * prefill finishes, so prompts sent together would all miss and all prefill the profile. Once
 * it is done the rest fan out and hit the cache. Every prompt ends with a result: a failure
 * after retries is kept with its error, never dropped.
 */
export async function runBatch(
  prefix: string,
  prompts: PromptRequest[],
  client: ModelClient,
  opts: { semaphore: Semaphore; retry: RetryPolicy; progress: BatchProgress; now?: () => number },
): Promise<PromptResult[]> {
  const now = opts.now ?? (() => performance.now());
  const runOne = (prompt: PromptRequest): Promise<PromptResult> =>
    opts.semaphore.run(async () => {
      const started = now();
      const outcome = await withRetries(() => client.complete(prefix + prompt.suffix), opts.retry, {
        onRetry: (error, retry) => opts.progress.onRetry(prompt.promptId, error.message, retry),
      });
      const latencyMs = Math.round((now() - started) * 1000) / 1000;
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
          };
      opts.progress.onPromptDone(result);
      return result;
    });

  if (prompts.length === 0) return [];
  const [first, ...rest] = prompts;
  const warm = await runOne(first);
  const others = await Promise.all(rest.map(runOne));
  return [warm, ...others];
}
