import { createHash } from 'node:crypto';
import { canonicalJson } from '@assay/config';
import type { ExperimentStarted, Phase, StageRecord } from '@assay/contracts';
import { methodCatalog } from '@assay/methods/registry';

/**
 * An experiment is a small DAG of stages. Each method lists its stages in a table (STAGE_TABLES);
 * the decider reads the table, never a hard-coded sequence, so a method with two model stages (a
 * persona summary feeding the prediction) or none (a baseline) needs a new table row, not new
 * decisions.
 *
 * A stage's key hashes what its output depends on: its own parameters (the part of the config it
 * uses), the keys of the stages it reads, the data hashes and the code version. Two stages with
 * the same key computed the same thing, so a later experiment may reuse a completed stage by key.
 */
export type StageKind =
  /** Prompts go to the model in entity batches (inference.batch.requested → inference.completed/failed → evaluation.batch.scored). */
  | 'llm_inference'
  /**
   * A method fitted without a model (a baseline) learns from the train split and predicts every
   * test cell; the evaluator runs it on experiment.started (experiment.planned + evaluation.batch.scored).
   */
  | 'fit'
  /** The batches' scored predictions become the evaluation (evaluation.completed). */
  | 'scoring'
  /** The run directory is written from the evaluation (report.generated). */
  | 'report';

export interface StageDefinition {
  name: string;
  kind: StageKind;
  /** Stages whose results this one reads: part of its key. */
  reads: readonly string[];
  /** Stages that must finish first without being read (the smoke test before the full run): not part of the key. */
  after: readonly string[];
  /** For a model stage: the `phase` its events carry. */
  phase: Phase | null;
  /**
   * A gate checks a few examples and stops the attempt when they fail (evaluation.smoke.checked);
   * its results are not read by any other stage.
   */
  gate: boolean;
  /** The config sections this stage's output depends on. */
  params: readonly string[];
  /** Whether the attempt runs this stage at all (e.g. the smoke test only when enabled). */
  included(started: StartedFacts): boolean;
}

/** What a stage table needs from an attempt's experiment.started. */
export type StartedFacts = Pick<ExperimentStarted['data'], 'method' | 'config' | 'dataHashes' | 'codeVersion' | 'smokeOnly'>;

/** A stage of one attempt, with its key. */
export interface Stage extends StageRecord {
  kind: StageKind;
  after: string[];
  gate: boolean;
}

const smokeEnabled = (started: StartedFacts) => started.smokeOnly || (started.config.smoke as { enabled?: unknown } | undefined)?.enabled !== false;
const always = () => true;
/** What the model sees and how it answers: the sections every model stage of llm_zero_shot depends on. */
const PROMPTED = ['model', 'prompt', 'labels', 'sample', 'split'] as const;

export const STAGE_TABLES: Record<string, readonly StageDefinition[]> = {
  llm_zero_shot: [
    { name: 'smoke_inference', kind: 'llm_inference', reads: [], after: [], phase: 'smoke', gate: true, params: [...PROMPTED, 'smoke'], included: smokeEnabled },
    { name: 'inference', kind: 'llm_inference', reads: [], after: ['smoke_inference'], phase: 'full', gate: false, params: PROMPTED, included: (s) => !s.smokeOnly },
    { name: 'scoring', kind: 'scoring', reads: ['inference'], after: [], phase: null, gate: false, params: ['labels'], included: (s) => !s.smokeOnly },
    { name: 'report', kind: 'report', reads: ['scoring'], after: [], phase: null, gate: false, params: [], included: (s) => !s.smokeOnly },
  ],
};

/** A method's stage table: its own row in STAGE_TABLES, or the fitted table for any registered method fitted without a model (every baseline). */
function tableOf(method: string): readonly StageDefinition[] | undefined {
  const own = STAGE_TABLES[method];
  if (own) return own;
  const catalog = methodCatalog();
  return catalog.has(method) && !catalog.usesModel(method) ? fittedTable(method) : undefined;
}

/** A method fitted on the train split: its fit (the method's own section is its parameters), then scoring and the report as for any method. */
function fittedTable(method: string): readonly StageDefinition[] {
  return [
    { name: 'fit', kind: 'fit', reads: [], after: [], phase: 'full', gate: false, params: [method, 'labels', 'sample', 'split'], included: always },
    { name: 'scoring', kind: 'scoring', reads: ['fit'], after: [], phase: null, gate: false, params: ['labels'], included: always },
    { name: 'report', kind: 'report', reads: ['scoring'], after: [], phase: null, gate: false, params: [], included: always },
  ];
}

export function stageKey(def: Pick<StageDefinition, 'kind' | 'params'>, started: StartedFacts, readKeys: string[]): string {
  const params = Object.fromEntries(def.params.map((section) => [section, started.config[section] ?? null]));
  const payload = canonicalJson({ kind: def.kind, params, reads: readKeys, dataHashes: started.dataHashes, codeVersion: started.codeVersion });
  return createHash('sha256').update(payload).digest('hex');
}

/** The attempt's stages in table order (a table lists a stage after those it reads), each with its key. */
export function stagesOf(started: StartedFacts): Stage[] {
  const table = tableOf(started.method);
  if (!table) throw new Error(`no stage table for method '${started.method}' (known: ${Object.keys(STAGE_TABLES).join(', ')})`);
  const stages: Stage[] = [];
  for (const def of table.filter((d) => d.included(started))) {
    const reads = def.reads.map((name) => {
      const read = stages.find((s) => s.name === name);
      if (!read) throw new Error(`stage '${def.name}' of ${started.method} reads '${name}', which is not an earlier stage of this attempt`);
      return read;
    });
    stages.push({
      name: def.name,
      kind: def.kind,
      key: stageKey(def, started, reads.map((r) => r.key)),
      reads: [...def.reads],
      after: def.after.filter((name) => stages.some((s) => s.name === name)),
      phase: def.phase,
      gate: def.gate,
    });
  }
  return stages;
}

/** As recorded in experiment.started. */
export function stageRecords(stages: Stage[]): StageRecord[] {
  return stages.map(({ name, kind, key, reads, phase }) => ({ name, kind, key, reads, phase }));
}

/**
 * The stages of an attempt as its experiment.started says: the recorded keys when it has them (a
 * later change of the table must not rename what ran), else derived from its config (events
 * logged before stages were recorded).
 */
export function stagesOfStarted(started: StartedFacts & Pick<ExperimentStarted['data'], 'stages'>): Stage[] {
  const derived = stagesOf(started);
  if (!started.stages) return derived;
  return started.stages.map((record) => {
    const known = derived.find((d) => d.name === record.name);
    if (!known) throw new Error(`experiment.started records stage '${record.name}', which method ${started.method} does not have`);
    return { ...known, key: record.key, reads: record.reads, phase: record.phase };
  });
}
