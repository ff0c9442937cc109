import { z } from 'zod';
import { ItemDef } from '../domain';
import { eventSchema } from '../envelope';

/** What can fail, and where: the registry shows the stage of every failed run. */
export const FailureStage = z.enum(['config', 'preflight', 'smoke', 'inference', 'evaluation', 'report']);
export type FailureStage = z.infer<typeof FailureStage>;

/** Which model stage a batch belongs to: the smoke test, the predictions, or an entity-input stage (a persona summary, read by the predictions). */
export const Phase = z.enum(['smoke', 'full', 'summary']);
export type Phase = z.infer<typeof Phase>;

/** The resolved config travels as plain JSON (no file references; secrets are env var names only). */
const ResolvedConfig = z.record(z.string(), z.unknown());

/** Who asked: the user and host of a request, a cancel, or a forced request that abandoned an attempt. */
export const RequestedBy = z.object({ host: z.string(), user: z.string() }).strict();
export type RequestedBy = z.infer<typeof RequestedBy>;

export const ExperimentRequested = eventSchema(
  'experiment.requested',
  1,
  z
    .object({
      requestId: z.string().uuid(),
      /** The config file the user named, for messages only: the values are in `config`. */
      configPath: z.string(),
      config: ResolvedConfig,
      warnings: z.array(z.string()),
      force: z.boolean(),
      smokeOnly: z.boolean(),
      requestedBy: RequestedBy,
      /**
       * With `force`: a running attempt with no event in its stream for this many seconds is
       * abandoned and a new attempt starts. Absent in requests logged before it existed (the
       * planner then uses its default).
       */
      staleAfterS: z.number().positive().optional(),
    })
    .strict(),
);
export type ExperimentRequested = z.infer<typeof ExperimentRequested>;

/**
 * One stage of an experiment's plan as recorded in its events: the experiment is a small DAG of
 * stages (e.g. smoke inference, inference, scoring, report), each named in the run and keyed by a
 * hash of its own parameters, the keys of the stages it reads, the data hashes and the code
 * version. Two experiments with a stage of the same key computed the same thing: a later method
 * can reuse a completed stage by its key instead of running it again.
 */
export const StageRecord = z
  .object({
    /** Unique within the experiment, e.g. `inference`. */
    name: z.string().min(1),
    /** What runs it, e.g. `llm_inference`, `scoring`, `report`. */
    kind: z.string().min(1),
    key: z.string().min(1),
    /** Names of the stages whose results it reads. */
    reads: z.array(z.string()),
    /** For a stage whose work goes out as batches: the `phase` its events carry. */
    phase: Phase.nullable(),
  })
  .strict();
export type StageRecord = z.infer<typeof StageRecord>;

const DataFileHashes = z
  .object({ profiles: z.string(), responses: z.string(), items: z.string(), split: z.string() })
  .strict();

export const ExperimentStarted = eventSchema(
  'experiment.started',
  1,
  z
    .object({
      requestId: z.string().uuid(),
      identity: z.string(),
      /** 1 for the first run of an identity, n+1 for a forced or retried run. */
      attempt: z.number().int().positive(),
      method: z.string(),
      config: ResolvedConfig,
      configHash: z.string(),
      identityAlgorithm: z.string(),
      dataHashes: DataFileHashes,
      codeVersion: z.string(),
      runDir: z.string(),
      warnings: z.array(z.string()),
      forced: z.boolean(),
      smokeOnly: z.boolean(),
      /** The last failure of this identity, so a re-run says what failed last time. */
      previousFailure: z.object({ attempt: z.number(), stage: FailureStage, error: z.string() }).strict().nullable(),
      host: z.string(),
      /** The attempt's stages with their keys; absent in events logged before stages were recorded. */
      stages: z.array(StageRecord).optional(),
    })
    .strict(),
);
export type ExperimentStarted = z.infer<typeof ExperimentStarted>;

export const ExperimentSkipped = eventSchema(
  'experiment.skipped',
  1,
  z
    .object({
      requestId: z.string().uuid(),
      identity: z.string(),
      reason: z.enum(['already_completed', 'already_running']),
      /** The attempt that completed (or is running) and that the request refers to. */
      attempt: z.number().int().positive(),
      runDir: z.string(),
    })
    .strict(),
);
export type ExperimentSkipped = z.infer<typeof ExperimentSkipped>;

export const SplitInfo = z
  .object({
    path: z.string(),
    sha256: z.string(),
    seed: z.number(),
    testFraction: z.number(),
    train: z.number().int(),
    test: z.number().int(),
    created: z.boolean(),
  })
  .strict();
export type SplitInfo = z.infer<typeof SplitInfo>;

export const ExperimentPlanned = eventSchema(
  'experiment.planned',
  1,
  z
    .object({
      identity: z.string(),
      attempt: z.number().int().positive(),
      phase: Phase,
      batches: z.number().int().nonnegative(),
      prompts: z.number().int().nonnegative(),
      items: z.array(ItemDef),
      split: SplitInfo,
      entities: z.number().int().nonnegative(),
      groups: z.array(z.string()),
      /** Prompt tokens the prefix cache could save at best: every entity prefix computed once. */
      idealCachedTokens: z.number().int().nonnegative().nullable(),
      totalPromptTokens: z.number().int().nonnegative().nullable(),
      preflightWarnings: z.array(z.string()),
      /** Key of the stage this plan runs (see StageRecord); absent in events logged before keys were recorded. */
      stageKey: z.string().optional(),
    })
    .strict(),
);
export type ExperimentPlanned = z.infer<typeof ExperimentPlanned>;

export const ExperimentCompleted = eventSchema(
  'experiment.completed',
  1,
  z
    .object({
      identity: z.string(),
      attempt: z.number().int().positive(),
      runDir: z.string(),
      smokeOnly: z.boolean(),
      /** Key numbers for the registry (primary metric, parse failures, ...). */
      summary: z.record(z.string(), z.union([z.number(), z.null(), z.string()])),
    })
    .strict(),
);
export type ExperimentCompleted = z.infer<typeof ExperimentCompleted>;

export const ExperimentFailed = eventSchema(
  'experiment.failed',
  1,
  z
    .object({
      requestId: z.string().uuid().nullable(),
      /** Null when the run failed before its identity could be computed (bad config, missing file). */
      identity: z.string().nullable(),
      attempt: z.number().int().positive().nullable(),
      stage: FailureStage,
      error: z.string().min(1),
      /** Extra lines for the user (e.g. the smoke examples' raw outputs). */
      details: z.array(z.string()),
    })
    .strict(),
);
export type ExperimentFailed = z.infer<typeof ExperimentFailed>;

/**
 * A running attempt was stopped on purpose: by `assay cancel` (or its HTTP twin), or abandoned by a
 * `--force` request because its stream had been silent too long. Workers drop its batches, the
 * evaluator and reporter do not complete it, and the next request starts a new attempt.
 */
export const ExperimentCancelled = eventSchema(
  'experiment.cancelled',
  1,
  z
    .object({
      identity: z.string(),
      attempt: z.number().int().positive(),
      reason: z.string().min(1),
      /** `cancel` = asked for; `abandoned` = replaced by a forced request after a silence. */
      kind: z.enum(['cancel', 'abandoned']),
      by: RequestedBy,
      /** The request that abandoned it (kind `abandoned`); null for a cancel. */
      requestId: z.string().uuid().nullable(),
    })
    .strict(),
);
export type ExperimentCancelled = z.infer<typeof ExperimentCancelled>;

export const ExperimentEvent = z.discriminatedUnion('type', [
  ExperimentRequested,
  ExperimentStarted,
  ExperimentSkipped,
  ExperimentPlanned,
  ExperimentCompleted,
  ExperimentFailed,
  ExperimentCancelled,
]);
export type ExperimentEvent = z.infer<typeof ExperimentEvent>;
