import { createHash } from 'node:crypto';
import { canonicalJson, isPlainObject } from '@assay/config';
import type { ExperimentStarted, Phase, StageRecord } from '@assay/contracts';
import { methodCatalog } from '@assay/methods/registry';
import { methodStageCodeVersion, STAGE_CODE, stageCodeVersion, type StageCodeRecords } from '@assay/methods/core';

/**
 * An experiment is a small DAG of stages. Each method's declared stages give a table (stageTableOf);
 * the decider reads the table, never a hard-coded sequence, so a method with two model stages (a
 * persona summary feeding the prediction) or none (a baseline) needs a new table row, not new
 * decisions.
 *
 * A stage's key hashes what its output depends on: its own parameters (the part of the config it
 * uses), the keys of the stages it reads, the data hashes and the code version. Two stages with
 * the same key computed the same thing, so a later experiment may reuse a completed stage by key.
 * The code version is the stage's own (stageCodeVersion; for a stage running the method's code,
 * that method's: methodStageCodeVersion), not the repository's commit, so an edit elsewhere, or
 * to another method, keeps the stage reusable.
 */
export type StageKind =
  /** Prompts go to the model in entity batches (inference.batch.requested → inference.completed/failed → evaluation.batch.scored). */
  | 'llm_inference'
  /**
   * One model call per entity whose answer another stage's prompts read (a persona summary):
   * never scored. A stage reading it is planned entity by entity, each batch as soon as its
   * entity's answer arrives (stream_input), not when the whole stage has finished.
   */
  | 'llm_input'
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
  /**
   * The config sections this stage's output depends on ('<method>' stands for the method's own
   * section). Where-it-runs settings within them never count (WHERE_IT_RUNS).
   */
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

/** Placeholder in `params` for the method's own section (e.g. llm_few_shot: {k, selection, seed}). */
export const METHOD_SECTION = '<method>';

/**
 * Settings that say where or how fast a stage runs, not what it computes: the model server(s), the
 * API key's variable, concurrency, timeouts and retries, and the failure share at which the run
 * gives up (a completed stage met it). Changing them keeps a stage's key, so its outputs are reused.
 */
export const WHERE_IT_RUNS: Readonly<Record<string, readonly string[]>> = {
  model: ['base_url', 'api_key_env', 'concurrency', 'request_timeout_s', 'max_retries', 'max_failure_share', 'max_model_len'],
};

const smokeEnabled = (started: StartedFacts) => started.smokeOnly || !isPlainObject(started.config.smoke) || started.config.smoke.enabled !== false;
/** What the model sees and how it answers: the sections every model stage of a prompting method depends on. */
const PROMPTED = ['model', 'prompt', 'profile', 'labels', 'sample', 'split', METHOD_SECTION] as const;
/** What an entity-input stage (a persona summary) depends on: the model, the profile it reads, which entities, and the method's own section. */
const SUMMARIZED = ['model', 'profile', 'sample', 'split', METHOD_SECTION] as const;
const runsInFull = (s: StartedFacts) => !s.smokeOnly;

/**
 * The stage table of a registered method with one prompt stage: a smoke test of it, the full
 * run, scoring, the report. Its model stages also depend on the method's own section (null for a
 * method without one, like llm_zero_shot).
 */
export function stageTableOf(methodName: string): readonly StageDefinition[] {
  const catalog = methodCatalog();
  const method = catalog.get(methodName);
  if (!catalog.usesModel(method.name)) return fittedTable();
  if (method.entityInput) {
    const input = method.entityInput.stage;
    // No smoke gate: the predictions stream entity by entity behind the entity inputs, and a gate
    // would hold every entity until the first one's input and smoke batch were through.
    return [
      { name: input, kind: 'llm_input', reads: [], after: [], phase: 'summary', gate: false, params: SUMMARIZED, included: runsInFull },
      { name: 'inference', kind: 'llm_inference', reads: [input], after: [], phase: 'full', gate: false, params: PROMPTED, included: runsInFull },
      { name: 'scoring', kind: 'scoring', reads: ['inference'], after: [], phase: null, gate: false, params: ['labels'], included: runsInFull },
      { name: 'report', kind: 'report', reads: ['scoring'], after: [], phase: null, gate: false, params: [], included: runsInFull },
    ];
  }
  const promptStages = method.stages.filter((s) => s.kind === 'prompt');
  if (promptStages.length !== 1) {
    throw new Error(`method '${method.name}' declares ${promptStages.length} prompt stages (${promptStages.map((s) => s.name).join(', ')}); the experiment decider runs methods of exactly one`);
  }
  return [
    { name: 'smoke_inference', kind: 'llm_inference', reads: [], after: [], phase: 'smoke', gate: true, params: [...PROMPTED, 'smoke'], included: smokeEnabled },
    { name: 'inference', kind: 'llm_inference', reads: [], after: ['smoke_inference'], phase: 'full', gate: false, params: PROMPTED, included: (s) => !s.smokeOnly },
    { name: 'scoring', kind: 'scoring', reads: ['inference'], after: [], phase: null, gate: false, params: ['labels'], included: (s) => !s.smokeOnly },
    { name: 'report', kind: 'report', reads: ['scoring'], after: [], phase: null, gate: false, params: [], included: (s) => !s.smokeOnly },
  ];
}

/** A method fitted on the train split: its fit (the method's own section is its parameters), then scoring and the report as for any method. */
function fittedTable(): readonly StageDefinition[] {
  return [
    { name: 'fit', kind: 'fit', reads: [], after: [], phase: 'full', gate: false, params: [METHOD_SECTION, 'labels', 'sample', 'split'], included: runsInFull },
    { name: 'scoring', kind: 'scoring', reads: ['fit'], after: [], phase: null, gate: false, params: ['labels'], included: runsInFull },
    { name: 'report', kind: 'report', reads: ['scoring'], after: [], phase: null, gate: false, params: [], included: runsInFull },
  ];
}

/** The parameters a stage's key hashes: its config sections, less the where-it-runs settings. */
export function stageParams(def: Pick<StageDefinition, 'params'>, started: Pick<StartedFacts, 'method' | 'config'>): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const name of def.params) {
    const section = name === METHOD_SECTION ? started.method : name;
    const value = started.config[section] ?? null;
    const drop = WHERE_IT_RUNS[section];
    params[section] = drop && value !== null && typeof value === 'object' ? Object.fromEntries(Object.entries(value).filter(([k]) => !drop.includes(k))) : value;
  }
  return params;
}

/**
 * sha256 of what the stage's output depends on. Files named by path in the config (a chat template,
 * a codebook) count by path here; a worker reuses an answer only for the byte-identical prompt, so
 * a file changed behind the same path cannot bring back a stale answer.
 */
export function stageKey(def: Pick<StageDefinition, 'name' | 'kind' | 'params'>, started: StartedFacts, readKeys: string[], codeRecords: StageCodeRecords = STAGE_CODE): string {
  const payload = canonicalJson({
    kind: def.kind,
    method: started.method,
    params: stageParams(def, started),
    reads: readKeys,
    dataHashes: started.dataHashes,
    code: codeVersionOf(def, started.method, codeRecords),
  });
  return createHash('sha256').update(payload).digest('hex');
}

/** The version of the code a stage's output depends on: the method's own for a model or fit stage, the shared one for scoring and the report. */
function codeVersionOf(def: Pick<StageDefinition, 'name' | 'kind'>, method: string, records: StageCodeRecords): string {
  switch (def.kind) {
    case 'llm_inference':
    case 'llm_input':
      return methodStageCodeVersion(methodCatalog().get(method), def.name, 'prompt', records);
    case 'fit':
      return methodStageCodeVersion(methodCatalog().get(method), def.name, 'fit', records);
    case 'scoring':
    case 'report':
      return stageCodeVersion(def.name, records);
  }
}

/**
 * The attempt's stages in table order (a table lists a stage after those it reads), each with its
 * key. codeRecords is the recorded stage code (a spec passes a re-recorded table to show what an
 * edit would move).
 */
export function stagesOf(started: StartedFacts, codeRecords: StageCodeRecords = STAGE_CODE): Stage[] {
  const table = stageTableOf(started.method);
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
      key: stageKey(def, started, reads.map((r) => r.key), codeRecords),
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
