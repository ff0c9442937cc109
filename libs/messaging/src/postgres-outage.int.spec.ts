import { experimentStream, Subjects, type AnyEnvelope } from '@assay/contracts';
import { EventStore, readStream, recordDeadLetter } from '@assay/event-store';
import { startPostgresCluster, type PostgresCluster } from '../../testing/src/fixtures/postgres-cluster';
import { until } from '../../testing/src/fixtures/until';
import { connectJetStream, ensureDurable, ensureEventStream, type DurableOptions, type JetStreamHandle } from './connection';
import { DurableConsumerRunner, type ConsumerSpec } from './consumer-runner';
import { natsSettings, wireSubject } from './nats-config';
import { JetStreamPublisher } from './publisher';
import { failedEvent } from './test-helpers';

/**
 * Postgres stopped (as a crash would) for longer than a consumer's whole delivery budget: the
 * messages it was given are neither spent nor abandoned. This test owns its Postgres cluster (own
 * port and data directory); NATS is the shared server, with a stream and prefix of its own.
 */

const SUBJECT = Subjects['experiment.failed'];
/** A budget of a second or so: 3 deliveries, 50-200 ms apart. */
const BUDGET: Partial<DurableOptions> = { ackWaitMs: 1500, maxDeliver: 3, retryBaseMs: 50, retryCapMs: 200, outageRetryCapMs: 300 };

const warnings: string[] = [];
const logger = { log: () => undefined, warn: (m: string) => void warnings.push(m), error: (m: string) => void warnings.push(m) };

describe('a Postgres outage longer than the delivery budget (own Postgres cluster, real NATS)', () => {
  let cluster: PostgresCluster;
  let store: EventStore;
  let handle: JetStreamHandle;
  let runner: DurableConsumerRunner | null = null;
  let tag = '';

  beforeAll(async () => {
    cluster = await startPostgresCluster();
    store = await EventStore.open({ url: cluster.url('assay_outage') });
  }, 60_000);
  afterAll(async () => {
    await store?.close();
    await cluster?.destroy();
  });
  beforeEach(async () => {
    tag = `pgo${Math.random().toString(36).slice(2, 8)}`;
    handle = await connectJetStream({ ...natsSettings({}), stream: `ASSAY_TEST_${tag}`, subjectPrefix: `${tag}.` }, 'outage-test');
    await ensureEventStream(handle);
    warnings.length = 0;
  });
  afterEach(async () => {
    await runner?.stop();
    runner = null;
    await handle.jsm.streams.delete(handle.settings.stream);
    await handle.nc.close();
  });

  async function startRunner(spec: Pick<ConsumerSpec, 'handle' | 'deadLetter'>): Promise<void> {
    runner = new DurableConsumerRunner(handle, { service: 'outage', subject: SUBJECT, concurrency: 2, logger, durable: BUDGET, ...spec });
    await runner.start();
  }

  /** Published straight to NATS: with Postgres down nothing can go through the store's outbox. */
  async function publish(event: AnyEnvelope): Promise<void> {
    await new JetStreamPublisher(handle).publish(SUBJECT, event);
  }

  it('given Postgres down past the budget, when it comes back, then the message is processed, on its first delivery', async () => {
    const source = experimentStream(`${tag}_src`);
    const effects = experimentStream(`${tag}_fx`);
    const sent = failedEvent(source, 'work');
    const tries: number[] = [];
    const deadLetters: string[] = [];
    await startRunner({
      handle: async (event, msg) => {
        tries.push(msg.info.deliveryCount);
        await store.handle('outage', event.id, async () => [{ stream: effects, expected: 'any', events: [failedEvent(effects, `effect of ${event.id}`)] }]);
      },
      deadLetter: async (letter) => void deadLetters.push(letter.reason),
    });

    await cluster.stop();
    await publish(sent);
    // Three times the budget of tries; with deliveries spent on the outage the server would have stopped at 3.
    await until(() => tries.length >= 3 * BUDGET.maxDeliver!, `${3 * BUDGET.maxDeliver!} tries during the outage`);
    await cluster.start();
    await until(async () => (await store.read((sql) => readStream(sql, effects))).length === 1, 'the effect in the log');

    expect(deadLetters).toEqual([]);
    // Retried in place: every try was the first delivery.
    expect(new Set(tries)).toEqual(new Set([1]));
    expect(warnings.join('\n')).toMatch(/Postgres unavailable: .*no delivery spent/);
  }, 60_000);

  it('given a message that fails on its own while Postgres is down, when Postgres comes back, then its give-up is recorded, not abandoned', async () => {
    const source = experimentStream(`${tag}_bad`);
    const sent = failedEvent(source, 'bad');
    let recordTries = 0;
    await startRunner({
      handle: async () => {
        throw new Error('the data says no');
      },
      deadLetter: async (letter) => {
        recordTries++;
        await store.transaction((sql) => recordDeadLetter(sql, letter));
      },
    });

    await cluster.stop();
    await publish(sent);
    // The budget is spent on the message's own failures; the give-up then waits for Postgres.
    await until(() => recordTries >= 5, '5 tries to record the give-up');
    await cluster.start();
    const recorded = async () => store.read((sql) => sql.query<{ message_id: string; reason: string }>('SELECT message_id, reason FROM dead_letters WHERE message_id = $1', [sent.id]));
    await until(async () => (await recorded()).length === 1, 'the dead letter in Postgres');
    expect((await recorded())[0].reason).toBe('gave up after 3 deliveries; last error: the data says no');
  }, 60_000);

  it('given a durable declared with a server-side delivery limit, when declared again, then the limit is lifted', async () => {
    const durable = `outage__legacy_${tag}`;
    await handle.jsm.consumers.add(handle.settings.stream, { durable_name: durable, filter_subject: wireSubject(handle.settings, SUBJECT), ack_policy: 'explicit', max_deliver: 20 });
    await ensureDurable(handle, durable, wireSubject(handle.settings, SUBJECT));
    expect((await handle.jsm.consumers.info(handle.settings.stream, durable)).config.max_deliver).toBe(-1);
  });
});
