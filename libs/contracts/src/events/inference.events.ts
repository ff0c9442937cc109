import { z } from 'zod';
import { eventSchema } from '../envelope';
import { Phase } from './experiment.events';

/** What the worker needs to call the model; copied from the resolved config, never a secret. */
export const ModelCallSettings = z
  .object({
    id: z.string(),
    /** The first (or only) server of model.base_url. */
    baseUrl: z.string(),
    /** model.base_url's replicas when it lists several (baseUrl is the first); absent for one server. */
    replicas: z.array(z.string()).min(2).optional(),
    apiKeyEnv: z.string().nullable(),
    temperature: z.number(),
    maxTokens: z.number().int().positive(),
    seed: z.number().int(),
    stop: z.array(z.string()),
    guidedJson: z.boolean(),
    loraAdapter: z.string().nullable(),
    requestTimeoutS: z.number().positive(),
    maxRetries: z.number().int().nonnegative(),
    concurrency: z.number().int().positive(),
  })
  .strict();
export type ModelCallSettings = z.infer<typeof ModelCallSettings>;

export const PromptRequest = z
  .object({
    promptId: z.string(),
    group: z.string(),
    item: z.string(),
    /** The text after the entity's shared prefix: the model sees prefix + suffix, chat template applied. */
    suffix: z.string(),
    /** Ground truth rides along for the evaluator; the worker never puts it in a prompt. */
    actual: z.number(),
  })
  .strict();
export type PromptRequest = z.infer<typeof PromptRequest>;

/** Which run, phase and entity batch an inference event is about. */
const BatchRef = {
  identity: z.string(),
  attempt: z.number().int().positive(),
  phase: Phase,
  batchId: z.string(),
  entityId: z.string(),
};

/** One entity's prompts: the prefix is stored once, so events stay far below NATS's 1 MB limit. */
export const InferenceBatchRequested = eventSchema(
  'inference.batch.requested',
  1,
  z
    .object({
      ...BatchRef,
      /** Position of this batch in the planned order (entity order), for the worker's logs. */
      index: z.number().int().nonnegative(),
      prefix: z.string(),
      prompts: z.array(PromptRequest).min(1),
      // Optional (absent in older requests), for the ideal hit rate's first-prompt bound:
      /** Characters of the prefix's start that another entity's prefix of the same plan shares. */
      prefixSharedChars: z.number().int().nonnegative().optional(),
      /** Prompts of this batch sent earlier in the attempt (the smoke test's), which the cache may hold whole. */
      promptsSentBefore: z.array(z.string()).optional(),
      model: ModelCallSettings,
      /** Few-shot methods: the train entities shown as worked examples in `prefix`, in prompt order. */
      examples: z.array(z.string()).optional(),
      /** Key of the stage this batch belongs to (as in experiment.planned): a worker reuses a completed batch of the same key. */
      stageKey: z.string().optional(),
    })
    .strict(),
);
export type InferenceBatchRequested = z.infer<typeof InferenceBatchRequested>;

export const PromptResult = z
  .object({
    promptId: z.string(),
    status: z.enum(['ok', 'error']),
    outputText: z.string().nullable(),
    /** After retries were exhausted, or a 4xx: the server's message. */
    error: z.string().nullable(),
    finishReason: z.string().nullable(),
    promptTokens: z.number().int().nonnegative().nullable(),
    completionTokens: z.number().int().nonnegative().nullable(),
    cachedTokens: z.number().int().nonnegative().nullable(),
    latencyMs: z.number().nonnegative(),
    attempts: z.number().int().positive(),
    // Optional: logs written before these were recorded lack them, and must still parse and replay.
    /** Wall clock (ISO 8601, UTC) when the first attempt was sent and when the last one ended. */
    startedAt: z.string().datetime({ offset: true }).optional(),
    finishedAt: z.string().datetime({ offset: true }).optional(),
    /** The model server the call went to (its base URL). */
    replica: z.string().optional(),
    /** The entity's preferred replica when it did not answer and this call failed over to `replica`. */
    failoverFrom: z.string().optional(),
    /**
     * Set when no model call was made for this prompt in this attempt: the answer is the one an
     * earlier attempt got for the byte-identical prompt, recorded in that attempt's
     * inference.completed event: an attempt of this experiment that failed at inference, or
     * (with `identity`) a completed batch of the same stage key in another experiment. Absent on
     * results of a model call.
     */
    reusedFrom: z
      .object({
        /** The experiment whose batch is reused (absent: this experiment's earlier attempt). */
        identity: z.string().optional(),
        attempt: z.number().int().positive(),
        eventId: z.string().uuid(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type PromptResult = z.infer<typeof PromptResult>;

export const InferenceCompleted = eventSchema(
  'inference.completed',
  1,
  z
    .object({
      ...BatchRef,
      worker: z.string(),
      /** Tokens of the shared prefix (server's /tokenize), null where the server has none: gives the ideal cache reuse. */
      prefixTokens: z.number().int().nonnegative().nullable(),
      /** One per prompt of the batch, in the batch's order; a failed prompt is kept with its error. */
      results: z.array(PromptResult).min(1),
      // Optional: logs written before these were recorded lack them, and must still parse and replay.
      /**
       * Where the answers carry no cachedTokens: the server's prefix-cache counters (vLLM's
       * vllm:prefix_cache_hits_total / _queries_total, in tokens) when this worker began its work
       * for the run on that server, and after this batch. Server-wide: other clients count too.
       */
      serverCache: z
        .object({
          server: z.string(),
          before: z.object({ hits: z.number().nonnegative(), queries: z.number().nonnegative() }).strict(),
          after: z.object({ hits: z.number().nonnegative(), queries: z.number().nonnegative() }).strict(),
        })
        .strict()
        .optional(),
      /** The most prompt tokens of this batch any dispatch order could find cached (see idealBatchCachedTokens); null when not countable. */
      idealCachedTokens: z.number().int().nonnegative().nullable().optional(),
    })
    .strict(),
);
export type InferenceCompleted = z.infer<typeof InferenceCompleted>;

/** A batch that could not be run at all (the model is gone, a 4xx on every prompt). */
export const InferenceFailed = eventSchema(
  'inference.failed',
  1,
  z
    .object({
      ...BatchRef,
      worker: z.string(),
      error: z.string().min(1),
    })
    .strict(),
);
export type InferenceFailed = z.infer<typeof InferenceFailed>;

export const InferenceEvent = z.discriminatedUnion('type', [InferenceBatchRequested, InferenceCompleted, InferenceFailed]);
export type InferenceEvent = z.infer<typeof InferenceEvent>;
