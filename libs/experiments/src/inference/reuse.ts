import { experimentStream, type InferenceBatchRequested, type InferenceCompleted, type PromptResult } from '@assay/contracts';
import { findEvents, findStageBatchOutputs, type Sql, type StageBatchOutput } from '@assay/event-store';

export interface Reusable {
  /** By prompt id of the current batch: a successful answer to the byte-identical prompt. */
  results: Map<string, PromptResult>;
  /** The prefix's token count the earlier attempt measured, when its prefix is the same text. */
  prefixTokens: number | null;
  /** The other experiment whose stage output is reused (the stage cache); null for this experiment's earlier attempt or no reuse. */
  fromIdentity: string | null;
}

const NOTHING: Reusable = { results: new Map(), prefixTokens: null, fromIdentity: null };

/**
 * Which answers of an earlier attempt may stand in for model calls of this batch: those whose
 * prompt text (prefix + suffix, the exact bytes the model saw) is identical and whose call
 * succeeded. A failed call is asked again. A result the earlier attempt itself reused keeps its
 * origin, so every reused answer points at the event that recorded the model's call.
 */
export function reusableFrom(current: Pick<InferenceBatchRequested['data'], 'prefix' | 'prompts'>, earlier: InferenceBatchRequested, completions: InferenceCompleted[]): Reusable {
  const answered = new Map<string, { result: PromptResult; event: InferenceCompleted }>();
  for (const completion of completions) for (const r of completion.data.results) if (r.status === 'ok') answered.set(r.promptId, { result: r, event: completion });
  const byText = new Map<string, { result: PromptResult; event: InferenceCompleted }>();
  for (const p of earlier.data.prompts) {
    const hit = answered.get(p.promptId);
    if (hit) byText.set(earlier.data.prefix + p.suffix, hit);
  }
  const results = new Map<string, PromptResult>();
  for (const p of current.prompts) {
    const hit = byText.get(current.prefix + p.suffix);
    if (!hit) continue;
    const reusedFrom = hit.result.reusedFrom ?? { attempt: hit.event.data.attempt, eventId: hit.event.id };
    results.set(p.promptId, { ...hit.result, promptId: p.promptId, reusedFrom });
  }
  const measured = completions.find((c) => c.data.prefixTokens !== null)?.data.prefixTokens ?? null;
  return { results, prefixTokens: results.size > 0 && earlier.data.prefix === current.prefix ? measured : null, fromIdentity: null };
}

/**
 * Whether a batch may take its answers from the stage cache: it carries its stage's key, and the
 * attempt was not forced (`assay run --force` recomputes every stage).
 */
export function mayReuseStage(batch: Pick<InferenceBatchRequested['data'], 'stageKey'>, forced: boolean): batch is { stageKey: string } {
  return batch.stageKey !== undefined && !forced;
}

/**
 * The stage cache's choice for one entity batch among the same batch of the same stage key in
 * other experiments: the one that answers the most of its prompts (byte-identical prompt text, a
 * successful call; the earliest on a tie, the original). Every reused answer names the experiment
 * it comes from, and an answer that experiment itself reused keeps its origin.
 */
export function reusableFromStage(current: Pick<InferenceBatchRequested['data'], 'prefix' | 'prompts'>, candidates: StageBatchOutput[]): Reusable {
  let best: Reusable = NOTHING;
  for (const candidate of candidates) {
    const found = reusableFrom(current, candidate.request, candidate.completions);
    if (found.results.size <= best.results.size) continue;
    const results = new Map<string, PromptResult>();
    for (const [promptId, r] of found.results) {
      const origin = r.reusedFrom?.identity !== undefined ? r.reusedFrom : { ...r.reusedFrom!, identity: candidate.identity };
      results.set(promptId, { ...r, reusedFrom: origin });
    }
    best = { results, prefixTokens: found.prefixTokens, fromIdentity: candidate.identity };
  }
  return best;
}

/**
 * The answers a batch may reuse. First those of this experiment's previous attempt when it failed
 * at inference (a dead or refusing server), from its same entity batch, in the full run only.
 * Else, unless the attempt was forced, the stage cache: the same entity batch of a stage with the
 * same key in another experiment (mayReuseStage, reusableFromStage), smoke test included, since a
 * stage with the same key computes the same thing.
 */
export async function reusableResults(sql: Sql, batch: InferenceBatchRequested['data'], forced: boolean): Promise<Reusable> {
  const retried = await reusableFromFailedAttempt(sql, batch);
  if (retried.results.size > 0 || !mayReuseStage(batch, forced)) return retried;
  const candidates = await findStageBatchOutputs(sql, batch.stageKey, batch.batchId, { exceptStream: experimentStream(batch.identity) });
  return reusableFromStage(batch, candidates);
}

async function reusableFromFailedAttempt(sql: Sql, batch: InferenceBatchRequested['data']): Promise<Reusable> {
  if (batch.phase !== 'full' || batch.attempt === 1) return NOTHING;
  const stream = experimentStream(batch.identity);
  const previous = batch.attempt - 1;
  const [failed] = await findEvents(sql, stream, 'experiment.failed', { attempt: previous });
  if (failed?.data.stage !== 'inference') return NOTHING;
  const [earlier] = await findEvents(sql, stream, 'inference.batch.requested', { attempt: previous, phase: 'full', batchId: batch.batchId });
  if (!earlier) return NOTHING;
  const completions = await findEvents(sql, stream, 'inference.completed', { attempt: previous, phase: 'full', batchId: batch.batchId });
  return reusableFrom(batch, earlier, completions);
}

/** The batch's results in its prompt order: reused answers and the fresh ones of the prompts that were asked. */
export function mergeReused(prompts: ReadonlyArray<{ promptId: string }>, reused: Map<string, PromptResult>, fresh: PromptResult[]): PromptResult[] {
  const asked = new Map(fresh.map((r) => [r.promptId, r]));
  return prompts.map((p) => {
    const result = reused.get(p.promptId) ?? asked.get(p.promptId);
    if (!result) throw new Error(`no result for prompt ${p.promptId}: neither reused nor asked`);
    return result;
  });
}
