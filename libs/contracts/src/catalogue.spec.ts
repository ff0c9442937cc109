import { createEvent, InvalidEventError, parseEvent, parseEventOfType, Subjects } from './index';

const ctx = { stream: 'experiment-abc12345_dev', correlationId: 'req-1', causationId: null, producer: 'test', codeVersion: 'dev' };

function failed() {
  return createEvent('experiment.failed', { requestId: null, identity: null, attempt: null, stage: 'config', error: 'bad key', details: [] }, ctx);
}

describe('event catalogue', () => {
  it('names subjects past tense and versioned', () => {
    expect(Subjects['experiment.requested']).toBe('experiment.requested.v1');
    expect(Subjects['inference.batch.requested']).toBe('inference.batch.requested.v1');
  });

  it('given a valid event, createEvent fills the envelope and parseEvent accepts it', () => {
    const event = failed();
    expect(event.metadata.causationId).toBe(event.id); // a root event names itself
    expect(parseEvent(JSON.parse(JSON.stringify(event)), 'experiment.failed.v1')).toEqual(event);
  });

  it('given data that breaks the schema, createEvent refuses to build it and names the field', () => {
    expect(() =>
      createEvent('experiment.failed', { requestId: null, identity: null, attempt: null, stage: 'nowhere', error: 'x', details: [] } as never, ctx),
    ).toThrow(/data\.stage/);
  });

  it('given an event on the wrong subject, parseEvent says which subject was expected', () => {
    expect(() => parseEvent(failed(), 'experiment.completed.v1')).toThrow(/expected 'experiment\.failed\.v1'/);
  });

  it('given an unknown type or a missing envelope field, parseEvent raises InvalidEventError with the reason', () => {
    const unknown = { ...failed(), type: 'experiment.exploded' };
    expect(() => parseEvent(unknown, 'experiment.exploded.v1')).toThrow(/unknown event type 'experiment\.exploded'/);
    const { metadata: _m, ...noMetadata } = failed();
    expect(() => parseEvent(noMetadata, 'experiment.failed.v1')).toThrow(InvalidEventError);
    expect(() => parseEvent(noMetadata, 'experiment.failed.v1')).toThrow(/metadata/);
  });

  it('given an extra key, parseEvent rejects it (schemas are strict)', () => {
    const event = failed();
    expect(() => parseEvent({ ...event, data: { ...event.data, surprise: 1 } }, 'experiment.failed.v1')).toThrow(/surprise|Unrecognized/);
  });

  it('parseEventOfType narrows, and refuses another type', () => {
    expect(parseEventOfType('experiment.failed', failed(), 'experiment.failed.v1').data.error).toBe('bad key');
    expect(() => parseEventOfType('experiment.completed', failed(), 'log:x')).toThrow(/expected 'experiment\.completed'/);
  });

  it('given an evaluation event logged before evaluation rounds existed, parses it as round 1 (old logs keep replaying)', () => {
    const stream = 'experiment-abc12345_dev';
    const scored = createEvent(
      'evaluation.batch.scored',
      { identity: 'abc12345_dev', attempt: 1, round: 2, phase: 'full', batchId: 'b1', evaluatorVersion: 'eval/v2', predictions: [] },
      { ...ctx, stream },
    );
    const { round: _round, ...old } = scored.data;
    expect(parseEvent({ ...scored, data: old }, 'evaluation.batch.scored.v1').data).toMatchObject({ round: 1 });
    const completed = createEvent(
      'evaluation.completed',
      { identity: 'abc12345_dev', attempt: 1, round: 1, evaluatorVersion: 'eval/v1', reevaluation: null, result: {}, cache: { promptTokens: 0, cachedTokens: 0, hitRate: null, idealHitRate: null } },
      { ...ctx, stream },
    );
    const { round: _r, reevaluation: _e, ...oldCompleted } = completed.data;
    expect(parseEvent({ ...completed, data: oldCompleted }, 'evaluation.completed.v1').data).toMatchObject({ round: 1, reevaluation: null });
  });

  it('given round 0, refuses it: rounds count from 1', () => {
    expect(() =>
      createEvent('report.generated', { identity: 'abc12345_dev', attempt: 1, round: 0, runDir: '/x', files: 1, treeHash: 'h' }, ctx),
    ).toThrow(/data\.round/);
  });

  it('given an inference result logged before calls recorded their times and replica, parses it unchanged (old logs keep replaying)', () => {
    const stream = 'experiment-abc12345_dev';
    const result = {
      promptId: 'p1', status: 'ok' as const, outputText: '3', error: null, finishReason: 'length',
      promptTokens: 10, completionTokens: 16, cachedTokens: 0, latencyMs: 12.5, attempts: 1,
    };
    const data = { identity: 'abc12345_dev', attempt: 1, phase: 'full' as const, batchId: 'b1', entityId: 'e1', worker: 'worker-1', prefixTokens: null };
    const old = createEvent('inference.completed', { ...data, results: [result] }, { ...ctx, stream });
    expect(parseEventOfType('inference.completed', JSON.parse(JSON.stringify(old)), 'inference.completed.v1').data.results[0]).toEqual(result);

    const timed = { ...result, startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:00:01.250Z', replica: 'http://gpu-1:8000/v1' };
    const current = createEvent('inference.completed', { ...data, results: [timed] }, { ...ctx, stream });
    expect(parseEventOfType('inference.completed', JSON.parse(JSON.stringify(current)), 'inference.completed.v1').data.results[0]).toEqual(timed);
    expect(() => createEvent('inference.completed', { ...data, results: [{ ...timed, startedAt: 'yesterday' }] }, { ...ctx, stream })).toThrow(/startedAt/);
  });
});
