import { createEvent, experimentStream, requestStream, type AssayEvent } from '@assay/contracts';
import { concernsRun, type Following } from './run-events';

const IDENTITY = 'abcd1234_dev';
const MINE = '11111111-1111-4111-8111-111111111111';
const OTHER = '22222222-2222-4222-8222-222222222222';

const ctx = (requestId: string) => ({ stream: experimentStream(IDENTITY), correlationId: requestId, causationId: null, producer: 'planner', codeVersion: 'dev' });

const skipped = (requestId: string): AssayEvent =>
  createEvent('experiment.skipped', { requestId, identity: IDENTITY, reason: 'already_running', attempt: 1, runDir: '/runs/x' }, ctx(requestId)) as AssayEvent;
const completed = (requestId: string, attempt = 1): AssayEvent =>
  createEvent('experiment.completed', { identity: IDENTITY, attempt, runDir: '/runs/x', smokeOnly: false, summary: {} }, ctx(requestId)) as AssayEvent;
const configFailure = (requestId: string): AssayEvent =>
  createEvent('experiment.failed', { requestId, identity: null, attempt: null, stage: 'config', error: 'bad', details: [] }, { ...ctx(requestId), stream: requestStream(requestId) }) as AssayEvent;

describe('which events a following CLI reacts to', () => {
  const attached: Following = { requestId: MINE, identity: IDENTITY, attempt: 1 };

  it("given another CLI's request answered 'already running' for the same attempt, ignores it (no second attach, no reset)", () => {
    expect(concernsRun(skipped(OTHER), attached)).toBe(false);
  });

  it("given its own request's answer, reacts", () => {
    expect(concernsRun(skipped(MINE), { requestId: MINE, identity: null, attempt: null })).toBe(true);
  });

  it('given the end of the attempt it follows, reacts, whoever requested it', () => {
    expect(concernsRun(completed(OTHER), attached)).toBe(true);
  });

  it('given the end of another attempt of the same identity, ignores it', () => {
    expect(concernsRun(completed(OTHER, 2), attached)).toBe(false);
  });

  it("given another request's failure before any identity, ignores it; its own, reacts", () => {
    expect(concernsRun(configFailure(OTHER), { requestId: MINE, identity: null, attempt: null })).toBe(false);
    expect(concernsRun(configFailure(MINE), { requestId: MINE, identity: null, attempt: null })).toBe(true);
  });
});
