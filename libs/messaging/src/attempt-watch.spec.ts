import type { JetStreamHandle } from './connection';
import { AttemptWatch } from './attempt-watch';

/** A handle whose NATS connection records subscriptions and lets the test deliver messages. */
function fakeHandle() {
  const callbacks = new Map<string, (error: Error | null, msg: { subject: string; json(): unknown }) => void>();
  const handle = {
    settings: { url: 'nats://x', stream: 'S', subjectPrefix: 't.' },
    nc: {
      subscribe: (subject: string, opts: { callback: (error: Error | null, msg: { subject: string; json(): unknown }) => void }) => {
        callbacks.set(subject, opts.callback);
        return { unsubscribe: () => callbacks.delete(subject) };
      },
    },
  } as unknown as JetStreamHandle;
  return { handle, callbacks };
}

const cancelled = (identity: string, attempt: number) => ({
  id: '00000000-0000-4000-8000-000000000001',
  type: 'experiment.cancelled',
  schemaVersion: 1,
  stream: `experiment-${identity}`,
  occurredAt: '2026-01-01T00:00:00.000Z',
  data: { identity, attempt, reason: 'stop', kind: 'cancel', by: { host: 'h', user: 'u' }, requestId: null },
  metadata: { correlationId: 'c', causationId: 'c', producer: 'cli', codeVersion: 'v' },
});

describe('AttemptWatch', () => {
  it('given work of two attempts, when the end event of one arrives, then only its signal fires', () => {
    const { handle, callbacks } = fakeHandle();
    const watch = new AttemptWatch(handle);
    const a1 = watch.watch('aaaa1111_x', 1);
    const a2 = watch.watch('aaaa1111_x', 2);
    expect([...callbacks.keys()].sort()).toEqual(['t.experiment.cancelled.v1', 't.experiment.completed.v1', 't.experiment.failed.v1']);
    callbacks.get('t.experiment.cancelled.v1')!(null, { subject: 't.experiment.cancelled.v1', json: () => cancelled('aaaa1111_x', 1) });
    expect(a1.signal.aborted).toBe(true);
    expect((a1.signal.reason as Error).message).toBe('experiment.cancelled (attempt 1)');
    expect(a2.signal.aborted).toBe(false);
  });

  it('given an attempt ended earlier, when new work of it is watched, then its signal has fired already', () => {
    const watch = new AttemptWatch(fakeHandle().handle);
    watch.end('bbbb2222_x', 3, 'found in the log');
    expect(watch.watch('bbbb2222_x', 3).signal.aborted).toBe(true);
  });

  it('given an invalid message on an end subject, when delivered, then nothing is aborted', () => {
    const { handle, callbacks } = fakeHandle();
    const work = new AttemptWatch(handle).watch('cccc3333_x', 1);
    callbacks.get('t.experiment.failed.v1')!(null, { subject: 't.experiment.failed.v1', json: () => ({ nonsense: true }) });
    expect(work.signal.aborted).toBe(false);
  });

  it('given every batch of an attempt released, when it ends later, then a new batch of it starts aborted (remembered), not with a stale controller', () => {
    const watch = new AttemptWatch(fakeHandle().handle);
    const first = watch.watch('dddd4444_x', 1);
    first.release();
    watch.end('dddd4444_x', 1, 'failed');
    expect(first.signal.aborted).toBe(false);
    expect(watch.watch('dddd4444_x', 1).signal.aborted).toBe(true);
  });
});
