import { createEvent, experimentStream, type AssayEvent, type EventContext, type ItemDef, type Phase } from '@assay/contracts';
import { fold } from '../experiment/state';
import { earlyBaselinesOf } from './early-baselines';

/* Given the events of a run, when its baselines could be scored ahead, then what they need (or null). */

const IDENTITY = 'aaaa1111_abc12345';
const ctx: EventContext = { stream: experimentStream(IDENTITY), correlationId: '00000000-0000-4000-8000-000000000001', causationId: null, producer: 'test', codeVersion: 'abc12345' };
const ITEMS: ItemDef[] = [{ group: 'g', item: 'q1', question: 'q1?', min: 1, max: 5, kind: 'ordinal' }];
const CONFIG = { name: 'demo', method: 'llm_zero_shot', model: { id: 'm' }, smoke: { enabled: true, examples: 1 }, labels: { mode: 'raw' } };
const started = (smokeOnly = false) =>
  createEvent(
    'experiment.started',
    {
      requestId: ctx.correlationId,
      identity: IDENTITY,
      method: 'llm_zero_shot',
      config: CONFIG,
      configHash: 'ffff',
      identityAlgorithm: 'v1',
      dataHashes: { profiles: 'p', responses: 'r', items: 'i', split: 's' },
      codeVersion: 'abc12345',
      runDir: `/out/${IDENTITY}`,
      warnings: [],
      forced: false,
      smokeOnly,
      host: 'h',
      attempt: 1,
      previousFailure: null,
    },
    ctx,
  );
const planned = (phase: Phase, batches: number) =>
  createEvent(
    'experiment.planned',
    {
      identity: IDENTITY,
      attempt: 1,
      phase,
      batches,
      prompts: batches,
      items: ITEMS,
      split: { path: 's.json', sha256: 's', seed: 1, testFraction: 0.2, train: 1, test: 1, created: false },
      entities: batches,
      groups: ['g'],
      idealCachedTokens: null,
      totalPromptTokens: null,
      preflightWarnings: [],
    },
    ctx,
  );
const requested = (phase: Phase, entity: string) =>
  createEvent(
    'inference.batch.requested',
    {
      identity: IDENTITY,
      attempt: 1,
      phase,
      batchId: `${phase}:${entity}`,
      entityId: entity,
      index: 0,
      prefix: `profile ${entity}`,
      prompts: ITEMS.map((i) => ({ promptId: `${phase}:${entity}:${i.item}`, group: i.group, item: i.item, suffix: '?', actual: 1 })),
      model: { id: 'm', baseUrl: 'http://sim/v1', apiKeyEnv: null, temperature: 0, maxTokens: 8, seed: 0, stop: [], guidedJson: false, loraAdapter: null, requestTimeoutS: 60, maxRetries: 0, concurrency: 1 },
    },
    ctx,
  );
const smokePassed = () => createEvent('evaluation.smoke.checked', { identity: IDENTITY, attempt: 1, passed: true, checks: [], examples: [] }, ctx);
const failed = () => createEvent('experiment.failed', { requestId: ctx.correlationId, identity: IDENTITY, attempt: 1, stage: 'inference', error: 'boom', details: [] }, ctx);
const evaluated = () =>
  createEvent('evaluation.completed', { identity: IDENTITY, attempt: 1, round: 1, evaluatorVersion: 'eval/v3', reevaluation: null, result: {}, cache: { promptTokens: 0, cachedTokens: 0, hitRate: null, idealHitRate: null } }, ctx);

const smokeRun = (): AssayEvent[] => [started(), planned('smoke', 1), requested('smoke', 'e1'), smokePassed()];
const early = (...events: AssayEvent[]) => earlyBaselinesOf(fold(events), 1, 'full');

describe('earlyBaselinesOf', () => {
  it('given every batch of the full run requested, then the baselines can be scored now, on its planned items', () => {
    const got = early(...smokeRun(), planned('full', 2), requested('full', 'e1'), requested('full', 'e2'));
    expect(got).toMatchObject({ phase: 'full', items: ITEMS });
    expect(got?.started.data.identity).toBe(IDENTITY);
  });

  it('given the plan still being appended (a batch not yet requested), then not yet: the samples are not all known', () => {
    expect(early(...smokeRun(), planned('full', 2), requested('full', 'e1'))).toBeNull();
  });

  it('given the smoke test (a gate, not evaluated), then never', () => {
    expect(earlyBaselinesOf(fold([started(), planned('smoke', 1), requested('smoke', 'e1')]), 1, 'smoke')).toBeNull();
  });

  it('given an attempt that ended or was evaluated already, or no such attempt, then nothing to score ahead', () => {
    const all = [...smokeRun(), planned('full', 1), requested('full', 'e1')];
    expect(early(...all, failed())).toBeNull();
    expect(early(...all, evaluated())).toBeNull();
    expect(earlyBaselinesOf(fold(all), 2, 'full')).toBeNull();
  });
});
