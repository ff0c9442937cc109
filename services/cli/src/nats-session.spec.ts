import type { JetStreamHandle } from '@assay/messaging';
import { pingServices } from './nats-session';

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
