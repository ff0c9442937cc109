import type { ModelCallSettings } from '@assay/contracts';
import { EntityPipeline } from './entity-pipeline';
import { openAiModelClient, type Completion, type ModelClient, type ModelClientHooks } from './model-client';
import { chooseReplica, replicaDown, replicaOrder, workerReplicas, type WorkerReplicas } from './replicas';
import { classifyError } from './retry';
import { MetricsServerQueue } from './server-queue';
import { probeServer, ServerLiveness, type LivenessSettings, type ProbeOutcome } from './server-liveness';
import { ServerAnswerError, VllmServer } from './vllm-server';
import { CacheBlockSizeReader, PrefixCacheCounterReader, type PrefixCacheCounters, type ServerCacheReading } from './server-cache-counters';
import { IdealCacheCounter } from './ideal-cache';

/**
 * Which replicas are down, as far as this worker knows: a replica is down from a call that got no
 * answer from it until its /health answers again (probed in the background every `recheckMs`).
 */
export class ReplicaHealth {
  private readonly down = new Map<string, string>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly probe: (replica: string) => Promise<ProbeOutcome>,
    private readonly recheckMs: number,
  ) {}

  isDown(replica: string): boolean {
    return this.down.has(replica);
  }

  /** Marks a replica down; true when it was up until now (worth a log line). */
  markDown(replica: string, reason: string): boolean {
    if (this.down.has(replica)) return false;
    this.down.set(replica, reason);
    const recheck = (): void => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        void this.probe(replica).then((outcome) => (outcome.answered ? this.down.delete(replica) : recheck()));
      }, this.recheckMs);
      timer.unref();
      this.timers.add(timer);
    };
    recheck();
    return true;
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

export interface ModelEndpointsHooks extends Omit<ModelClientHooks, 'liveness'> {
  /** A replica stopped answering: its entities go to their next replica until it answers again. */
  onReplicaDown?(replica: string, reason: string): void;
  /** The server-queue reader's warnings (said once per server). */
  onQueueWarning?(message: string): void;
}

/** One entity's way to the model: its client (replica chosen per call) and the pipeline of its replica. */
export interface EntityRoute {
  client: ModelClient;
  pipeline: EntityPipeline;
  /** The replica serving the entity as the batch starts. */
  replica: string;
}

/**
 * The model servers one worker process talks to: per replica a liveness watch, a pipeline (whose
 * server-queue signal is that replica's own vllm:num_requests_waiting) and a health state, shared
 * by every run; and per run (settings and hooks) a router that sends each entity to its replica.
 */
export class ModelEndpoints {
  private readonly liveness = new Map<string, ServerLiveness>();
  private readonly pipelines = new Map<string, EntityPipeline>();
  private readonly counterReaders = new Map<string, PrefixCacheCounterReader>();
  private readonly blockSizeReaders = new Map<string, CacheBlockSizeReader>();
  private readonly verified = new Map<string, true>();
  readonly health: ReplicaHealth;

  constructor(
    private readonly livenessSettings: LivenessSettings,
    private readonly env: NodeJS.ProcessEnv = process.env,
    recheckMs = 1000,
  ) {
    this.health = new ReplicaHealth((replica) => probeServer(replica, livenessSettings.probeTimeoutMs), recheckMs);
  }

  /** A router for one run's calls; throws (naming the variable) when the worker's environment is wrong. */
  router(settings: ModelCallSettings, hooks: ModelEndpointsHooks = {}): ReplicaRouter {
    return new ReplicaRouter(settings, workerReplicas(settings, this.env), this, hooks, this.env);
  }

  livenessOf(replica: string): ServerLiveness {
    let watch = this.liveness.get(replica);
    if (!watch) {
      const { probeTimeoutMs } = this.livenessSettings;
      watch = new ServerLiveness(() => probeServer(replica, probeTimeoutMs), this.livenessSettings);
      this.liveness.set(replica, watch);
    }
    return watch;
  }

  /** One reader of a server's prefix-cache counters per worker: a server without them is said once (to the run that first finds out). */
  countersOf(replica: string, apiKey: string | null, onWarning: (message: string) => void): PrefixCacheCounterReader {
    let reader = this.counterReaders.get(replica);
    if (!reader) {
      reader = new PrefixCacheCounterReader(new VllmServer(replica, apiKey), onWarning);
      this.counterReaders.set(replica, reader);
    }
    return reader;
  }

  /** A server's cache block size, read once per worker: one not exposing it is said once (to the run that first finds out). */
  blockSizeOf(replica: string, apiKey: string | null, onWarning: (message: string) => void): Promise<number | null> {
    let reader = this.blockSizeReaders.get(replica);
    if (!reader) {
      reader = new CacheBlockSizeReader(new VllmServer(replica, apiKey), onWarning);
      this.blockSizeReaders.set(replica, reader);
    }
    return reader.read();
  }

  pipelineOf(replica: string, concurrency: number, onWarning: (message: string) => void): EntityPipeline {
    const id = `${replica}|${concurrency}`;
    let pipeline = this.pipelines.get(id);
    if (!pipeline) {
      pipeline = new EntityPipeline(concurrency, { serverQueue: new MetricsServerQueue(replica, onWarning) });
      this.pipelines.set(id, pipeline);
    }
    return pipeline;
  }

  /** Remembers a replica checked to serve a model, so it is asked once per worker. */
  isVerified(replica: string, model: string): boolean {
    return this.verified.has(`${replica}|${model}`);
  }

  setVerified(replica: string, model: string): void {
    this.verified.set(`${replica}|${model}`, true);
  }

  close(): void {
    this.health.close();
    for (const w of this.liveness.values()) w.close();
  }
}

/** Sends each entity's calls to its replica (consistent hashing), failing over while that one is down. */
export class ReplicaRouter {
  private readonly clients = new Map<string, ModelClient>();
  /** Each server's prefix-cache counters when this router (one run's calls) first used it. */
  private readonly countersAtStart = new Map<string, Promise<PrefixCacheCounters | null>>();
  /** Token counts for the ideal hit rate (one tokenizer: every replica serves the same model). */
  readonly ideal: IdealCacheCounter;

  constructor(
    private readonly settings: ModelCallSettings,
    readonly replicas: WorkerReplicas,
    private readonly endpoints: ModelEndpoints,
    private readonly hooks: ModelEndpointsHooks,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    for (const replica of replicas.replicas) {
      const counters = endpoints.countersOf(replica, VllmServer.apiKeyFrom(settings.apiKeyEnv, env, 'worker'), (message) => hooks.onWarning?.(message));
      this.clients.set(replica, openAiModelClient({ ...settings, baseUrl: replica }, env, { ...hooks, liveness: endpoints.livenessOf(replica), prefixCacheCounters: counters }));
    }
    this.ideal = new IdealCacheCounter((text, addSpecialTokens) => this.clients.get(chooseReplica(replicas.replicas, (r) => endpoints.health.isDown(r)).replica)!.countTokens(text, addSpecialTokens));
  }

  /**
   * A worker's own endpoint (ASSAY_MODEL_BASE_URL) was not seen by pre-flight: before its first
   * call, check that it serves the run's model, and fail with the replica named if not. A replica
   * that does not answer is left to the calls (they retry, and fail over where there is another).
   */
  async verify(env: NodeJS.ProcessEnv = process.env): Promise<void> {
    if (this.replicas.source !== 'ASSAY_MODEL_BASE_URL') return;
    const wanted = this.settings.loraAdapter ?? this.settings.id;
    const apiKey = VllmServer.apiKeyFrom(this.settings.apiKeyEnv, env, 'worker');
    await Promise.all(
      this.replicas.replicas.map(async (replica) => {
        if (this.endpoints.isVerified(replica, wanted)) return;
        let served: string[];
        try {
          served = (await new VllmServer(replica, apiKey).models(10_000)).map((m) => m.id);
        } catch (error) {
          if (error instanceof ServerAnswerError && error.status === null) return;
          throw new Error(`ASSAY_MODEL_BASE_URL replica ${replica}: ${(error as Error).message}`);
        }
        if (!served.includes(wanted)) throw new Error(`ASSAY_MODEL_BASE_URL replica ${replica} does not serve the run's model '${wanted}'; it serves: ${served.join(', ') || '(nothing)'}`);
        this.endpoints.setVerified(replica, wanted);
      }),
    );
  }

  /**
   * Reads the server's prefix-cache counters the first time this run's work on it begins (later
   * calls return that first reading): the start of the run's delta, should the answers carry no
   * cachedTokens. Call it before the batch's first model call.
   */
  beginCacheCounters(replica: string): Promise<PrefixCacheCounters | null> {
    let reading = this.countersAtStart.get(replica);
    if (!reading) {
      const client = this.clients.get(replica);
      reading = client?.prefixCacheCounters ? client.prefixCacheCounters() : Promise.resolve(null);
      this.countersAtStart.set(replica, reading);
    }
    return reading;
  }

  /** The server's counters from the start of this run's work on it to now; null when either reading is missing. */
  async serverCacheReading(replica: string): Promise<ServerCacheReading | null> {
    const before = await this.beginCacheCounters(replica);
    const client = this.clients.get(replica);
    const after = before && client?.prefixCacheCounters ? await client.prefixCacheCounters() : null;
    return before && after ? { server: replica, before, after } : null;
  }

  /** The server's cache block size in tokens (for the ideal hit rate); null when it does not say. */
  cacheBlockSize(replica: string): Promise<number | null> {
    return this.endpoints.blockSizeOf(replica, VllmServer.apiKeyFrom(this.settings.apiKeyEnv, this.env, 'worker'), (message) => this.hooks.onWarning?.(message));
  }

  /** The route of one entity's batch. */
  forEntity(entityId: string): EntityRoute {
    const order = replicaOrder(entityId, this.replicas.replicas);
    const health = this.endpoints.health;
    const pick = () => chooseReplica(order, (r) => health.isDown(r));
    const onDown = (replica: string, reason: string): void => {
      if (health.markDown(replica, reason)) this.hooks.onReplicaDown?.(replica, reason);
    };
    const replica = pick().replica;
    // The batch warms its prefix on `replica` (runBatch sends its first prompt alone). A replica it
    // fails over to has not seen the prefix: there too the first call goes alone and the others
    // wait for it, so they find the prefix cached instead of all prefilling it at once.
    const warmed = new Map<string, Promise<unknown>>([[replica, Promise.resolve()]]);
    const client: ModelClient = {
      complete: async (prompt, signal): Promise<Completion> => {
        let { replica, failoverFrom } = pick();
        const gate = warmed.get(replica);
        if (gate) {
          await gate;
          ({ replica, failoverFrom } = pick());
        }
        let first: (() => void) | null = null;
        if (!warmed.has(replica)) warmed.set(replica, new Promise<void>((resolve) => (first = resolve)));
        try {
          const completion = await this.clients.get(replica)!.complete(prompt, signal);
          return { ...completion, replica, ...(failoverFrom === null ? {} : { failoverFrom }) };
        } catch (raw) {
          const error = Object.assign(classifyError(raw), { replica, ...(failoverFrom === null ? {} : { failoverFrom }) });
          if (replicaDown(error) && !signal?.aborted) onDown(replica, error.message);
          throw error;
        } finally {
          (first as (() => void) | null)?.();
        }
      },
      countTokens: (text, addSpecialTokens) => this.clients.get(pick().replica)!.countTokens(text, addSpecialTokens),
      prefixCacheCounters: () => this.clients.get(pick().replica)!.prefixCacheCounters!(),
    };
    return { client, replica, pipeline: this.endpoints.pipelineOf(replica, this.settings.concurrency, (m) => this.hooks.onQueueWarning?.(m)) };
  }
}
