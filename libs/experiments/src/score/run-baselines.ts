import { AnyExperimentConfig } from '@assay/config';
import { experimentStream, type ExperimentStarted, type ItemDef } from '@assay/contracts';
import { loadDataset, loadSplit } from '@assay/data';
import { TableBuilder, type SampleTable, type ScoredBaselines } from '@assay/evaluation';
import { forEachEventPage, type EventStore } from '@assay/event-store';
import { applyLabels } from '../plan/labels';
import { dataChangedSince, StageError } from '../plan/prepare';
import type { EarlyBaselines } from './early-baselines';
import { scoreRunBaselines } from './scoring';

/** Events per read when a stage's batch requests are read for their samples. */
const REQUEST_PAGE = 64;

/**
 * Why the baselines of the run that `started` began cannot be scored from the data files as they
 * are now (a file changed or became unreadable since the start), naming the run; null when they can.
 * Baselines train on the same split file and the same labels as the planner's prompts.
 */
export async function runDataChanged(started: ExperimentStarted): Promise<string | null> {
  try {
    const changed = await dataChangedSince({ config: AnyExperimentConfig.parse(started.data.config), dataHashes: started.data.dataHashes });
    return changed && `${started.data.identity}: ${changed}: baselines would use other data`;
  } catch (error) {
    // A data file gone or unreadable: a reason to refuse, like a changed one.
    if (error instanceof StageError) return `${started.data.identity}: ${error.message}`;
    throw error;
  }
}

/** The run's baselines on these samples (a table of them, see TableBuilder), from the data files as they are now (the caller checked that they are the run's: runDataChanged). */
export async function scoreRunBaselinesFromData(started: ExperimentStarted, table: SampleTable, items: ItemDef[]): Promise<ScoredBaselines> {
  return scoreBaselinesFromFiles(AnyExperimentConfig.parse(started.data.config), started.data.method, table, items);
}

/** scoreRunBaselinesFromData of a run's config and method (the data files, split and labels the config names). */
export async function scoreBaselinesFromFiles(config: AnyExperimentConfig, method: string, table: SampleTable, items: ItemDef[]): Promise<ScoredBaselines> {
  const raw = await loadDataset({ profiles: config.data.profiles, responses: config.data.responses, items: config.data.items });
  const { split } = await loadSplit(config.data.split, raw.entities.map((e) => e.entityId));
  // The same labels the planner asked for (labels.mode): e.g. median-split 0/1 train values.
  const dataset = applyLabels(config.labels.mode, raw, split);
  return scoreRunBaselines({ dataset, split, table, items, method });
}

/**
 * The baselines of a stage whose batches are all requested (earlyBaselinesOf), on its samples as
 * its batch requests carry them (each prompt has its actual value): what the evaluation of its
 * answers will ask for. Fails when the data files changed since the run started.
 */
export async function scoreBaselinesFromRequests(store: EventStore, early: EarlyBaselines): Promise<ScoredBaselines> {
  const { started, phase, items } = early;
  const { identity, attempt } = started.data;
  // Columns, page by page: no object per prompt is kept.
  const samples = new TableBuilder(items);
  await store.read((sql) =>
    forEachEventPage(sql, experimentStream(identity), 'inference.batch.requested', { attempt, phase }, REQUEST_PAGE, (page) => {
      for (const e of page) for (const p of e.data.prompts) samples.addSample({ entityId: e.data.entityId, group: p.group, item: p.item, actual: p.actual });
    }),
  );
  const changed = await runDataChanged(started);
  if (changed) throw new Error(changed);
  return scoreRunBaselinesFromData(started, samples.build().table, items);
}
