import { causedBy, createEvent, experimentStream, Subjects, type AssayEvent, type InferenceBatchRequested, type InferenceCompleted, type PromptResult } from '@assay/contracts';
import { EventStore, readTypedEvents } from '@assay/event-store';
import { connectJetStream, DurableConsumerRunner, ensureEventStream, JetStreamPublisher, natsSettings, type JetStreamHandle } from '@assay/messaging';
import { createTestDatabase } from '../../testing/src/fixtures/database';
import { startSimulator, type RunningSimulator } from '../../testing/src/simulator';
import { openAiModelClient, type ModelClient } from './model-client';
import { runBatch } from './run-batch';
import { EntityPipeline } from './entity-pipeline';
import { entityBatch, FAST_GPU_LATENCY, modelSettings, SIM_MODEL } from './test-helpers';

/**
 * Several inference workers on one shared durable, as the inference-worker service runs them:
 * each batch (one entity) goes to exactly one worker, which runs it with runBatch and appends
 * inference.completed through EventStore.handle; a worker that dies before its ack loses
 * nothing and duplicates nothing.
 */

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };
const ENTITIES = 12;
const ITEMS = 8;
const SERVICE = 'inference-worker';

interface Served {
  worker: string;
  entityId: string;
  promptId: string;
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('inference workers on a shared durable (real NATS, real Postgres, simulator)', () => {
  let db: { url: string; drop: () => Promise<void> };
  let sim: RunningSimulator;
  let tag = '';
  let settings = natsSettings({});
  let handles: JetStreamHandle[] = [];
  let runners: DurableConsumerRunner[] = [];
  let store: EventStore;
  let identity = '';
  let served: Served[] = [];

  const open = async (name: string) => {
    const h = await connectJetStream(settings, name);
    handles.push(h);
    return h;
  };

  beforeAll(async () => {
    db = await createTestDatabase('assay_inference');
    sim = await startSimulator({ port: 0, models: [{ id: SIM_MODEL, maxModelLen: 8192 }], latency: FAST_GPU_LATENCY });
  });
  afterAll(async () => {
    await sim.close();
    await db.drop();
  });
  beforeEach(async () => {
    tag = `inf${Math.random().toString(36).slice(2, 8)}`;
    settings = { ...natsSettings({}), stream: `ASSAY_TEST_${tag}`, subjectPrefix: `${tag}.` };
    identity = `id-${tag}`;
    served = [];
    await ensureEventStream(await open('test-publisher'));
    // Effects go to a store that publishes nothing: the test reads the log, not the broker.
    store = await EventStore.open({ url: db.url });
    sim.resetPrefixCache();
    sim.resetStats();
  });
  afterEach(async () => {
    await Promise.allSettled(runners.map((r) => r.stop()));
    runners = [];
    await store.close();
    await handles[0].jsm.streams.delete(settings.stream);
    await Promise.all(handles.map((h) => (h.nc.isClosed() ? undefined : h.nc.close())));
    handles = [];
  });

  /** The inference-worker's handler, minus Nest: runBatch, then inference.completed exactly once per message. */
  function workerHandler(worker: string, opts: { client?: (model: InferenceBatchRequested['data']['model']) => ModelClient; beforeCommit?: (d: InferenceBatchRequested['data'], results: PromptResult[]) => Promise<void>; afterCommit?: () => Promise<void> } = {}) {
    const pipeline = new EntityPipeline(6);
    return async (event: AssayEvent) => {
      const e = event as InferenceBatchRequested;
      const d = e.data;
      const client = opts.client?.(d.model) ?? openAiModelClient(d.model);
      const [prefixTokens, results] = await Promise.all([
        client.countTokens(d.prefix),
        runBatch(d.prefix, d.prompts, client, {
          pipeline,
          retry: { maxRetries: d.model.maxRetries, baseDelayMs: 20, maxDelayMs: 200 },
          progress: { onPromptDone: (r) => void served.push({ worker, entityId: d.entityId, promptId: r.promptId }), onRetry: () => undefined },
        }),
      ]);
      await opts.beforeCommit?.(d, results);
      const stream = experimentStream(d.identity);
      const key = { identity: d.identity, attempt: d.attempt, phase: d.phase, batchId: d.batchId, entityId: d.entityId };
      await store.handle(SERVICE, e.id, async () => [
        { stream, expected: 'any', events: [createEvent('inference.completed', { ...key, worker, prefixTokens, results }, causedBy(e, stream, SERVICE, 'test'))] },
      ]);
      await opts.afterCommit?.();
    };
  }

  async function startWorker(worker: string, handle: JetStreamHandle, handler: (event: AssayEvent) => Promise<void>, opts: { concurrency?: number; ackWaitMs?: number } = {}): Promise<DurableConsumerRunner> {
    const runner = new DurableConsumerRunner(handle, {
      service: SERVICE,
      subject: Subjects['inference.batch.requested'],
      concurrency: opts.concurrency ?? 1,
      logger: quiet,
      durable: { ackWaitMs: opts.ackWaitMs ?? 1500, maxDeliver: 5 },
      handle: handler,
      deadLetter: async (letter) => {
        throw new Error(`unexpected dead letter from ${worker}: ${letter.reason}`);
      },
    });
    await runner.start();
    runners.push(runner);
    return runner;
  }

  /** Publishes one inference.batch.requested per entity, in plan order; returns what was sent. */
  async function publishBatches(serverUrl = sim.url): Promise<InferenceBatchRequested[]> {
    const publisher = new JetStreamPublisher(handles[0]);
    const stream = experimentStream(identity);
    const sent: InferenceBatchRequested[] = [];
    for (let i = 0; i < ENTITIES; i++) {
      const b = entityBatch(`entity-${String(i).padStart(2, '0')}`, ITEMS);
      const event = createEvent(
        'inference.batch.requested',
        { identity, attempt: 1, phase: 'full', batchId: `batch-${i}`, entityId: b.entityId, index: i, prefix: b.prefix, prompts: b.prompts, model: modelSettings(serverUrl, { maxRetries: 2 }) },
        { stream, correlationId: `req-${tag}`, causationId: null, producer: 'planner', codeVersion: 'test' },
      );
      await publisher.publish(Subjects['inference.batch.requested'], event);
      sent.push(event);
    }
    return sent;
  }

  const completedInLog = async () =>
    store.read((sql) => readTypedEvents(sql, experimentStream(identity), ['inference.completed']));

  /** Every prompt of every sent batch appears exactly once in the log, answered. */
  function expectExactlyOnce(sent: InferenceBatchRequested[], completed: InferenceCompleted[]): void {
    expect(completed.map((c) => c.data.batchId).sort()).toEqual(sent.map((s) => s.data.batchId).sort());
    const logged = completed.flatMap((c) => c.data.results.map((r) => r.promptId));
    expect(logged.sort()).toEqual(sent.flatMap((s) => s.data.prompts.map((p) => p.promptId)).sort());
    expect(new Set(logged).size).toBe(ENTITIES * ITEMS);
    for (const c of completed) {
      const s = sent.find((x) => x.data.batchId === c.data.batchId)!;
      expect(c.data.entityId).toBe(s.data.entityId);
      expect(c.data.results.map((r) => r.promptId)).toEqual(s.data.prompts.map((p) => p.promptId));
      expect(c.data.results.every((r) => r.status === 'ok')).toBe(true);
      expect(c.metadata.causationId).toBe(s.id);
    }
  }

  /** Cache reuse of what the log holds vs the ideal: each entity's prefix computed once. */
  function expectNearIdealHitRate(completed: InferenceCompleted[]): void {
    const total = completed.reduce((s, c) => s + c.data.results.reduce((t, r) => t + r.promptTokens!, 0), 0);
    const ideal = completed.reduce((s, c) => s + c.data.prefixTokens! * (c.data.results.length - 1), 0) / total;
    const stats = sim.stats();
    const simRate = stats.cachedTokens / stats.promptTokens;
    expect(ideal).toBeGreaterThan(0.7);
    expect(simRate).toBeGreaterThan(ideal - 0.03);
    expect(simRate).toBeLessThan(ideal + 0.03);
  }

  it('given 3 workers and 12 entity batches, when run, then every prompt is answered once, each entity by one worker, near the ideal cache reuse', async () => {
    for (const w of ['worker-1', 'worker-2', 'worker-3']) await startWorker(w, await open(w), workerHandler(w));
    const sent = await publishBatches();
    await until(async () => (await completedInLog()).length >= ENTITIES);
    const completed = await completedInLog();

    expectExactlyOnce(sent, completed);
    // Each prompt reached the model exactly once (no redelivery, no retry), and an entity never spans workers.
    expect(served).toHaveLength(ENTITIES * ITEMS);
    expect(new Set(served.map((s) => s.promptId)).size).toBe(ENTITIES * ITEMS);
    for (const c of completed) {
      const workers = new Set(served.filter((s) => s.entityId === c.data.entityId).map((s) => s.worker));
      expect([...workers]).toEqual([c.data.worker]);
    }
    // The durable spread the work: more than one worker took batches.
    expect(new Set(completed.map((c) => c.data.worker)).size).toBeGreaterThan(1);
    expectNearIdealHitRate(completed);
  });

  it('given 2 workers holding 3 batches each and a server slow enough that a batch outlasts the ack wait, when run, then each prompt reaches the model exactly once', async () => {
    // A batch takes a warm-up and a fan-out of ~1.2 s each, longer than the 2 s ack wait. A worker
    // that took more messages than it had slots left them unheartbeated in its buffer, so the
    // server redelivered them to the other worker while the first still meant to run them.
    const slow = await startSimulator({ port: 0, models: [{ id: SIM_MODEL, maxModelLen: 8192 }], latency: { prefillMsPerToken: 0.2, decodeMsPerToken: 400, maxNumSeqs: 64 } });
    try {
      for (const w of ['worker-1', 'worker-2']) await startWorker(w, await open(w), workerHandler(w), { concurrency: 3, ackWaitMs: 2000 });
      const sent = await publishBatches(slow.url);
      await until(async () => (await completedInLog()).length >= ENTITIES, 60_000);
      await Promise.all(runners.map((r) => r.stop()));
      const completed = await completedInLog();

      expectExactlyOnce(sent, completed);
      expect(slow.stats().requests).toBe(ENTITIES * ITEMS);
      expect(served).toHaveLength(ENTITIES * ITEMS);
      expect(new Set(completed.map((c) => c.data.worker))).toEqual(new Set(['worker-1', 'worker-2']));
    } finally {
      await slow.close();
    }
  }, 90_000);

  it('given a worker that dies mid-batch before its ack, when the batch is redelivered to another worker, then it is in the log exactly once', async () => {
    // The doomed worker starts alone, so it surely takes the first batch.
    const doomed = await open('doomed');
    let crash!: (e: Error) => void;
    const crashed = new Promise<never>((_, reject) => (crash = reject));
    crashed.catch(() => undefined);
    // Mid-batch: the warm-up and two more prompts are answered; every later call never returns
    // (the process is gone), so the doomed worker never finishes its first batch.
    let started = 0;
    let answered = 0;
    let midBatch!: () => void;
    const reachedMidBatch = new Promise<void>((r) => (midBatch = r));
    let doomedBatch = '';
    const doomedClient = (model: InferenceBatchRequested['data']['model']): ModelClient => {
      const real = openAiModelClient(model);
      return {
        countTokens: (t) => real.countTokens(t),
        complete: async (p) => {
          if (++started > 3) return new Promise(() => undefined);
          const answer = await real.complete(p);
          if (++answered === 3) midBatch();
          return answer;
        },
      };
    };
    const inner = workerHandler('doomed', { client: doomedClient });
    await startWorker('doomed', doomed, async (event) => {
      doomedBatch = (event as InferenceBatchRequested).data.batchId;
      await Promise.race([inner(event), crashed]);
    });
    const sent = await publishBatches();

    await reachedMidBatch;
    await doomed.nc.close();
    crash(new Error('process killed'));
    expect(served.filter((s) => s.worker === 'doomed')).toHaveLength(3);

    for (const w of ['worker-1', 'worker-2']) await startWorker(w, await open(w), workerHandler(w));
    await until(async () => (await completedInLog()).length >= ENTITIES);
    await new Promise((r) => setTimeout(r, 500)); // room for a stray duplicate to show up
    const completed = await completedInLog();

    expectExactlyOnce(sent, completed);
    expect(completed.map((c) => c.data.worker)).not.toContain('doomed');
    const redone = completed.find((c) => c.data.batchId === doomedBatch)!;
    expect(['worker-1', 'worker-2']).toContain(redone.data.worker);
  });

  it('given a worker that dies after committing but before its ack, when the batch is redelivered, then the second run appends nothing', async () => {
    const doomed = await open('doomed');
    let crash!: (e: Error) => void;
    const crashed = new Promise<never>((_, reject) => (crash = reject));
    crashed.catch(() => undefined);
    let committed!: () => void;
    const committedOnce = new Promise<void>((r) => (committed = r));
    let doomedBatch = '';
    await startWorker(
      'doomed',
      doomed,
      workerHandler('doomed', {
        beforeCommit: async (d) => void (doomedBatch = d.batchId),
        afterCommit: async () => {
          committed();
          await crashed; // dies here: effects committed, no ack
        },
      }),
    );
    const sent = await publishBatches();
    await committedOnce;
    await doomed.nc.close();
    crash(new Error('process killed'));

    for (const w of ['worker-1', 'worker-2']) await startWorker(w, await open(w), workerHandler(w));
    // The redelivered batch is run again by a healthy worker (the model is asked twice) ...
    await until(() => served.filter((s) => s.worker !== 'doomed' && s.promptId === sent.find((x) => x.data.batchId === doomedBatch)!.data.prompts[ITEMS - 1].promptId).length > 0);
    await until(async () => (await completedInLog()).length >= ENTITIES);
    await new Promise((r) => setTimeout(r, 500));
    const completed = await completedInLog();

    // ... but the log keeps the first, committed answer only.
    expectExactlyOnce(sent, completed);
    expect(completed.find((c) => c.data.batchId === doomedBatch)!.data.worker).toBe('doomed');
  });
});
