import { createEvent, experimentStream, itemKey, type InferenceBatchRequested, type InferenceCompleted, type ItemDef, type PromptResult } from '@assay/contracts';
import { DEFAULT_BOOTSTRAP, evaluateRows, joinRows } from '@assay/evaluation';
import { asPrediction, samplesOf, scoreBatch, type ScoredPrediction } from '../score/scoring';
import { AttemptCompletions, entityScoresOf, modelCallRows, sliceRowsOf } from './run-report';

const identity = 'abcd1234_test';
const ctx = { stream: experimentStream(identity), correlationId: 'r', causationId: null, producer: 'test', codeVersion: 'test' };
const model = { id: 'm', baseUrl: 'http://x/v1', apiKeyEnv: null, temperature: 0, maxTokens: 8, seed: 0, stop: [], guidedJson: false, loraAdapter: null, requestTimeoutS: 60, maxRetries: 0, concurrency: 1 };
const items: ItemDef[] = [
  { group: 'b-trust', item: 'q1', question: '', kind: 'ordinal', min: 1, max: 5 },
  { group: 'b-trust', item: 'q2', question: '', kind: 'binary', min: 0, max: 1 },
  { group: 'a-habits', item: 'h1', question: '', kind: 'continuous', min: 0, max: 10 },
  { group: 'a-habits', item: 'h2', question: '', kind: 'ordinal', min: 1, max: 7 },
];
const plannedItemMap = new Map(items.map((i) => [itemKey(i.group, i.item), i]));
const entities = Array.from({ length: 12 }, (_, i) => `e${i}`);
const stages = [{ name: 'inference', phase: 'full' as const, kind: 'model', key: 'k-full', reads: [] }];

function requested(entityId: string): InferenceBatchRequested {
  const prompts = items.map((i, n) => ({ promptId: `${entityId}/${i.group}/${i.item}`, group: i.group, item: i.item, suffix: `${i.item}?`, actual: i.min + ((n + entityId.length) % (i.max - i.min + 1)) }));
  return createEvent('inference.batch.requested', { identity, attempt: 1, phase: 'full', batchId: entityId, entityId, index: 0, prefix: `PROFILE ${entityId} `, prompts, model }, ctx);
}
const result = (promptId: string, text: string, extra: Partial<PromptResult> = {}): PromptResult => ({
  promptId, status: 'ok', outputText: text, error: null, finishReason: 'stop', promptTokens: 40, completionTokens: 1, cachedTokens: 30, latencyMs: 12, attempts: 1, ...extra,
});
function completed(request: InferenceBatchRequested, worker: string, answer: (n: number) => string, extra: Partial<PromptResult> = {}): InferenceCompleted {
  const d = request.data;
  return createEvent('inference.completed', { identity, attempt: 1, phase: 'full', batchId: d.batchId, entityId: d.entityId, worker, prefixTokens: 3, results: d.prompts.map((p, n) => result(p.promptId, answer(n), extra)) }, ctx);
}
/** The part of an event a query cut down to one group would return. */
const requestOfGroup = (r: InferenceBatchRequested, group: string): InferenceBatchRequested => ({ ...r, data: { ...r.data, prompts: r.data.prompts.filter((p) => p.group === group) } });
const completionOf = (c: InferenceCompleted, request: InferenceBatchRequested): InferenceCompleted => ({ ...c, data: { ...c.data, results: c.data.results.filter((x) => request.data.prompts.some((p) => p.promptId === x.promptId)) } });

const requests = entities.map(requested);
const completions = requests.map((r, e) => completed(r, `w${e % 2}`, (n) => String((n * 7 + e * 3) % 6)));
const predictions: ScoredPrediction[] = requests.flatMap((r, e) => scoreBatch(r.data, completions[e], items, 'llm_zero_shot'));

describe('entityScoresOf', () => {
  it('given a run of two groups, when scored a group at a time, then every entity score is the one of the whole run, bit for bit', () => {
    const whole = evaluateRows('llm_zero_shot', joinRows(samplesOf(predictions), predictions.map(asPrediction), items, 'llm_zero_shot'), DEFAULT_BOOTSTRAP, { distributionIntervals: false }).byEntity;
    const byGroup = ['a-habits', 'b-trust'].flatMap((g) => entityScoresOf('llm_zero_shot', predictions.filter((p) => p.group === g), items));
    expect(byGroup.length).toBe(entities.length * 2);
    expect(JSON.stringify(byGroup)).toBe(JSON.stringify(whole));
  });
});

describe('AttemptCompletions', () => {
  it('given a batch answered twice, when folded, then its last answer is the one shown, with its worker and its failover', () => {
    const tally = new AttemptCompletions({ stages });
    const again = completed(requests[0], 'w9', () => '3', { replica: 'http://b/v1', failoverFrom: 'http://a/v1' });
    for (const c of [...completions, again]) tally.add(c);
    expect(tally.lastCompletionOf('e0')).toBe(again.id);
    expect(tally.lastCompletionOf('e1')).toBe(completions[1].id);
    expect(tally.lastCompletionOf('nobody')).toBeUndefined();
    expect(tally.workers()).toEqual(['w0', 'w1', 'w9']);
    expect(tally.anyFailover()).toBe(true);
    const once = new AttemptCompletions({ stages });
    completions.forEach((c) => once.add(c));
    expect([once.anyFailover(), once.workers()]).toEqual([false, ['w0', 'w1']]);
  });

  it('given a completion of a phase no stage has, then it says which', () => {
    expect(() => new AttemptCompletions({ stages: [] }).add(completions[0])).toThrow(/phase full\) belongs to no stage/);
  });
});

describe('sliceRowsOf', () => {
  it('given one group\'s slice of the log, or one entity\'s part of it, then its rows are the whole run\'s rows of that group or entity', () => {
    const group = 'b-trust';
    const slice = {
      requests: requests.map((r) => requestOfGroup(r, group)),
      completions: new Map(requests.map((r, e) => [r.data.batchId, completionOf(completions[e], requestOfGroup(r, group))])),
      predictions: predictions.filter((p) => p.group === group),
    };
    const rows = sliceRowsOf(slice, { fitted: false, items: plannedItemMap, round: 1 });
    const byPrompt = new Map(predictions.map((p) => [p.promptId, p]));
    const whole = requests.flatMap((r, e) => modelCallRows(r, completions[e], byPrompt, plannedItemMap, 1));
    expect(rows).toEqual(whole.filter((r) => r.group === group));
    const entity = requests[1].data.entityId;
    const ofEntity = {
      requests: slice.requests.filter((r) => r.data.entityId === entity),
      completions: slice.completions,
      predictions: slice.predictions.filter((p) => p.entityId === entity),
    };
    expect(sliceRowsOf(ofEntity, { fitted: false, items: plannedItemMap, round: 1 })).toEqual(whole.filter((r) => r.group === group && r.entityId === entity));
  });

  it('given a prompt without a scored prediction of the round, then it names the prompt', () => {
    const group = 'a-habits';
    const slice = { requests: [requestOfGroup(requests[0], group)], completions: new Map(), predictions: [] };
    expect(() => sliceRowsOf(slice, { fitted: false, items: plannedItemMap, round: 2 })).toThrow(/prompt e0\/a-habits\/h1 .* has no scored prediction of round 2/);
  });
});
