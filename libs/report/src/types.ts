import type { ItemKind, ParseStatus } from '@assay/contracts';
import type { EvaluationResult } from '../../evaluation/src/types';

/** One (test entity, item) of the LLM method, assembled from the event log by the reporter. */
export interface PredictionRow {
  entityId: string;
  group: string;
  item: string;
  kind: ItemKind;
  min: number;
  max: number;
  actual: number;
  predicted: number | null;
  absError: number | null;
  parseStatus: ParseStatus;
  parseError: string | null;
  outlier: boolean;
  promptId: string;
  /** Model input text = prefixes.get(prefixId) + suffix: an entity's prompts share one prefix, stored once. */
  prefixId: string;
  suffix: string;
  outputText: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
  cachedTokens: number | null;
  latencyMs: number | null;
  attempts: number;
  worker: string | null;
  inferenceError: string | null;
  /** The server's reason for ending the answer: 'stop', 'length' (cut off at max_tokens), ...; null without an answer. */
  finishReason: string | null;
  /** What the call asked for: the batch request's model settings (the same for every prompt of a run); null for a method fitted without a model (a baseline). */
  call: ModelCall | null;
  /**
   * What a method fitted without a model used for this prediction (its metadata: e.g. kNN's
   * neighbour ids and their answers, the train mean and its n); null for a model call.
   */
  fitted: Record<string, unknown> | null;
  /** The server base URL the call went to. */
  replica: string | null;
  /** The entity's own (hashed) replica when it did not answer and the call went to `replica` instead; null otherwise. */
  failoverFrom: string | null;
  /** Wall clock of the call (first attempt sent, last one ended); null in logs from before they were recorded. */
  startedAt: string | null;
  finishedAt: string | null;
}

/**
 * A report without its rows: what a writer takes along with a RowGroups source (see
 * writeRunDirectory), so the rows of a large run are never all in memory at once.
 */
export type RunWideReport = Omit<RunReport, 'rows' | 'prefixes'>;

/** The model and sampling settings one call was made with. */
export interface ModelCall {
  model: string;
  loraAdapter: string | null;
  temperature: number;
  maxTokens: number;
  seed: number;
  stop: string[];
  guidedJson: boolean;
}

export interface DataFileRef {
  role: string;
  path: string;
  sha256: string;
}

export interface SplitRef {
  path: string;
  sha256: string;
  seed: number;
  testFraction: number;
  train: number;
  test: number;
}

export interface RunScope {
  dataFiles: DataFileRef[];
  split: SplitRef;
  entities: number;
  items: number;
  groups: string[];
}

export interface RunModel {
  id: string;
  mode: string;
  adapter: string | null;
  chatTemplate: string;
  temperature: number;
  maxTokens: number;
}

export interface CacheStats {
  hitRate: number | null;
  idealHitRate: number | null;
  promptTokens: number;
  cachedTokens: number;
  /** Where hitRate comes from (absent in runs evaluated before the fallback existed: the answers' usage). */
  source?: 'usage' | 'server-counters' | 'unknown';
  /** server-counters only: the servers counted more prompt tokens than the run sent. */
  shared?: boolean;
}

/** Another run on the same data + split, from the registry. */
export interface ComparisonEntry {
  identity: string;
  method: string;
  status: string;
  primary: number | null;
}

/** The best earlier run on the same data and split, and this run's paired difference to it. */
export interface BestPrevious {
  identity: string;
  method: string;
  /** Its primary metric (normalized_mae). */
  primary: number | null;
  /** This run - that run on normalized_mae (negative: this run is better); null when not paired. */
  delta: number | null;
  ci: { low: number; high: number } | null;
  p: number | null;
  /** Test entities in the paired bootstrap. */
  entities: number;
  /** Why there is no paired difference, when there is none. */
  note: string | null;
}

/** A stage whose outputs came from another experiment's stage of the same key (no model calls). */
export interface StageReuse {
  stage: string;
  stageKey: string;
  /** The experiment whose answers were reused. */
  fromIdentity: string;
  batches: number;
  prompts: number;
}

/** Everything the run directory is made of: plain data, so the tree is a pure function of it. */
export interface RunReport {
  identity: string;
  method: string;
  /** The method's own name for this run, from its settings (MethodDefinition.label): "few-shot (k=4, nearest)". */
  methodLabel: string;
  attempt: number;
  /** Which evaluation of the attempt's inference results this tree shows (round 1: made during the run). */
  evaluationRound: { round: number; evaluatorVersion: string; evaluatorCodeVersion: string; evaluatedAt: string; reason: string | null };
  /** Resolved config, already in canonical key order. */
  configYaml: string;
  config: Record<string, unknown>;
  /** Written as-is to metadata.json (code version, timestamps taken from events, hosts, hashes, warnings). */
  metadata: Record<string, unknown>;
  /** What the pre-flight warned about (data, split, config, prompt length), said in README.txt and review.txt. */
  warnings: string[];
  scope: RunScope;
  /** null for a method fitted on the train split (a baseline): no model, no prefix cache. */
  model: RunModel | null;
  purpose: string | null;
  evaluation: EvaluationResult;
  cache: CacheStats;
  comparison: ComparisonEntry[];
  /** Set by the reporter from the log (null: no earlier completed run on the same data); absent in reports built without it. */
  bestPrevious?: BestPrevious | null;
  /** Stages answered from the stage cache, by stage and source experiment; absent or empty when nothing was reused. */
  stagesReused?: StageReuse[];
  /** prefixId -> prefix text. */
  prefixes: Map<string, string>;
  /** Any order: the writer sorts. */
  rows: PredictionRow[];
  /**
   * Per entity, the call of a method's entity-input stage (a persona summary) whose answer its
   * prompts read; written as `file` in each of the entity's folders. Absent for other methods.
   */
  entityInputs?: Map<string, EntityInputCall>;
}

/** One entity-input call (e.g. a persona summary): what went in, what came back, and how. */
export interface EntityInputCall {
  entityId: string;
  /** File name under the entity's folder, e.g. persona_summary.txt. */
  file: string;
  stage: string;
  input: string;
  outputText: string | null;
  error: string | null;
  finishReason: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
  cachedTokens: number | null;
  latencyMs: number | null;
  attempts: number;
  worker: string | null;
  call: ModelCall;
}

export interface WriteResult {
  /** How many files the tree has. */
  files: number;
  /** sha256 over every file's path and content (see tree-hash.ts), from the bytes as written. */
  treeHash: string;
  /** Files hard-linked from an identical earlier tree instead of written (WriteOptions.reuseUnchangedFrom). */
  linkedFiles: number;
  /** Written over a staging tree (WriteOptions.prewritten): the files found there that this tree does not have, deleted. */
  removedLeftovers: string[];
}
