import { createEvent, subjectOf } from '@assay/contracts';
import type { JetStreamHandle } from '@assay/messaging';
import { eventsOn, pingServices } from './nats-session';

/** A NATS connection whose services answer health pings from the given round on (never: null). */
function fakeHandle(answersFrom: Record<string, number | null>) {
  const asked: Array<{ service: string; timeout: number }> = [];
  const rounds = new Map<string, number>();
  const nc = {
    request: async (subject: string, _data: string, opts: { timeout: number }) => {
      const service = subject.split('.').find((part) => part in answersFrom)!;
      const round = (rounds.get(service) ?? 0) + 1;
      rounds.set(service, round);
      asked.push({ service, timeout: opts.timeout });
      const from = answersFrom[service];
      if (from === null || round < from) throw new Error('TIMEOUT');
      return { json: () => ({ codeVersion: 'abc1234' }) };
    },
  };
  const handle = { nc, settings: { url: 'nats://test', subjectPrefix: '', stream: 'S' } } as unknown as Pick<JetStreamHandle, 'nc' | 'settings'>;
  return { handle, asked };
}

describe('service check', () => {
  it('given a worker too busy to answer the first ping, asks again with a longer timeout and finds it running', async () => {
    const { handle, asked } = fakeHandle({ planner: 1, 'inference-worker': 2, evaluator: 1, reporter: 1 });
    const result = await pingServices(handle, { attempts: 3, timeoutMs: 10, pauseMs: 1 });
    expect(result.silent).toEqual([]);
    expect(Object.keys(result.alive).sort()).toEqual(['evaluator', 'inference-worker', 'planner', 'reporter']);
    expect(asked.filter((a) => a.service === 'inference-worker').map((a) => a.timeout)).toEqual([10, 20]);
  });

  it('given a service that never answers, declares it absent only after every round', async () => {
    const { handle, asked } = fakeHandle({ planner: 1, 'inference-worker': null, evaluator: 1, reporter: null });
    const result = await pingServices(handle, { attempts: 3, timeoutMs: 10, pauseMs: 1 });
    expect(result.silent).toEqual(['inference-worker', 'reporter']);
    expect(asked.filter((a) => a.service === 'reporter')).toHaveLength(3);
    expect(asked.filter((a) => a.service === 'planner')).toHaveLength(1);
  });
});

describe('events on a CLI subscription', () => {
  const handle = { settings: { url: 'nats://test', subjectPrefix: 't1.', stream: 'S' } } as unknown as JetStreamHandle;
  const failed = createEvent(
    'experiment.failed',
    { requestId: null, identity: null, attempt: null, stage: 'config', error: 'bad config', details: [] },
    { stream: 's', correlationId: 'c', causationId: null, producer: 'test', codeVersion: 'test' },
  );
  async function* messages() {
    yield { subject: `t1.${subjectOf(failed.type, failed.schemaVersion)}`, json: () => ({ type: 'experiment.failed', nonsense: true }) };
    yield { subject: `t1.${subjectOf(failed.type, failed.schemaVersion)}`, json: () => ({ type: 'experiment.failed', nonsense: 2 }) };
    yield { subject: `t1.${subjectOf(failed.type, failed.schemaVersion)}`, json: () => failed };
  }

  it('given events it cannot read, yields the valid ones and warns once per subject naming it', async () => {
    const warnings: string[] = [];
    const seen = [];
    for await (const event of eventsOn(handle, messages(), (line) => warnings.push(line))) seen.push(event);
    expect(seen.map((e) => [e.type, e.id])).toEqual([['experiment.failed', failed.id]]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`ignored an event on ${subjectOf(failed.type, failed.schemaVersion)}`);
  });
});
