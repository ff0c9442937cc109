import type { ExperimentStarted, ItemDef, Phase } from '@assay/contracts';
import { RUN_ROUND } from '../experiment/decide';
import { progressOf, type ExperimentState } from '../experiment/state';

/** What scoring a run's baselines needs besides the data: the attempt's start, and the phase and planned items of the stage whose answers are evaluated. */
export interface EarlyBaselines {
  started: ExperimentStarted;
  phase: Phase;
  items: ItemDef[];
}

/**
 * Whether the baselines of the evaluation that `phase`'s last scored batch will ask for can be
 * scored now, while the stage's inference still runs: they depend on the data, the split and the
 * stage's prompts (its samples), not on the model's answers. So: the phase's stage is a model
 * stage that a scoring stage reads (not a gate such as the smoke test), every one of its batches
 * is requested (the samples are known), and the attempt has neither ended nor been evaluated.
 * Null otherwise.
 */
export function earlyBaselinesOf(state: ExperimentState, attemptNumber: number, phase: Phase): EarlyBaselines | null {
  const attempt = state.attempts.get(attemptNumber);
  if (!attempt || attempt.end || attempt.rounds.has(RUN_ROUND)) return null;
  const stage = attempt.stages.find((s) => s.phase === phase);
  if (!stage || stage.kind !== 'llm_inference' || stage.gate) return null;
  if (!attempt.stages.some((s) => s.kind === 'scoring' && s.reads.includes(stage.name))) return null;
  const { planned, requested } = progressOf(attempt, stage);
  if (!planned || requested.size < planned.data.batches) return null;
  return { started: attempt.started, phase, items: planned.data.items };
}
