import { InvalidEventError } from '@assay/contracts';
import { InfrastructureUnavailableError } from '@assay/event-store';
import { decideAfterFailure, decideOnArrival, DEFAULT_DELIVERY_POLICY, type DeliveryPolicy } from './delivery-policy';
import { PoisonMessageError, TransientError } from './errors';

const policy: DeliveryPolicy = { maxDeliver: 5, retryBaseMs: 100, retryCapMs: 1000, outageRetryCapMs: 3000 };
/** random() = 1: every backoff is its ceiling, so delays are exact. */
const top = () => 1;
const outage = () => new InfrastructureUnavailableError('Postgres', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));

describe('decideOnArrival', () => {
  it('given deliveries up to maxDeliver, then the handler runs', () => {
    expect(decideOnArrival(1, policy)).toEqual({ action: 'handle' });
    expect(decideOnArrival(5, policy)).toEqual({ action: 'handle' });
  });

  it('given more deliveries than maxDeliver (a give-up that was not recorded, or workers that died with it), then it gives up without running the handler', () => {
    expect(decideOnArrival(6, policy)).toEqual({ action: 'give-up', reason: expect.stringMatching(/^gave up after 5 deliveries without an outcome/) });
  });
});

describe('decideAfterFailure', () => {
  it('given a poison message, then it gives up at once with its reason', () => {
    expect(decideAfterFailure(new PoisonMessageError('data file changed under the run'), 1, 0, policy, top)).toEqual({ action: 'give-up', reason: 'data file changed under the run' });
    expect(decideAfterFailure(new InvalidEventError('bad', 'missing id'), 1, 0, policy, top).action).toBe('give-up');
  });

  it('given Postgres down, then the message is kept and retried in place with capped backoff, whatever its delivery count', () => {
    expect(decideAfterFailure(outage(), 1, 0, policy, top)).toEqual({ action: 'wait-for-infrastructure', delayMs: 100 });
    expect(decideAfterFailure(outage(), 1, 2, policy, top)).toEqual({ action: 'wait-for-infrastructure', delayMs: 400 });
    // Long outages: the delay stops growing, and no count of retries ever gives up.
    expect(decideAfterFailure(outage(), 5, 1000, policy, top)).toEqual({ action: 'wait-for-infrastructure', delayMs: 3000 });
  });

  it('given an application error below maxDeliver, then it is redelivered with backoff and logged as unexpected', () => {
    expect(decideAfterFailure(new Error('boom'), 1, 0, policy, top)).toEqual({ action: 'redeliver', delayMs: 100, expected: false });
    expect(decideAfterFailure(new Error('boom'), 4, 0, policy, top)).toEqual({ action: 'redeliver', delayMs: 800, expected: false });
  });

  it('given a transient error, then it is redelivered quietly, after its own delay when it names one', () => {
    expect(decideAfterFailure(new TransientError('registry changed'), 2, 0, policy, top)).toEqual({ action: 'redeliver', delayMs: 200, expected: true });
    expect(decideAfterFailure(new TransientError('busy', 50), 2, 0, policy, top)).toEqual({ action: 'redeliver', delayMs: 50, expected: true });
  });

  it('given an application error on the maxDeliver-th delivery, then it gives up with the last error', () => {
    expect(decideAfterFailure(new Error('boom'), 5, 0, policy, top)).toEqual({ action: 'give-up', reason: 'gave up after 5 deliveries; last error: boom' });
  });

  it('given a thrown non-Error, then the reason still says what was thrown', () => {
    expect(decideAfterFailure('invalid parquet version', 5, 0, policy, top)).toEqual({ action: 'give-up', reason: 'gave up after 5 deliveries; last error: invalid parquet version' });
  });

  it('given the defaults, then an outage retry never waits longer than 10 s', () => {
    expect(decideAfterFailure(outage(), 1, 50, DEFAULT_DELIVERY_POLICY, top)).toEqual({ action: 'wait-for-infrastructure', delayMs: 10_000 });
  });
});
