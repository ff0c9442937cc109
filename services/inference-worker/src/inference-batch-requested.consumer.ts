import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { causedBy, createEvent, experimentStream, Subjects, type InferenceBatchRequested, type InferenceCompleted, type ModelCallSettings, type PromptResult, errorMessage } from '@assay/contracts';
import { EventStore, findOneEvent, isProcessed } from '@assay/event-store';
import { attemptEnd, describeEnd, mergeReused, reusableResults, type Reusable } from '@assay/experiments';
import { batchIdeal, committedBatchProgress, livenessFromEnv, ModelEndpoints, runBatch, WorkAbortedError, type EntityRoute, type ReplicaRouter } from '@assay/inference';
import { AttemptWatch, ProgressReporter, RunLog } from '@assay/messaging';
import { OnEvent, ServiceInfo } from '@assay/messaging/nest';

type ProgressKey = Parameters<ProgressReporter['add']>[0];

/**
 * inference.batch.requested → the model answers every prompt of one entity (first alone, to
 * warm the prefix cache, then the rest; the EntityPipeline overlaps the next entities' warm-ups
 * with this one's fan-out) → inference.completed, with exact inputs referenced,
 * raw outputs, tokens, latency and attempts. Model calls happen before the transaction; if the
 * worker dies before committing, the batch is redelivered and run again, and nothing of the
 * first try reaches the log. A batch of an attempt that has ended (cancelled, failed) is acked
 * without model calls, and the attempt's end aborts its calls in flight (AttemptWatch).
 */
@Controller()
export class InferenceBatchRequestedConsumer {
  /** This worker's model servers (one, its own ASSAY_MODEL_BASE_URL, or the config's replicas). */
  private readonly endpoints = new ModelEndpoints(livenessFromEnv(process.env));
  private readonly routers = new Map<string, ReplicaRouter>();

  constructor(
    private readonly store: EventStore,
    private readonly info: ServiceInfo,
    private readonly runLog: RunLog,
    private readonly progress: ProgressReporter,
    private readonly attempts: AttemptWatch,
  ) {}

  @OnEvent(Subjects['inference.batch.requested'])
  async onInferenceBatchRequested(@Payload() event: InferenceBatchRequested): Promise<void> {
    const d = event.data;
    // A redelivery of a batch whose results were committed (the ack was lost): no model calls again.
    if (await this.store.read((sql) => isProcessed(sql, 'inference-worker', event.id))) return;
    const stream = experimentStream(d.identity);
    const { runDir, forced } = await this.startedOf(d.identity, d.attempt);
    const ended = await this.store.read((sql) => attemptEnd(sql, d.identity, d.attempt));
    if (ended) {
      this.attempts.end(d.identity, d.attempt, describeEnd(ended));
      this.runLog.write(runDir, d.attempt, `${this.info.instance}: ${d.phase} batch ${d.index + 1} dropped: the attempt ended (${describeEnd(ended)})`);
      return;
    }
    const work = this.attempts.watch(d.identity, d.attempt);
    try {
      await this.run(event, stream, runDir, forced, work.signal);
    } catch (error) {
      if (!(error instanceof WorkAbortedError)) throw error;
      this.runLog.write(runDir, d.attempt, `${this.info.instance}: ${d.phase} batch ${d.index + 1} (entity ${JSON.stringify(d.entityId)}) ${error.message}: its calls were stopped, nothing recorded`);
    } finally {
      work.release();
    }
  }

  private async run(event: InferenceBatchRequested, stream: string, runDir: string, forced: boolean, signal: AbortSignal): Promise<void> {
    const d = event.data;
    const key = { identity: d.identity, attempt: d.attempt, phase: d.phase };
    const began = performance.now();
    if (d.index === 0) this.runLog.write(runDir, d.attempt, `${this.info.instance}: step 1: ${d.phase} batch 1 (entity ${JSON.stringify(d.entityId)}, ${d.prompts.length} prompts) started`);
    // Answers an attempt that failed at inference, or another experiment's stage of the same key, got for the same prompts are not asked for again.
    const reuse = await this.store.read((sql) => reusableResults(sql, d, forced));
    if (reuse.results.size === d.prompts.length) {
      // Every answer is reused: no model server is needed for this batch (nothing sent, no ideal to bound).
      await this.commit(event, stream, runDir, began, mergeReused(d.prompts, reuse.results, []), reuse.prefixTokens, reuse, {});
      return;
    }

    let route: EntityRoute;
    let router: ReplicaRouter;
    try {
      router = this.routerFor(d.model, runDir, key);
      await router.verify();
      route = router.forEntity(d.entityId);
    } catch (error) {
      const failed = await this.store.handle('inference-worker', event.id, async () => [
        {
          stream,
          expected: 'any',
          events: [createEvent('inference.failed', { ...key, batchId: d.batchId, entityId: d.entityId, worker: this.info.instance, error: errorMessage(error) }, causedBy(event, stream, 'inference-worker', this.info.codeVersion))],
        },
      ]);
      const counted = committedBatchProgress(failed, { failedPrompts: d.prompts.length });
      if (counted) this.progress.add(key, counted);
      return;
    }
    // The server's prefix-cache counters at the start of this run's work on it (read once per run).
    const countersAtStart = router.beginCacheCounters(route.replica);
    const [prefixTokens, idealCounts, blockSize, fresh] = await Promise.all([
      reuse.prefixTokens ?? route.client.countTokens(d.prefix),
      router.ideal.counts(d),
      router.cacheBlockSize(route.replica),
      runBatch(d.prefix, d.prompts.filter((p) => !reuse.results.has(p.promptId)), route.client, {
        pipeline: route.pipeline,
        signal,
        retry: { maxRetries: d.model.maxRetries, baseDelayMs: 500, maxDelayMs: 20_000 },
        replica: route.replica,
        progress: {
          // Prompts count as done when their batch's outcome commits (below), so a redelivery never counts twice.
          onPromptDone: () => undefined,
          onRetry: (promptId, error, retry) => {
            this.progress.add(key, { retries: 1 });
            this.runLog.write(runDir, d.attempt, `${this.info.instance}: retry ${retry} of prompt ${promptId} (entity ${JSON.stringify(d.entityId)}): ${error}`);
          },
        },
      }),
    ]);
    const results = mergeReused(d.prompts, reuse.results, fresh);
    await countersAtStart;
    // Answers without cachedTokens: the server's counters stand in for them (see cacheUsage).
    const serverCache = fresh.some((r) => r.status === 'ok' && r.cachedTokens === null) ? await router.serverCacheReading(route.replica) : null;
    // Reused answers were not sent: they have no place in this batch's bound (see cacheUsage).
    const idealCachedTokens = batchIdeal(d, prefixTokens, idealCounts, results.map((r) => (r.reusedFrom === undefined ? r : { ...r, promptTokens: null })), blockSize);
    await this.commit(event, stream, runDir, began, results, prefixTokens, reuse, { idealCachedTokens, ...(serverCache ? { serverCache } : {}) });
  }

  private async commit(
    event: InferenceBatchRequested,
    stream: string,
    runDir: string,
    began: number,
    results: PromptResult[],
    prefixTokens: number | null,
    reuse: Reusable,
    cache: { idealCachedTokens?: number | null; serverCache?: NonNullable<InferenceCompleted['data']['serverCache']> },
  ): Promise<void> {
    const d = event.data;
    const key = { identity: d.identity, attempt: d.attempt, phase: d.phase };
    const ctx = causedBy(event, stream, 'inference-worker', this.info.codeVersion);
    // Every prompt failing means the batch could not run at all (model gone, server refusing): say so as such.
    const outcomeEvent = results.every((r) => r.status === 'error')
      ? createEvent('inference.failed', { ...key, batchId: d.batchId, entityId: d.entityId, worker: this.info.instance, error: `every prompt failed; first error: ${results[0].error}` }, ctx)
      : createEvent('inference.completed', { ...key, batchId: d.batchId, entityId: d.entityId, worker: this.info.instance, prefixTokens, results, ...cache }, ctx);
    const outcome = await this.store.handle('inference-worker', event.id, async () => [{ stream, expected: 'any', events: [outcomeEvent] }]);
    const counted = committedBatchProgress(outcome, results);
    if (counted) this.progress.add(key, counted);
    if (!outcome.duplicate) {
      const failures = results.filter((r) => r.status === 'error').length;
      const failedOver = results.filter((r) => r.reusedFrom === undefined && r.failoverFrom !== undefined);
      const seconds = (performance.now() - began) / 1000;
      this.runLog.write(
        runDir,
        d.attempt,
        `${this.info.instance}: ${d.phase} batch ${d.index + 1} (entity ${JSON.stringify(d.entityId)}): ${results.length} prompts in ${seconds.toFixed(2)} s` +
          (failures ? `, ${failures} failed after retries` : '') +
          (reuse.results.size ? `, ${reuse.results.size} answered by ${reuse.fromIdentity ? `experiment ${reuse.fromIdentity} (same stage key)` : 'an earlier attempt'} (not asked again)` : '') +
          (failedOver.length ? `, ${failedOver.length} failed over from its replica ${failedOver[0].failoverFrom} to ${[...new Set(failedOver.map((r) => r.replica))].join(', ')}` : ''),
      );
    }
  }

  private routerFor(model: ModelCallSettings, runDir: string, key: ProgressKey): ReplicaRouter {
    // Per attempt too: a re-run (--force) of the same run directory says its warnings in its own log.
    const id = `${JSON.stringify(model)}|${runDir}|${key.attempt}|${key.phase}`;
    let router = this.routers.get(id);
    if (!router) {
      const say = (message: string) => this.runLog.write(runDir, key.attempt, `${this.info.instance}: ${message}`);
      router = this.endpoints.router(model, {
        onWarning: say,
        onQueueWarning: say,
        onServerUnresponsive: (message) => {
          say(`${message}; the calls are retried`);
          this.progress.say(key, `${message}; retrying`);
        },
        onReplicaDown: (replica, reason) => say(`replica ${replica} does not answer (${reason}): its entities fail over to their next replica until it answers /health again`),
      });
      this.routers.set(id, router);
    }
    return router;
  }

  /** The attempt's run directory and whether it was forced (no stage reuse), from its experiment.started. */
  private async startedOf(identity: string, attempt: number): Promise<{ runDir: string; forced: boolean }> {
    const cacheKey = `${identity}#${attempt}`;
    const known = this.runDirs.get(cacheKey);
    if (known) return known;
    const started = await this.store.read((sql) => findOneEvent(sql, experimentStream(identity), 'experiment.started', { attempt }));
    const facts = { runDir: started.data.runDir, forced: started.data.forced };
    this.runDirs.set(cacheKey, facts);
    return facts;
  }

  private readonly runDirs = new Map<string, { runDir: string; forced: boolean }>();
}
