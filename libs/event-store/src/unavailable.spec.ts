import { asUnavailable, InfrastructureUnavailableError, isConnectionFailure, isInfrastructureOutage } from './unavailable';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });
const named = (message: string, name: string) => Object.assign(new Error(message), { name });

describe('isConnectionFailure', () => {
  it.each([
    ['a refused socket', withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')],
    ['a reset socket', withCode('read ECONNRESET', 'ECONNRESET')],
    ['Postgres shut down by an administrator (57P01)', withCode('terminating connection due to administrator command', '57P01')],
    ['Postgres starting up (57P03)', withCode('the database system is starting up', '57P03')],
    ['a connection exception (class 08)', withCode('connection failure', '08006')],
    ['too many connections (53300)', withCode('sorry, too many clients already', '53300')],
    ['node-postgres losing its connection', new Error('Connection terminated unexpectedly')],
    ['the pool failing to connect in time', new Error('timeout exceeded when trying to connect')],
    ['a client broken by an earlier error', new Error('Client has encountered a connection error and is not queryable')],
    ['NATS closed', named('closed connection', 'ClosedConnectionError')],
    ['JetStream not answering', named('no responders', 'NoResponders')],
    ['NATS timing out', named('timeout', 'TimeoutError')],
    ['refusals on both addresses (AggregateError)', new AggregateError([withCode('connect ECONNREFUSED ::1:5432', 'ECONNREFUSED')], '')],
    ['a refusal in the cause chain', new Error('query failed', { cause: withCode('connect ECONNREFUSED', 'ECONNREFUSED') })],
  ])('given %s, then it is an outage', (_case, error) => {
    expect(isConnectionFailure(error)).toBe(true);
  });

  it.each([
    ['a unique violation', withCode('duplicate key value violates unique constraint', '23505')],
    ['a syntax error', withCode('syntax error at or near "SELEC"', '42601')],
    ['a missing table', withCode('relation "events" does not exist', '42P01')],
    ['a plain error', new Error('entity 17 has no profile')],
    ['a thrown string', 'ECONNREFUSED'],
    ['nothing', undefined],
  ])('given %s, then it is not an outage', (_case, error) => {
    expect(isConnectionFailure(error)).toBe(false);
  });
});

describe('asUnavailable / isInfrastructureOutage', () => {
  it('given a refused Postgres connection, when wrapped, then it names the system and the cause, and counts as an outage', () => {
    const wrapped = asUnavailable('Postgres', withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'));
    expect(wrapped).toBeInstanceOf(InfrastructureUnavailableError);
    expect((wrapped as Error).message).toBe('Postgres unavailable: connect ECONNREFUSED 127.0.0.1:5432');
    expect(isInfrastructureOutage(wrapped)).toBe(true);
  });

  it('given an AggregateError without a message of its own, when wrapped, then the message lists its errors', () => {
    const wrapped = asUnavailable('Postgres', new AggregateError([withCode('connect ECONNREFUSED ::1:5432', 'ECONNREFUSED'), withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')]));
    expect((wrapped as Error).message).toBe('Postgres unavailable: connect ECONNREFUSED ::1:5432; connect ECONNREFUSED 127.0.0.1:5432');
  });

  it('given a query error, when wrapped, then it is returned unchanged and is no outage', () => {
    const error = withCode('duplicate key', '23505');
    expect(asUnavailable('Postgres', error)).toBe(error);
    expect(isInfrastructureOutage(error)).toBe(false);
  });

  it('given an outage wrapped by a handler in its own error, then the cause chain still says outage', () => {
    const outage = new InfrastructureUnavailableError('NATS', named('closed', 'ClosedConnectionError'));
    expect(isInfrastructureOutage(new Error('could not load the plan', { cause: outage }))).toBe(true);
  });

  it('given a bare network error that did not come from the store (e.g. the model server), then it is no outage', () => {
    expect(isInfrastructureOutage(withCode('connect ECONNREFUSED 127.0.0.1:8000', 'ECONNREFUSED'))).toBe(false);
  });
});
