import type { PromptRequest } from '@assay/contracts';
import { EntityPipeline } from './entity-pipeline';
import { promptString, type ModelClient } from './model-client';
import { runBatch } from './run-batch';

const tick = () => new Promise((r) => setImmediate(r));
const quiet = { onPromptDone: () => undefined, onRetry: () => undefined };
const RETRY = { maxRetries: 0, baseDelayMs: 1, maxDelayMs: 1 };
const prompts = (entity: string, n: number): PromptRequest[] =>
  Array.from({ length: n }, (_, i) => ({ promptId: `${entity}-${i}`, group: 'g', item: `q${i}`, suffix: `|${entity}-${i}`, actual: i }));

/** A model whose calls finish only when the test says so; records the order calls start in. */
function heldClient() {
  const started: string[] = [];
  const pending = new Map<string, () => void>();
  const client: ModelClient = {
    complete: (prompt) =>
      new Promise((resolve) => {
        const text = promptString(prompt);
        const id = text.slice(text.indexOf('|') + 1);
        started.push(id);
        pending.set(id, () => resolve({ text: '1', finishReason: 'stop', promptTokens: 10, completionTokens: 1, cachedTokens: 0 }));
      }),
    countTokens: async () => null,
  };
  const finish = async (...ids: string[]) => {
    for (const id of ids) {
      const done = pending.get(id);
      if (!done) throw new Error(`${id} is not in flight (started: ${started.join(', ')})`);
      pending.delete(id);
      done();
    }
    await tick();
    await tick();
  };
  return { client, started, finish, inFlight: () => [...pending.keys()] };
}

describe('EntityPipeline', () => {
  it.each([0, -1, 1.5])('given maxAhead %p, when constructed, then it refuses', (maxAhead) => {
    expect(() => new EntityPipeline(4, { maxAhead })).toThrow('entity pipeline maxAhead must be a positive integer');
  });

  it('given the default, when sized, then one entity may be ahead per 4 slots (at least one), starting at one', () => {
    expect(new EntityPipeline(64).maxAhead).toBe(16);
    expect(new EntityPipeline(64).limit).toBe(1);
    expect(new EntityPipeline(16).maxAhead).toBe(4);
    expect(new EntityPipeline(3).maxAhead).toBe(1);
    expect(new EntityPipeline(3).limit).toBe(1);
    expect(() => new EntityPipeline(64, { startAhead: 17 })).toThrow('entity pipeline startAhead must be an integer from 1 to maxAhead (16), got 17');
  });

  describe('with the server queue', () => {
    /** A server whose queue length the test sets; counts the readings. */
    function server(initial: number | null) {
      const state = { waiting: initial, reads: 0 };
      return { state, queue: { waiting: async () => (state.reads++, state.waiting) } };
    }
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

    it('given an empty server queue, when entities ask, then the first goes at once and the next after one reading, up to the limit', async () => {
      const { state, queue } = server(0);
      const pipeline = new EntityPipeline(64, { maxAhead: 4, startAhead: 3, serverQueue: queue, freeAhead: 1, probeIntervalMs: 5 });
      await pipeline.admit();
      expect(state.reads).toBe(0);
      await pipeline.admit();
      await pipeline.admit();
      expect(pipeline.entitiesAhead).toBe(3);
      expect(state.reads).toBeGreaterThanOrEqual(1);
    });

    it('given requests waiting at the server, when a second entity asks, then it waits until the queue is empty', async () => {
      const { state, queue } = server(12);
      const pipeline = new EntityPipeline(64, { maxAhead: 4, startAhead: 4, serverQueue: queue, freeAhead: 1, probeIntervalMs: 5 });
      await pipeline.admit();
      let second = false;
      const admitted = pipeline.admit().then(() => (second = true));
      // Held back while the server has a queue: wait until it has been read twice (not for a length of time).
      while (state.reads < 2) await sleep(5);
      expect(second).toBe(false);
      state.waiting = 0;
      await admitted;
      expect(pipeline.entitiesAhead).toBe(2);
    });

    it('given requests waiting at the server, when entities ask, then freeAhead of them go without a reading', async () => {
      const { state, queue } = server(50);
      const pipeline = new EntityPipeline(64, { maxAhead: 16, startAhead: 16, serverQueue: queue, probeIntervalMs: 5 });
      expect(() => new EntityPipeline(64, { freeAhead: 0 })).toThrow('entity pipeline freeAhead must be a positive integer, got 0');
      await Promise.all(Array.from({ length: 8 }, () => pipeline.admit())); // default freeAhead: 64 / 8
      expect(pipeline.entitiesAhead).toBe(8);
      expect(state.reads).toBe(0);
      let ninth = false;
      const admitted = pipeline.admit().then(() => (ninth = true));
      while (state.reads < 1) await sleep(5);
      expect(ninth).toBe(false);
      state.waiting = 0;
      await admitted;
      expect(pipeline.entitiesAhead).toBe(9);
    });

    it('given a server that cannot tell its queue, when entities ask, then the limit alone decides', async () => {
      const { queue } = server(null);
      const pipeline = new EntityPipeline(64, { maxAhead: 3, startAhead: 3, serverQueue: queue, freeAhead: 1, probeIntervalMs: 5 });
      await Promise.all([pipeline.admit(), pipeline.admit(), pipeline.admit()]);
      expect(pipeline.entitiesAhead).toBe(3);
    });
  });

  it('given clean entities from the start, when recorded, then the limit doubles each time up to maxAhead (slow start)', () => {
    const pipeline = new EntityPipeline(40);
    const limits = Array.from({ length: 5 }, () => (pipeline.recordCacheOutcome(false), pipeline.limit));
    expect(limits).toEqual([2, 4, 8, 10, 10]);
  });

  it('given cache outcomes, when recorded, then an eviction halves the limit and a clean entity after it adds one, within 1..maxAhead', () => {
    const pipeline = new EntityPipeline(64, { maxAhead: 8, startAhead: 8 });
    pipeline.recordCacheOutcome(true);
    expect(pipeline.limit).toBe(4);
    pipeline.recordCacheOutcome(true);
    pipeline.recordCacheOutcome(true);
    pipeline.recordCacheOutcome(true);
    expect(pipeline.limit).toBe(1);
    pipeline.recordCacheOutcome(false);
    expect(pipeline.limit).toBe(2);
    for (let i = 0; i < 10; i++) pipeline.recordCacheOutcome(false);
    expect(pipeline.limit).toBe(8);
  });

  it('given entities waiting for admission, when the limit rises, then as many are admitted as it allows', async () => {
    const pipeline = new EntityPipeline(64, { maxAhead: 4, startAhead: 1 });
    await pipeline.admit();
    let admitted = 0;
    const waiting = [pipeline.admit(), pipeline.admit(), pipeline.admit()].map((p) => p.then(() => admitted++));
    await tick();
    expect(admitted).toBe(0);
    pipeline.recordCacheOutcome(false); // slow start: 1 -> 2
    await tick();
    expect(admitted).toBe(1);
    pipeline.recordCacheOutcome(false);
    pipeline.recordCacheOutcome(false);
    await Promise.all(waiting);
    expect(pipeline.entitiesAhead).toBe(4);
  });

  it('given maxAhead 2, when a third entity asks, then it waits for a release, and a double release frees one turn only', async () => {
    const pipeline = new EntityPipeline(4, { maxAhead: 2, startAhead: 2 });
    const a = await pipeline.admit();
    await pipeline.admit();
    let third = false;
    const c = pipeline.admit().then((release) => ((third = true), release));
    await tick();
    expect(third).toBe(false);
    a();
    a();
    await c;
    expect(third).toBe(true);
    expect(pipeline.entitiesAhead).toBe(2);
  });

  it('given two entities on 3 slots, when the first is warm, then its fan-out overlaps the second warm-up, and the second fans out once warm', async () => {
    const model = heldClient();
    const pipeline = new EntityPipeline(3, { maxAhead: 2, startAhead: 2 });
    const a = runBatch('A', prompts('a', 3), model.client, { pipeline, retry: RETRY, progress: quiet });
    const b = runBatch('B', prompts('b', 3), model.client, { pipeline, retry: RETRY, progress: quiet });
    await tick();
    // Both warm-ups go at once (free slots, nothing waiting); each entity's warm-up alone before its fan-out.
    expect(model.started).toEqual(['a-0', 'b-0']);
    await model.finish('a-0');
    // a's fan-out takes the two free slots while b is still warming.
    expect(model.inFlight()).toEqual(['b-0', 'a-1', 'a-2']);
    await model.finish('b-0');
    expect(model.inFlight()).toEqual(['a-1', 'a-2', 'b-1']);
    await model.finish('a-1', 'a-2', 'b-1');
    await model.finish('b-2');
    expect((await a).map((r) => r.promptId)).toEqual(['a-0', 'a-1', 'a-2']);
    expect((await b).map((r) => r.promptId)).toEqual(['b-0', 'b-1', 'b-2']);
  });

  it('given a fan-out waiting for slots, when another entity is admitted, then its warm-up takes the next free slot ahead of the waiting prompts', async () => {
    const model = heldClient();
    const pipeline = new EntityPipeline(2, { maxAhead: 2, startAhead: 2 });
    const a = runBatch('A', prompts('a', 5), model.client, { pipeline, retry: RETRY, progress: quiet });
    await tick();
    await model.finish('a-0'); // a-1, a-2 run; a-3, a-4 wait
    const b = runBatch('B', prompts('b', 2), model.client, { pipeline, retry: RETRY, progress: quiet });
    await tick();
    expect(model.inFlight()).toEqual(['a-1', 'a-2']);
    await model.finish('a-1');
    expect(model.inFlight()).toEqual(['a-2', 'b-0']); // b warms while a still fans out
    await model.finish('a-2');
    expect(model.inFlight()).toEqual(['b-0', 'a-3']);
    await model.finish('b-0');
    expect(model.inFlight()).toEqual(['a-3', 'a-4']); // b's prompts queue behind a's
    await model.finish('a-3');
    expect(model.inFlight()).toEqual(['a-4', 'b-1']);
    await model.finish('a-4', 'b-1');
    await Promise.all([a, b]);
  });

  it('given maxAhead 1, when three entities come, then the next warms only once the previous one has queued its fan-out', async () => {
    const model = heldClient();
    const pipeline = new EntityPipeline(8, { maxAhead: 1, startAhead: 1 });
    const batches = ['a', 'b', 'c'].map((e) => runBatch(e, prompts(e, 2), model.client, { pipeline, retry: RETRY, progress: quiet }));
    await tick();
    expect(model.inFlight()).toEqual(['a-0']);
    await model.finish('a-0');
    expect(model.inFlight()).toEqual(['a-1', 'b-0']);
    await model.finish('b-0');
    expect(model.inFlight()).toEqual(['a-1', 'b-1', 'c-0']);
    await model.finish('a-1', 'b-1', 'c-0');
    await model.finish('c-1');
    await Promise.all(batches);
    expect(pipeline.entitiesAhead).toBe(0);
  });

  it('given warm-ups waiting for slots, when a slot frees, then the next warm-up goes before fan-out prompts queued earlier', async () => {
    const model = heldClient();
    const pipeline = new EntityPipeline(2, { maxAhead: 3, startAhead: 3 });
    const batches = ['a', 'b', 'c'].map((e) => runBatch(e, prompts(e, 3), model.client, { pipeline, retry: RETRY, progress: quiet }));
    await tick();
    expect(model.inFlight()).toEqual(['a-0', 'b-0']); // c-0 waits for a slot
    await model.finish('a-0'); // a-1, a-2 queue, then a-0's slot frees
    expect(model.inFlight()).toEqual(['b-0', 'c-0']);
    await model.finish('b-0');
    expect(model.inFlight()).toEqual(['c-0', 'a-1']);
    await model.finish('c-0', 'a-1');
    expect(model.inFlight()).toEqual(['a-2', 'b-1']);
    await model.finish('a-2', 'b-1');
    await model.finish('b-2', 'c-1');
    await model.finish('c-2');
    await Promise.all(batches);
  });

  it('given an entity whose prompts wait for slots, when another asks to warm up, then it is admitted only once the last of them has a slot', async () => {
    const model = heldClient();
    const pipeline = new EntityPipeline(2, { maxAhead: 1, startAhead: 1 });
    const a = runBatch('A', prompts('a', 4), model.client, { pipeline, retry: RETRY, progress: quiet });
    const b = runBatch('B', prompts('b', 2), model.client, { pipeline, retry: RETRY, progress: quiet });
    await tick();
    await model.finish('a-0'); // a-1, a-2 run; a-3 waits, so a is still ahead
    expect(model.inFlight()).toEqual(['a-1', 'a-2']);
    expect(pipeline.entitiesAhead).toBe(1);
    await model.finish('a-1'); // a-3 gets the slot: b is admitted and waits for the next one
    expect(model.inFlight()).toEqual(['a-2', 'a-3']);
    await model.finish('a-2');
    expect(model.inFlight()).toEqual(['a-3', 'b-0']);
    await model.finish('a-3', 'b-0');
    await model.finish('b-1');
    await Promise.all([a, b]);
    expect(pipeline.entitiesAhead).toBe(0);
  });
});
