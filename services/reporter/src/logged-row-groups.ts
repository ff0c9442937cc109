import { compareCodeUnits, type ItemDef } from '@assay/contracts';
import { EventStore, findEventsOfBatchesKeeping, forEachEventPageKeeping } from '@assay/event-store';
import { asPrediction, groupRowsOf, samplesOf, type AttemptCompletions, type GroupSlice, type ScoredPrediction } from '@assay/experiments';
import type { PairedSide } from '@assay/comparison';
import type { InferenceBatchRequested, InferenceCompleted } from '@assay/contracts';
import type { RowGroups } from '@assay/report';

/**
 * Events read per page. A request holds its entity's shared prefix (~12 KB on the bench), so a
 * page of them is a few MB; the rest of a group's slice is its own prompts, results and predictions.
 */
const PAGE = 200;

/** One attempt's full phase, one evaluation round of it: where its rows are in the log, and how they are made. */
export interface RowsOfAttempt {
  stream: string;
  attempt: number;
  round: number;
  method: string;
  fitted: boolean;
  items: readonly ItemDef[];
  groups: readonly string[];
  completions: AttemptCompletions;
}

const ofGroup = (array: string, group: string) => ({ array, field: 'group', values: [group] });

/**
 * The rows of an attempt read from the log one item group at a time (RowGroups): Postgres cuts
 * every batch's prompts, results and predictions down to the group's, so the reporter holds one
 * group's rows (and the prefixes of its entities), never the run's.
 */
export function loggedRowGroups(store: EventStore, at: RowsOfAttempt): RowGroups {
  return {
    anyFailover: at.completions.anyFailover(),
    async *groups() {
      for (const group of [...at.groups].sort(compareCodeUnits)) {
        const slice = await readGroupSlice(store, at, group);
        if (slice.requests.length === 0 && slice.predictions.length === 0) continue;
        yield groupRowsOf(slice, at);
      }
    },
  };
}

async function readGroupSlice(store: EventStore, at: RowsOfAttempt, group: string): Promise<GroupSlice> {
  const { stream, attempt, round } = at;
  const requests: InferenceBatchRequested[] = [];
  const completions = new Map<string, InferenceCompleted>();
  await store.read((sql) =>
    forEachEventPageKeeping(sql, stream, 'inference.batch.requested', { attempt, phase: 'full' }, ofGroup('prompts', group), PAGE, async (page) => {
      const promptIds = page.flatMap((e) => e.data.prompts.map((p) => p.promptId));
      const results = { array: 'results', field: 'promptId', values: promptIds };
      for (const c of await findEventsOfBatchesKeeping(sql, stream, 'inference.completed', { attempt, phase: 'full' }, page.map((e) => e.data.batchId), results)) {
        // The batch's last completion, as the fold over all of them found it (a batch answered twice shows its last answer).
        if (c.id === at.completions.lastCompletionOf(c.data.batchId)) completions.set(c.data.batchId, c);
      }
      requests.push(...page);
    }),
  );
  return { requests, completions, predictions: await scoredPredictionsOf(store, stream, { attempt, round }, group) };
}

/** One group's scored predictions of an attempt's evaluation round, in log order. */
async function scoredPredictionsOf(store: EventStore, stream: string, shown: { attempt: number; round: number }, group: string): Promise<ScoredPrediction[]> {
  const predictions: ScoredPrediction[] = [];
  await store.read((sql) =>
    forEachEventPageKeeping(sql, stream, 'evaluation.batch.scored', { attempt: shown.attempt, phase: 'full', round: shown.round }, ofGroup('predictions', group), PAGE, (page) => {
      for (const e of page) for (const p of e.data.predictions) predictions.push(p);
    }),
  );
  return predictions;
}

/** Adds a run's scored predictions (an attempt's round) to a PairedSide, one group at a time. */
export async function addPairedGroups(store: EventStore, side: PairedSide, stream: string, shown: { attempt: number; round: number }, groups: readonly string[]): Promise<void> {
  for (const group of [...new Set(groups)].sort(compareCodeUnits)) {
    const predictions = await scoredPredictionsOf(store, stream, shown, group);
    side.addGroup(group, samplesOf(predictions), predictions.map(asPrediction));
  }
}
