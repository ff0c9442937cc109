import { createEvent, experimentStream, type InferenceBatchRequested, type InferenceCompleted, type PromptResult } from '@assay/contracts';
import { cacheUsage } from '../score/scoring';
import { stagesReusedOf } from '../report/run-report';
import { mayReuseStage, mergeReused, reusableFrom, reusableFromStage } from './reuse';

const identity = 'abcd1234_test';
const ctx = { stream: experimentStream(identity), correlationId: 'r', causationId: null, producer: 'test', codeVersion: 'test' };
const model = { id: 'm', baseUrl: 'http://x/v1', apiKeyEnv: null, temperature: 0, maxTokens: 8, seed: 0, stop: [], guidedJson: false, loraAdapter: null, requestTimeoutS: 60, maxRetries: 0, concurrency: 1 };
const prompt = (n: number, suffix = `q${n}?`) => ({ promptId: `e1/g/q${n}`, group: 'g', item: `q${n}`, suffix, actual: n });

function requested(attempt: number, prefix: string, prompts: ReturnType<typeof prompt>[]): InferenceBatchRequested {
  return createEvent('inference.batch.requested', { identity, attempt, phase: 'full', batchId: 'e1/g/q1', entityId: 'e1', index: 0, prefix, prompts, model }, ctx);
}
const ok = (promptId: string, text: string, extra: Partial<PromptResult> = {}): PromptResult => ({
  promptId,
  status: 'ok',
  outputText: text,
  error: null,
  finishReason: 'stop',
  promptTokens: 40,
  completionTokens: 1,
  cachedTokens: 30,
  latencyMs: 12,
  attempts: 1,
  ...extra,
});
const failed = (promptId: string): PromptResult => ({ ...ok(promptId, ''), status: 'error', outputText: null, error: 'HTTP 400: refused', finishReason: null });
function completed(attempt: number, results: PromptResult[]): InferenceCompleted {
  return createEvent('inference.completed', { identity, attempt, phase: 'full', batchId: 'e1/g/q1', entityId: 'e1', worker: 'w', prefixTokens: 33, results }, ctx);
}

describe('reusableFrom', () => {
  it('given an earlier attempt with answered and failed prompts, when the same prompts come again, then only the answered ones are reused, each naming its attempt and event', () => {
    const earlier = requested(1, 'PROFILE ', [prompt(1), prompt(2), prompt(3)]);
    const done = completed(1, [ok('e1/g/q1', '4'), failed('e1/g/q2'), ok('e1/g/q3', '2')]);
    const reuse = reusableFrom(requested(2, 'PROFILE ', [prompt(1), prompt(2), prompt(3)]).data, earlier, [done]);
    expect([...reuse.results.keys()]).toEqual(['e1/g/q1', 'e1/g/q3']);
    expect(reuse.results.get('e1/g/q1')).toEqual({ ...ok('e1/g/q1', '4'), reusedFrom: { attempt: 1, eventId: done.id } });
    expect(reuse.prefixTokens).toBe(33);
  });

  it('given a prompt whose text changed by one byte, when compared, then it is asked again', () => {
    const earlier = requested(1, 'PROFILE ', [prompt(1), prompt(2)]);
    const reuse = reusableFrom(requested(2, 'PROFILE ', [prompt(1, 'q1? '), prompt(2)]).data, earlier, [completed(1, [ok('e1/g/q1', '4'), ok('e1/g/q2', '5')])]);
    expect([...reuse.results.keys()]).toEqual(['e1/g/q2']);
  });

  it('given a different prefix, when compared, then nothing is reused', () => {
    const earlier = requested(1, 'PROFILE A ', [prompt(1)]);
    const reuse = reusableFrom(requested(2, 'PROFILE B ', [prompt(1)]).data, earlier, [completed(1, [ok('e1/g/q1', '4')])]);
    expect(reuse.results.size).toBe(0);
    expect(reuse.prefixTokens).toBeNull();
  });

  it('given an answer the earlier attempt had reused itself, when reused again, then it keeps pointing at the attempt that called the model', () => {
    const origin = { attempt: 1, eventId: '00000000-0000-4000-8000-000000000009' };
    const earlier = requested(2, 'P ', [prompt(1)]);
    const reuse = reusableFrom(requested(3, 'P ', [prompt(1)]).data, earlier, [completed(2, [ok('e1/g/q1', '4', { reusedFrom: origin })])]);
    expect(reuse.results.get('e1/g/q1')?.reusedFrom).toEqual(origin);
  });
});

describe('mergeReused', () => {
  it('given reused and fresh results, when merged, then they come in the batch order', () => {
    const reused = new Map([['b', ok('b', '1')]]);
    expect(mergeReused([{ promptId: 'a' }, { promptId: 'b' }, { promptId: 'c' }], reused, [ok('c', '3'), ok('a', '2')]).map((r) => r.promptId)).toEqual(['a', 'b', 'c']);
  });

  it('given a prompt with neither, when merged, then it says which', () => {
    expect(() => mergeReused([{ promptId: 'a' }], new Map(), [])).toThrow(/no result for prompt a/);
  });
});

describe('the stage cache', () => {
  const candidate = (from: string, attempt: number, prompts: ReturnType<typeof prompt>[], results: PromptResult[]) => ({
    identity: from,
    attempt,
    request: requested(attempt, 'PROFILE ', prompts),
    completions: [completed(attempt, results)],
  });

  it('given a batch with a stage key, when the attempt was not forced, then it may be reused; forced or without a key, never', () => {
    expect(mayReuseStage({ stageKey: 'k' }, false)).toBe(true);
    expect(mayReuseStage({ stageKey: 'k' }, true)).toBe(false);
    expect(mayReuseStage({}, false)).toBe(false);
  });

  it('given the same batch of the same stage in two other experiments, when choosing, then the one answering the most prompts is reused and every answer names its experiment', () => {
    const partial = candidate('aaaa0001_x', 1, [prompt(1), prompt(2)], [ok('e1/g/q1', '4'), failed('e1/g/q2')]);
    const whole = candidate('bbbb0002_x', 1, [prompt(1), prompt(2)], [ok('e1/g/q1', '4'), ok('e1/g/q2', '5')]);
    const reuse = reusableFromStage(requested(1, 'PROFILE ', [prompt(1), prompt(2)]).data, [partial, whole]);
    expect(reuse.fromIdentity).toBe('bbbb0002_x');
    expect([...reuse.results.values()].map((r) => r.reusedFrom)).toEqual([
      { identity: 'bbbb0002_x', attempt: 1, eventId: whole.completions[0].id },
      { identity: 'bbbb0002_x', attempt: 1, eventId: whole.completions[0].id },
    ]);
  });

  it('given an answer the other experiment itself reused, when reused again, then it keeps its origin', () => {
    const origin = { identity: 'cccc0003_x', attempt: 2, eventId: '6f1c5a3e-8d3b-4c1e-9a57-2b1f0e6d4c3a' };
    const relay = candidate('bbbb0002_x', 1, [prompt(1)], [ok('e1/g/q1', '4', { reusedFrom: origin })]);
    const reuse = reusableFromStage(requested(1, 'PROFILE ', [prompt(1)]).data, [relay]);
    expect(reuse.results.get('e1/g/q1')!.reusedFrom).toEqual(origin);
  });

  it('given no candidate, then nothing is reused', () => {
    expect(reusableFromStage(requested(1, 'PROFILE ', [prompt(1)]).data, []).results.size).toBe(0);
  });

  it('given a batch whose answers were all reused and one asked, when the hit rate is summed, then only the asked one counts', () => {
    const reused = completed(1, [ok('e1/g/q1', '4', { reusedFrom: { identity: 'bbbb0002_x', attempt: 1, eventId: '6f1c5a3e-8d3b-4c1e-9a57-2b1f0e6d4c3a' }, cachedTokens: 40 })]);
    const asked = completed(1, [ok('e1/g/q2', '5', { cachedTokens: 10 })]);
    expect(cacheUsage([reused, asked])).toMatchObject({ promptTokens: 40, cachedTokens: 10 });
    expect(cacheUsage([reused]).hitRate).toBeNull();
  });

  it('given an attempt with reused answers, then the report names each stage, its key and the experiment it came from', () => {
    const from = { identity: 'bbbb0002_x', attempt: 1, eventId: '6f1c5a3e-8d3b-4c1e-9a57-2b1f0e6d4c3a' };
    const stages = [{ name: 'inference', kind: 'llm_inference', key: 'k-full', reads: [], phase: 'full' as const }];
    const done = completed(1, [ok('e1/g/q1', '4', { reusedFrom: from }), ok('e1/g/q2', '5', { reusedFrom: from }), ok('e1/g/q3', '1')]);
    expect(stagesReusedOf({ stages }, [done])).toEqual([{ stage: 'inference', stageKey: 'k-full', fromIdentity: 'bbbb0002_x', batches: 1, prompts: 2 }]);
  });
});
