import { experimentStream, type AssayEvent } from '@assay/contracts';
import { EventStore, readStream, recordDeadLetter } from '@assay/event-store';
import { createTestDatabase } from '../../testing/src/fixtures/database';
import { connectJetStream, ensureEventStream, type JetStreamHandle } from './connection';
import { DurableConsumerRunner, type ConsumerSpec } from './consumer-runner';
import { natsSettings } from './nats-config';
import { JetStreamPublisher } from './publisher';
import { failedEvent } from './test-helpers';

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

async function until(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('JetStream consumers with the Postgres store (real NATS, real Postgres)', () => {
  // Each test gets its own JetStream stream and subject prefix, so durables never see another test's messages.
  let tag = '';
  let settings = natsSettings({});
  let db: { url: string; drop: () => Promise<void> };
  let store: EventStore;
  let handles: JetStreamHandle[] = [];

  const open = async (name: string) => {
    const h = await connectJetStream(settings, name);
    handles.push(h);
    return h;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  beforeEach(async () => {
    tag = `t${Math.random().toString(36).slice(2, 8)}`;
    settings = { ...natsSettings({}), stream: `ASSAY_TEST_${tag}`, subjectPrefix: `${tag}.` };
    const h = await open('test-publisher');
    await ensureEventStream(h);
    store = await EventStore.open({ url: db.url, publisher: new JetStreamPublisher(h) });
  });
  afterEach(async () => {
    await store.close();
    await handles[0].jsm.streams.delete(settings.stream);
    await Promise.all(handles.map((h) => (h.nc.isClosed() ? undefined : h.nc.close())));
    handles = [];
  });
  afterAll(async () => {
    await db.drop();
  });

  function spec(service: string, handle: ConsumerSpec['handle'], deadLetters: string[] = []): ConsumerSpec {
    return {
      service,
      subject: 'experiment.failed.v1',
      concurrency: 4,
      logger: quiet,
      durable: { ackWaitMs: 1500, maxDeliver: 5 },
      handle,
      deadLetter: async (letter) => {
        deadLetters.push(letter.reason);
        await store.transaction((sql) => recordDeadLetter(sql, letter));
      },
    };
  }

  it('redelivers a message whose consumer died before acking, and its effects happen once', async () => {
    const source = experimentStream(`${tag}_src`);
    const effects = experimentStream(`${tag}_fx`);
    const sent = failedEvent(source, 'work');
    // Effects go to a store that publishes nothing, so they do not feed back into this consumer.
    const effectStore = await EventStore.open({ url: db.url });
    const effect = (event: AssayEvent) =>
      effectStore.handle('crashy', event.id, async () => [{ stream: effects, expected: 'any', events: [failedEvent(effects, `effect of ${event.id}`)] }]);

    // First process: commits its effects, then "crashes" before the ack (connection gone, no ack).
    const doomed = await open('doomed-worker');
    let committed!: () => void;
    const committedOnce = new Promise<void>((r) => (committed = r));
    let crash!: (e: Error) => void;
    const crashed = new Promise<never>((_, reject) => (crash = reject));
    const first = new DurableConsumerRunner(
      doomed,
      spec('crashy', async (event) => {
        await effect(event);
        committed();
        await crashed; // the process dies here, before any ack
      }),
    );
    await first.start();
    await store.append([{ stream: source, expected: 'any', events: [sent] }]);
    await committedOnce;
    await doomed.nc.close();
    crash(new Error('process killed'));
    await first.stop();

    // A fresh process gets the redelivery after ack_wait; the processed-message record makes it a no-op.
    let deliveries = 0;
    const second = new DurableConsumerRunner(
      await open('healthy-worker'),
      spec('crashy', async (event, msg) => {
        if (event.id === sent.id) deliveries = msg.info.deliveryCount;
        await effect(event);
      }),
    );
    await second.start();
    await until(async () => deliveries >= 2);
    await second.stop();
    const written = await store.read((sql) => readStream(sql, effects));
    await effectStore.close();
    expect(written).toHaveLength(1);
  });

  it('terminates an invalid message and keeps it as a dead letter, without retrying it', async () => {
    const h = await open('poison-test');
    const reasons: string[] = [];
    let handled = 0;
    const runner = new DurableConsumerRunner(h, spec('poison', async () => void handled++, reasons));
    await runner.start();
    await h.js.publish(`${tag}.experiment.failed.v1`, JSON.stringify({ id: 'not-a-uuid', type: 'experiment.failed' }));
    await h.js.publish(`${tag}.experiment.failed.v1`, '{ this is not json');
    await until(async () => reasons.length >= 2);
    await new Promise((r) => setTimeout(r, 2000)); // longer than ack_wait: a retried message would come back
    await runner.stop();
    expect(handled).toBe(0);
    expect(reasons).toHaveLength(2);
    expect(reasons.join('\n')).toMatch(/not an assay envelope.*id/);
    expect(reasons.join('\n')).toMatch(/not JSON/);
    const rows = await store.read((sql) => sql.query<{ subject: string; reason: string }>('SELECT subject, reason FROM dead_letters ORDER BY id'));
    expect(rows.map((r) => r.subject)).toEqual(['experiment.failed.v1', 'experiment.failed.v1']);
  });

  it('naks a failing handler with backoff and succeeds on a later delivery', async () => {
    const h = await open('flaky-test');
    const source = experimentStream(`${tag}_flaky`);
    const seen: number[] = [];
    const runner = new DurableConsumerRunner(
      h,
      spec('flaky', async (_event, msg) => {
        seen.push(msg.info.deliveryCount);
        if (msg.info.deliveryCount < 3) throw new Error('transient trouble');
      }),
    );
    await runner.start();
    await store.append([{ stream: source, expected: 'any', events: [failedEvent(source, 'flaky')] }]);
    await until(async () => seen.includes(3));
    await runner.stop();
    expect(seen.filter((n) => n <= 3)).toEqual([1, 2, 3]);
  });
});
