import type { Phase } from '@assay/contracts';
import { DEFAULT_MAX_FAILURE_SHARE, isPlainObject } from '@assay/config';

/** Where a phase stands once one more of its batches is scored. */
export interface BatchTally {
  phase: Phase;
  /** Batches of the phase scored, this one included. */
  batchesScored: number;
  plannedBatches: number;
  /** Prompts the phase planned. */
  plannedPrompts: number;
  /** Prompts of the phase whose model call failed (after retries), this batch's included. */
  failedPrompts: number;
  /** model.max_failure_share of the run. */
  maxFailureShare: number;
}

export type BatchVerdict =
  | { kind: 'continue' }
  /** The last batch of the phase: run the smoke checks or the evaluation. */
  | { kind: 'phase_complete' }
  /** More calls failed than the threshold allows, whatever the remaining batches bring. */
  | { kind: 'too_many_failures'; failed: number; prompts: number; share: number; threshold: number };

/**
 * The evaluator's decision after scoring a batch. The failed share of the phase can only grow, so
 * once the failures exceed `maxFailureShare x plannedPrompts` the run fails at once instead of
 * waiting for every remaining call to a dead server to fail too. The smoke phase has its own
 * checks (with the raw outputs for the user), so the threshold applies to the full run.
 */
export function decideAfterBatch(t: BatchTally): BatchVerdict {
  if (t.phase === 'full' && t.failedPrompts > t.maxFailureShare * t.plannedPrompts) {
    return { kind: 'too_many_failures', failed: t.failedPrompts, prompts: t.plannedPrompts, share: t.failedPrompts / t.plannedPrompts, threshold: t.maxFailureShare };
  }
  return t.batchesScored === t.plannedBatches ? { kind: 'phase_complete' } : { kind: 'continue' };
}

const SHOWN_ERRORS = 3;

/** What the failure message says of one failed prompt (a prediction whose parseStatus is inference_failure). */
export function inferenceErrorOf(p: { parseError?: string }): string {
  return p.parseError ?? 'unknown inference error';
}

/** The first few distinct errors, in the order given, each with how often it occurred. */
export function firstDistinctErrors(errors: readonly string[], shown = SHOWN_ERRORS): string[] {
  const counts = new Map<string, number>();
  for (const e of errors) counts.set(e, (counts.get(e) ?? 0) + 1);
  return [...counts].slice(0, shown).map(([e, n]) => (n > 1 ? `${e} (x${n})` : e));
}

const percent = (x: number) => `${(x * 100).toFixed(1)}%`;

/** The experiment.failed text of a run that crossed the threshold: count, share, threshold, first errors, what to do. */
export function tooManyFailuresMessage(verdict: Extract<BatchVerdict, { kind: 'too_many_failures' }>, errors: readonly string[]): { error: string; details: string[] } {
  const { failed, prompts, share, threshold } = verdict;
  return {
    error: `${failed} of ${prompts} model calls failed (${percent(share)}), more than model.max_failure_share ${threshold} (${percent(threshold)}) allows; the rest of this attempt's calls were dropped`,
    details: [
      ...firstDistinctErrors(errors).map((e) => `error: ${e}`),
      "fix the model server (or raise model.max_failure_share), then 'assay run' the config again: it starts a new attempt, no --force needed",
    ],
  };
}

/** The run's threshold, from its resolved config; a run started before the setting existed gets its default. */
export function maxFailureShareOf(config: Record<string, unknown>): number {
  const value = isPlainObject(config.model) ? config.model.max_failure_share : undefined;
  if (value === undefined) return DEFAULT_MAX_FAILURE_SHARE;
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) throw new Error(`model.max_failure_share of the run's config must be a number from 0 to 1, got ${JSON.stringify(value)}`);
  return value;
}
