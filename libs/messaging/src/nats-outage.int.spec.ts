import { experimentStream, Subjects } from '@assay/contracts';
import { EventStore, readStream, readTypedEvents } from '@assay/event-store';
import { createTestDatabase } from '../../testing/src/fixtures/database';
import { startNatsServer, type NatsServer } from '../../testing/src/fixtures/nats-server';
import { until } from '../../testing/src/fixtures/until';
import { connectJetStream, ensureEventStream, type JetStreamHandle } from './connection';
import { DurableConsumerRunner } from './consumer-runner';
import { JetStreamPublisher } from './publisher';
import { failedEvent } from './test-helpers';

/**
 * NATS killed (SIGKILL) and started again while a consumer is pulling and one message is in
 * progress: the consumer's pull loop comes back by itself, the message in progress is finished
 * (its late ack lost, its redelivery a no-op), later messages are handled, nothing is
 * dead-lettered or done twice. This test owns its nats-server (own port and store).
 */

const SUBJECT = Subjects['experiment.failed'];
const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

describe('a NATS restart under a running consumer (own nats-server, real Postgres)', () => {
  let nats: NatsServer;
  let db: { url: string; drop: () => Promise<void> };
  let store: EventStore;
  let handle: JetStreamHandle;

  beforeAll(async () => {
    nats = await startNatsServer();
    db = await createTestDatabase('assay_nats_outage');
    // Effects go to a store that publishes nothing: the test reads them from the log.
    store = await EventStore.open({ url: db.url });
    handle = await connectJetStream({ url: nats.url, stream: 'ASSAY_NATS_OUTAGE', subjectPrefix: 'natsout.' }, 'nats-outage-test');
    await ensureEventStream(handle);
  }, 60_000);
  afterAll(async () => {
    if (!handle?.nc.isClosed()) await handle?.nc.close();
    await store?.close();
    await db?.drop();
    await nats?.destroy();
  });

  it('given a message in progress when NATS dies, when NATS is back, then every message is handled once and none is dead-lettered', async () => {
    const effects = experimentStream('natsout_fx');
    const source = experimentStream('natsout_src');
    const deadLetters: string[] = [];
    const entered = new Set<string>();
    let finishSlow!: () => void;
    const slowMayFinish = new Promise<void>((r) => (finishSlow = r));
    const [before, slow, after] = ['before', 'slow', 'after'].map((name) => failedEvent(source, name));
    const runner = new DurableConsumerRunner(handle, {
      service: 'natsout',
      subject: SUBJECT,
      concurrency: 2,
      logger: quiet,
      durable: { ackWaitMs: 2000, maxDeliver: 3 },
      handle: async (event) => {
        entered.add(event.id);
        if (event.id === slow.id) await slowMayFinish;
        await store.handle('natsout', event.id, async () => [{ stream: effects, expected: 'any', events: [failedEvent(effects, `effect of ${event.id}`)] }]);
      },
      deadLetter: async (letter) => void deadLetters.push(letter.reason),
    });
    await runner.start();
    const publisher = new JetStreamPublisher(handle);
    const effectCount = async () => (await store.read((sql) => readStream(sql, effects))).length;
    try {
      await publisher.publish(SUBJECT, before);
      await until(async () => (await effectCount()) === 1, 'the first message handled');
      await publisher.publish(SUBJECT, slow);
      await until(() => entered.has(slow.id), 'the slow message in progress');

      await nats.kill();
      finishSlow(); // it commits while NATS is down; its ack cannot reach the server
      await until(async () => (await effectCount()) === 2, 'the slow message committed during the outage');
      await nats.start();

      // Publishing fails until the client has reconnected; a publish with the same id is deduplicated.
      await until(async () => publisher.publish(SUBJECT, after).then(() => true, () => false), 'a publish after the restart', 30_000, 500);
      await until(async () => (await effectCount()) === 3, 'the message published after the restart handled', 60_000);
    } finally {
      await runner.stop();
    }
    const written = (await store.read((sql) => readTypedEvents(sql, effects, ['experiment.failed']))).map((e) => e.data.error);
    expect(written.sort()).toEqual([before, slow, after].map((e) => `effect of ${e.id}`).sort());
    expect(deadLetters).toEqual([]);
  }, 120_000);
});
