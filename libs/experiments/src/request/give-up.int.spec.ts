import { createEvent, experimentStream, type AnyEnvelope, type AssayEvent, type EventContext } from '@assay/contracts';
import { EventStore, readTypedEvents, type EventPublisher } from '@assay/event-store';
import { randomUUID } from 'node:crypto';
import { createTestDatabase } from '../../../testing/src/fixtures/database';
import { runFailureOnGiveUp } from '../experiment';
import { stageOfGivenUp } from './give-up';

describe('stageOfGivenUp', () => {
  it('maps each message a run waits on to the stage that stops, and the rest to none', () => {
    expect(stageOfGivenUp('inference.batch.requested')).toBe('inference');
    expect(stageOfGivenUp('inference.completed')).toBe('evaluation');
    expect(stageOfGivenUp('inference.failed')).toBe('evaluation');
    expect(stageOfGivenUp('evaluation.requested')).toBe('evaluation');
    expect(stageOfGivenUp('evaluation.smoke.checked')).toBe('smoke');
    expect(stageOfGivenUp('evaluation.completed')).toBe('report');
    // The planner records its own failures; registry projections do not stop a run.
    expect(stageOfGivenUp('experiment.requested')).toBeNull();
    expect(stageOfGivenUp('experiment.completed')).toBeNull();
    expect(stageOfGivenUp('experiment.failed')).toBeNull();
  });
});

describe('runFailureOnGiveUp (real Postgres)', () => {
  let db: { url: string; drop: () => Promise<void> };
  let store: EventStore;
  const publisher: EventPublisher = { publish: async () => undefined };

  beforeAll(async () => {
    db = await createTestDatabase();
    store = await EventStore.open({ url: db.url, publisher });
  });
  afterAll(async () => {
    await store.close();
    await db.drop();
  });

  const ctx = (stream: string): EventContext => ({ stream, correlationId: 'c1', causationId: null, producer: 'test', codeVersion: 'test' });
  const requestId = randomUUID();

  /** A run of `identity` whose attempt 1 started (and, when `end` says so, ended). */
  async function run(end: 'running' | 'completed' | 'failed'): Promise<{ identity: string; stream: string }> {
    const identity = `t${randomUUID().slice(0, 8)}_test`;
    const stream = experimentStream(identity);
    const events: AnyEnvelope[] = [
      createEvent(
        'experiment.started',
        {
          requestId,
          identity,
          attempt: 1,
          method: 'llm_zero_shot',
          config: {},
          configHash: 'h',
          identityAlgorithm: 'assay-identity/v1',
          dataHashes: { profiles: 'a', responses: 'b', items: 'c', split: 'd' },
          codeVersion: 'test',
          runDir: '/out',
          warnings: [],
          forced: false,
          smokeOnly: false,
          previousFailure: null,
          host: 'h',
        },
        ctx(stream),
      ),
    ];
    if (end === 'completed') events.push(createEvent('experiment.completed', { attempt: 1, identity, smokeOnly: false, runDir: '/out', summary: {} }, ctx(stream)));
    if (end === 'failed') events.push(createEvent('experiment.failed', { requestId, identity, attempt: 1, stage: 'inference', error: 'model gone', details: [] }, ctx(stream)));
    await store.append([{ stream, expected: 'any', events }]);
    return { identity, stream };
  }

  const evaluationOf = (identity: string, attempt = 1): AssayEvent =>
    createEvent(
      'evaluation.completed',
      { identity, attempt, round: 1, evaluatorVersion: 'eval/v2', result: {}, cache: { promptTokens: 0, cachedTokens: 0, hitRate: null, idealHitRate: null }, reevaluation: null },
      ctx(experimentStream(identity)),
    ) as AssayEvent;

  const giveUp = (event: AssayEvent) => store.transaction((sql) => runFailureOnGiveUp(sql, event, 'gave up after 20 deliveries; last error: disk full', 'reporter', 'abc1234'));

  it('given a running attempt, when the reporter gives up on its evaluation, then the run fails at the report stage with the error and what to do', async () => {
    const { identity, stream } = await run('running');
    const appends = await giveUp(evaluationOf(identity));
    await store.append(appends);
    const failed = await store.read((sql) => readTypedEvents(sql, stream, ['experiment.failed']));
    expect(failed).toHaveLength(1);
    expect(failed[0].data).toMatchObject({ requestId, identity, attempt: 1, stage: 'report' });
    expect(failed[0].data.error).toMatch(/^reporter gave up on evaluation\.completed [0-9a-f-]+: gave up after 20 deliveries; last error: disk full$/);
    expect(failed[0].data.details.join('\n')).toContain(`assay reevaluate ${identity}`);
  });

  it('given an attempt that already ended, when a service gives up on one of its messages, then nothing is appended', async () => {
    for (const end of ['completed', 'failed'] as const) {
      const { identity } = await run(end);
      expect(await giveUp(evaluationOf(identity))).toEqual([]);
    }
  });

  it('given a message of no run (unknown identity, attempt not started, or a stage that does not stop runs), then nothing is appended', async () => {
    expect(await giveUp(evaluationOf(`t${randomUUID().slice(0, 8)}_none`))).toEqual([]);
    const { identity } = await run('running');
    expect(await giveUp(evaluationOf(identity, 2))).toEqual([]);
    const registryUpdate = createEvent('experiment.failed', { requestId, identity, attempt: 1, stage: 'inference', error: 'x', details: [] }, ctx(experimentStream(identity))) as AssayEvent;
    expect(await giveUp(registryUpdate)).toEqual([]);
  });
});
