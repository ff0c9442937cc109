import { createEvent, experimentStream, type InferenceBatchRequested, type InferenceCompleted, type PromptResult } from '@assay/contracts';
import { mergeReused, reusableFrom } from './reuse';

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
