import { compareCodeUnits, createEvent, experimentStream, itemKey, type InferenceBatchRequested, type InferenceCompleted, type ItemDef, type PromptResult } from '@assay/contracts';
import { EventStore } from '@assay/event-store';
import { AttemptCompletions, modelCallRows, scoreBatch, type ScoredPrediction } from '@assay/experiments';
import type { PredictionRow } from '@assay/report';
import { createTestDatabase } from '../../../libs/testing/src/fixtures/database';
import { SpooledAttemptRows } from './logged-row-groups';

const identity = 'spool1234_test';
const stream = experimentStream(identity);
const ctx = { stream, correlationId: 'r', causationId: null, producer: 'test', codeVersion: 'test' };
const model = { id: 'm', baseUrl: 'http://x/v1', apiKeyEnv: null, temperature: 0, maxTokens: 8, seed: 0, stop: [], guidedJson: false, loraAdapter: null, requestTimeoutS: 60, maxRetries: 0, concurrency: 1 };
const items: ItemDef[] = [
  { group: 'b-trust', item: 'q1', question: '', kind: 'ordinal', min: 1, max: 5 },
  { group: 'b-trust', item: 'q2', question: '', kind: 'binary', min: 0, max: 1 },
  { group: 'a-habits', item: 'h1', question: '', kind: 'continuous', min: 0, max: 10 },
  { group: "o'dd \"group\"", item: 'x', question: '', kind: 'ordinal', min: 1, max: 7 },
];
const stages = [{ name: 'inference', phase: 'full' as const, kind: 'model', key: 'k-full', reads: [] }];
const ref = (entityId: string, attempt = 1) => ({ identity, attempt, phase: 'full' as const, batchId: `${entityId}@${attempt}`, entityId });

function requested(entityId: string, attempt = 1): InferenceBatchRequested {
  const prompts = items.map((i, n) => ({ promptId: `${entityId}/${attempt}/${i.group}/${i.item}`, group: i.group, item: i.item, suffix: `${i.item}?`, actual: i.min + ((n + entityId.length) % (i.max - i.min + 1)) }));
  return createEvent('inference.batch.requested', { ...ref(entityId, attempt), index: 0, prefix: `PROFILE ${entityId} é🙂\n`.repeat(50), prompts, model }, ctx);
}
const result = (promptId: string, text: string): PromptResult => ({
  promptId, status: 'ok', outputText: text, error: null, finishReason: 'stop', promptTokens: 40, completionTokens: 1, cachedTokens: 30, latencyMs: 12, attempts: 1,
});
function completed(request: InferenceBatchRequested, worker: string, answer: (n: number) => string): InferenceCompleted {
  const d = request.data;
  return createEvent('inference.completed', { ...ref(d.entityId, d.attempt), worker, prefixTokens: 3, results: d.prompts.map((p, n) => result(p.promptId, answer(n))) }, ctx);
}
/** A batch never answered is scored as an inference failure of every prompt. */
const failed = (request: InferenceBatchRequested) => createEvent('inference.failed', { ...ref(request.data.entityId, request.data.attempt), worker: 'w', error: 'gave up' }, ctx);
const predictionsOf = (request: InferenceBatchRequested, completion: InferenceCompleted | undefined) => scoreBatch(request.data, completion ?? failed(request), items, 'llm_zero_shot');
const scored = (request: InferenceBatchRequested, completion: InferenceCompleted | undefined, round = 1) => {
  const { entityId: _entityId, ...batch } = ref(request.data.entityId, request.data.attempt);
  return createEvent('evaluation.batch.scored', { ...batch, round, evaluatorVersion: 'v', predictions: predictionsOf(request, completion) }, ctx);
};

describe('SpooledAttemptRows (real Postgres)', () => {
  let db: { url: string; drop: () => Promise<void> };
  let store: EventStore;
  beforeAll(async () => {
    db = await createTestDatabase('assay_spooled_rows');
    store = await EventStore.open({ url: db.url });
  }, 60_000);
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it('given an attempt spread over pages (a batch answered twice, one never, another attempt and round beside it), when its groups are read, then each group has the rows of the whole log cut to it, prefixes read back as logged, and its predictions in log order', async () => {
    const entities = Array.from({ length: 450 }, (_, i) => `e${i}`);
    const requests = entities.map((e) => requested(e));
    const first = requests.map((r, e) => completed(r, `w${e % 2}`, (n) => String((n * 7 + e * 3) % 6)));
    // e1 answered again later (its last answer is the one shown); e2 never answered.
    const again = completed(requests[1], 'w9', () => '4');
    const completions = first.map((c, e) => (e === 2 ? undefined : e === 1 ? again : c));
    const other = requested('e0', 2);
    const events = [
      ...requests,
      ...first.filter((_, e) => e !== 2),
      again,
      other,
      completed(other, 'w0', () => '1'),
      ...requests.map((r, e) => scored(r, completions[e])),
      scored(requests[0], completions[0], 2),
    ];
    for (let i = 0; i < events.length; i += 500) await store.append([{ stream, expected: 'any', events: events.slice(i, i + 500) }]);

    const tally = new AttemptCompletions({ stages });
    for (const c of [...first.filter((_, e) => e !== 2), again]) tally.add(c);
    const groups = [...new Set(items.map((i) => i.group))];
    const rows = await SpooledAttemptRows.read(store, { stream, attempt: 1, round: 1, method: 'llm_zero_shot', fitted: false, items, groups, completions: tally });
    try {
      const itemMap = new Map(items.map((i) => [itemKey(i.group, i.item), i]));
      const predictions: ScoredPrediction[] = requests.flatMap((r, e) => predictionsOf(r, completions[e]));
      const byPrompt = new Map(predictions.map((p) => [p.promptId, p]));
      const whole = requests.flatMap((r, e) => modelCallRows(r, completions[e], byPrompt, itemMap, 1));
      const seen: string[] = [];
      for await (const group of rows.groups()) {
        const name = group.group;
        seen.push(name);
        const ofGroup = whole.filter((r: PredictionRow) => r.group === name);
        expect(group.entityIds).toEqual([...new Set(ofGroup.map((r) => r.entityId))].sort(compareCodeUnits));
        // An entity's rows at a time, in entityIds order, each as the whole log's rows of that entity.
        const handed: PredictionRow[][] = [];
        for await (const ofEntity of group.entities()) handed.push(ofEntity);
        expect(handed).toEqual(group.entityIds.map((entity) => ofGroup.filter((r) => r.entityId === entity)));
        expect(group.entityScores?.length).toBe(entities.length);
        for (const r of ofGroup.slice(0, 5)) expect(group.prefixes.get(r.prefixId)).toBe(requests.find((q) => q.data.batchId === r.prefixId)?.data.prefix);
        expect(rows.predictions.of(name)).toEqual(predictions.filter((p) => p.group === name));
        for (const entity of group.entityIds.slice(0, 3)) expect(rows.predictions.ofEntity(name, entity)).toEqual(predictions.filter((p) => p.group === name && p.entityId === entity));
      }
      expect(seen).toEqual(["a-habits", 'b-trust', "o'dd \"group\""]);
      expect(whole.find((r) => r.entityId === 'e1')?.worker).toBe('w9');
      expect(whole.find((r) => r.entityId === 'e2')?.outputText).toBeNull();
      expect(rows.anyFailover).toBe(false);
    } finally {
      await rows.close();
    }
  }, 60_000);
});
