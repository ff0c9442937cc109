import { createEvent, experimentStream, type AnyEnvelope } from '@assay/contracts';
import { createTestDatabase } from '../../testing/src/fixtures/database';
import { appendToStream, VersionConflictError } from './append';
import { deadLetteredIds, recordDeadLetter } from './bookkeeping';
import { EventStore } from './event-store';
import type { EventPublisher } from './outbox';
import { findEventsOfBatches, forEachEventPage, forEachEventPageKeeping } from './typed-read';
import { committedPromptCount, countElementsInStream, countInStream, findInStream, identitiesStartingWith, readEventsOfTypes, readStream, secondsSinceLastEvent, streamVersion } from './read';

function failed(stream: string, error: string): AnyEnvelope {
  return createEvent(
    'experiment.failed',
    { requestId: null, identity: null, attempt: null, stage: 'config', error, details: [] },
    { stream, correlationId: 'c1', causationId: null, producer: 'test', codeVersion: 'test' },
  );
}

describe('EventStore (real Postgres)', () => {
  let db: { url: string; drop: () => Promise<void> };
  let store: EventStore;
  const published: Array<{ subject: string; id: string }> = [];
  const publisher: EventPublisher = { publish: async (subject, e) => void published.push({ subject, id: e.id }) };

  beforeAll(async () => {
    db = await createTestDatabase('assay_event_store');
    store = await EventStore.open({ url: db.url, publisher });
  }, 60_000);
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  const stream = () => experimentStream(`t${Math.random().toString(16).slice(2, 10)}_test`);

  it('appends with expected versions and rejects a stale writer', async () => {
    const s = stream();
    const [first] = await store.append([{ stream: s, expected: 'no_stream', events: [failed(s, 'a'), failed(s, 'b')] }]);
    expect(first.nextExpectedVersion).toBe(2n);
    await store.append([{ stream: s, expected: 2n, events: [failed(s, 'c')] }]);
    await expect(store.append([{ stream: s, expected: 2n, events: [failed(s, 'd')] }])).rejects.toBeInstanceOf(VersionConflictError);
    await expect(store.append([{ stream: s, expected: 'no_stream', events: [failed(s, 'e')] }])).rejects.toBeInstanceOf(VersionConflictError);
    const events = await store.read((sql) => readStream(sql, s));
    expect(events.map((e) => (e.data as { error: string }).error)).toEqual(['a', 'b', 'c']);
    expect(events.map((e) => e.streamPosition)).toEqual([1n, 2n, 3n]);
  });

  it('treats re-appending the same message ids as already done', async () => {
    const s = stream();
    const events = [failed(s, 'x')];
    await store.append([{ stream: s, expected: 'no_stream', events }]);
    const [again] = await store.append([{ stream: s, expected: 'no_stream', events }]);
    expect(again.alreadyAppended).toBe(true);
    expect(await store.read((sql) => streamVersion(sql, s))).toBe(1n);
  });

  it('publishes only after commit, and never what was rolled back', async () => {
    const s = stream();
    const e = failed(s, 'rolled back');
    await expect(
      store.transaction(async (sql) => {
        await appendToStream(sql, s, [e], 'any');
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(published.find((p) => p.id === e.id)).toBeUndefined();
    expect(await store.read((sql) => readStream(sql, s))).toHaveLength(0);
    const ok = failed(s, 'committed');
    await store.append([{ stream: s, expected: 'any', events: [ok] }]);
    expect(published.find((p) => p.id === ok.id)?.subject).toBe('experiment.failed.v1');
  });

  it('refuses UPDATE and DELETE on the log', async () => {
    await expect(store.read((sql) => sql.query("UPDATE events SET type = 'x'"))).rejects.toThrow(/append-only/);
    await expect(store.read((sql) => sql.query('DELETE FROM events'))).rejects.toThrow(/append-only/);
  });

  it('handles a message once: a second delivery does nothing', async () => {
    const s = stream();
    const trigger = failed(s, 'trigger');
    let effects = 0;
    const run = () =>
      store.handle('test-consumer', trigger.id, async () => {
        effects++;
        return [{ stream: s, expected: 'any', events: [failed(s, `effect ${effects}`)] }];
      });
    expect((await run()).duplicate).toBe(false);
    expect((await run()).duplicate).toBe(true);
    expect(effects).toBe(1);
    expect(await store.read((sql) => readStream(sql, s))).toHaveLength(1);
  });

  describe('handleEach: several messages in one transaction (group commit)', () => {
    const errors = (events: Array<{ data: unknown }>) => events.map((e) => (e.data as { error: string }).error);
    // Each message appends one event at the version the events before it (in the log or earlier in the group) leave.
    const appendAtVersion = (s: string, label: (index: number) => string) => async (sql: Parameters<Parameters<EventStore['handleEach']>[2]>[0], index: number) => {
      const version = await streamVersion(sql, s);
      return [{ stream: s, expected: version, events: [failed(s, label(index))] }];
    };

    it('given three messages, when handled in one transaction, then each sees the appends of those before it and all are published after the commit', async () => {
      const s = stream();
      const ids = [failed(s, 'm0').id, failed(s, 'm1').id, failed(s, 'm2').id];
      const results = await store.handleEach('group-consumer', ids, appendAtVersion(s, (i) => `m${i}`));
      expect(results.map((r) => r.duplicate)).toEqual([false, false, false]);
      const events = await store.read((sql) => readStream(sql, s));
      expect(errors(events)).toEqual(['m0', 'm1', 'm2']);
      expect(events.map((e) => e.streamPosition)).toEqual([1n, 2n, 3n]);
      expect(published.filter((p) => events.some((e) => e.id === p.id))).toHaveLength(3);
    });

    it('given a message handled before and one that comes twice in the group, when the group is handled, then each is skipped as a duplicate and the rest are handled once', async () => {
      const s = stream();
      const [before, twice, fresh] = [failed(s, 'a').id, failed(s, 'b').id, failed(s, 'c').id];
      await store.handleEach('group-consumer', [before], appendAtVersion(s, () => 'before'));
      const seen: number[] = [];
      const results = await store.handleEach('group-consumer', [before, twice, twice, fresh], async (sql, index) => {
        seen.push(index);
        return appendAtVersion(s, (i) => `group ${i}`)(sql, index);
      });
      expect(results.map((r) => r.duplicate)).toEqual([true, false, true, false]);
      expect(results.map((r) => r.appended.length)).toEqual([0, 1, 0, 1]);
      expect(seen).toEqual([1, 3]);
      expect(errors(await store.read((sql) => readStream(sql, s)))).toEqual(['before', 'group 1', 'group 3']);
    });

    it('given a group where one message\'s effects throw, when it is handled, then nothing of any message is stored, and a redelivery handles every one', async () => {
      const s = stream();
      const ids = [failed(s, 'a').id, failed(s, 'b').id, failed(s, 'c').id];
      await expect(
        store.handleEach('group-consumer', ids, async (sql, index) => {
          if (index === 1) throw new Error('the second decision fails');
          return appendAtVersion(s, (i) => `first try ${i}`)(sql, index);
        }),
      ).rejects.toThrow('the second decision fails');
      expect(await store.read((sql) => readStream(sql, s))).toHaveLength(0);
      const again = await store.handleEach('group-consumer', ids, appendAtVersion(s, (i) => `redelivered ${i}`));
      expect(again.map((r) => r.duplicate)).toEqual([false, false, false]);
      expect(errors(await store.read((sql) => readStream(sql, s)))).toEqual(['redelivered 0', 'redelivered 1', 'redelivered 2']);
    });

    it('given a message whose append expects a version the group has moved past, when the group is handled, then it fails with a version conflict and nothing is stored', async () => {
      const s = stream();
      const ids = [failed(s, 'a').id, failed(s, 'b').id];
      // Both decided on the empty stream: the second is stale once the first appended.
      const outcome = store.handleEach('group-consumer', ids, async (_sql, index) => [{ stream: s, expected: 'no_stream', events: [failed(s, `stale ${index}`)] }]);
      await expect(outcome).rejects.toBeInstanceOf(VersionConflictError);
      expect(await store.read((sql) => readStream(sql, s))).toHaveLength(0);
      const fresh = await store.handleEach('group-consumer', ids, appendAtVersion(s, (i) => `fresh ${i}`));
      expect(fresh.map((r) => r.duplicate)).toEqual([false, false]);
    });
  });

  it('serialises concurrent writers of one stream without losing any', async () => {
    const s = stream();
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.append([{ stream: s, expected: 'any', events: [failed(s, `w${i}`)] }])));
    const events = await store.read((sql) => readStream(sql, s));
    expect(events.map((e) => e.streamPosition)).toEqual(Array.from({ length: 20 }, (_, i) => BigInt(i + 1)));
  });

  it('matches an evaluation round, counting events logged before rounds existed as round 1, from the index', async () => {
    const s = stream();
    const scored = (batchId: string, round: number | null) => {
      const e = createEvent(
        'evaluation.batch.scored',
        { identity: 'x', attempt: 1, round: round ?? 1, phase: 'full', batchId, evaluatorVersion: 'eval/v1', predictions: [] },
        { stream: s, correlationId: 'c1', causationId: null, producer: 'test', codeVersion: 'test' },
      );
      if (round !== null) return e;
      const { round: _round, ...old } = e.data; // as logged before rounds existed
      return { ...e, data: old } as AnyEnvelope;
    };
    await store.append([{ stream: s, expected: 'any', events: [scored('b1', null), scored('b2', 1), scored('b1', 2)] }]);
    await store.read(async (sql) => {
      expect(await countInStream(sql, s, 'evaluation.batch.scored', { attempt: 1, phase: 'full', round: 1 })).toBe(2);
      expect((await findInStream(sql, s, 'evaluation.batch.scored', { attempt: 1, phase: 'full', round: 2 })).map((e) => (e.data as { batchId: string }).batchId)).toEqual(['b1']);
      expect(await countInStream(sql, s, 'evaluation.batch.scored', { attempt: 1, phase: 'full' })).toBe(3);
      // The round is read from the expression index, not from each (large, toasted) row.
      await sql.query('SET LOCAL enable_seqscan = off');
      const plan = await sql.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN SELECT count(*) FROM events WHERE stream = $1 AND type = 'evaluation.batch.scored' AND (data->>'attempt') = '1' AND (data->>'phase') = 'full' AND coalesce(data->>'round', '1') = '1'`,
        [s],
      );
      expect(plan.map((r) => r['QUERY PLAN']).join('\n')).toMatch(/Index Cond: .*COALESCE/);
    });
    await expect(store.read((sql) => countInStream(sql, s, 'evaluation.batch.scored', { attempt: 1, surprise: 'x' } as never))).rejects.toThrow(/data\.surprise: not an indexed field/);
  });

  it('given a run\'s scored batches and other events between them, when read page by page, then every matching event comes once, in stream order, a page at a time', async () => {
    const s = stream();
    const scored = (batchId: string, attempt: number) =>
      createEvent(
        'evaluation.batch.scored',
        { identity: 'x', attempt, round: 1, phase: 'full', batchId, evaluatorVersion: 'eval/v1', predictions: [] },
        { stream: s, correlationId: 'c1', causationId: null, producer: 'test', codeVersion: 'test' },
      );
    const events = Array.from({ length: 7 }, (_, i) => [scored(`b${i}`, 1), scored(`b${i}`, 2), failed(s, `e${i}`)]).flat();
    await store.append([{ stream: s, expected: 'any', events }]);
    const pages: string[][] = [];
    await store.read((sql) => forEachEventPage(sql, s, 'evaluation.batch.scored', { attempt: 1, phase: 'full' }, 3, (page) => void pages.push(page.map((e) => e.data.batchId))));
    expect(pages).toEqual([['b0', 'b1', 'b2'], ['b3', 'b4', 'b5'], ['b6']]);
    const exact: string[][] = [];
    await store.read((sql) => forEachEventPage(sql, s, 'evaluation.batch.scored', { attempt: 2 }, 7, (page) => void exact.push(page.map((e) => e.data.batchId))));
    expect(exact).toEqual([['b0', 'b1', 'b2', 'b3', 'b4', 'b5', 'b6']]);
  });

  it('counts the prompts of committed batch outcomes once per batch, for one attempt and phase (what an attaching CLI starts from)', async () => {
    const identity = `c${Math.random().toString(16).slice(2, 9)}_test`;
    const s = experimentStream(identity);
    const ctx = { stream: s, correlationId: 'c1', causationId: null, producer: 'test', codeVersion: 'test' };
    const model = { id: 'm', baseUrl: 'http://x/v1', apiKeyEnv: null, temperature: 0, maxTokens: 4, seed: 0, stop: [], guidedJson: false, loraAdapter: null, requestTimeoutS: 60, maxRetries: 0, concurrency: 1 };
    const ref = (batchId: string, attempt = 1, phase: 'smoke' | 'full' = 'full') => ({ identity, attempt, phase, batchId, entityId: batchId });
    const requested = (batchId: string, prompts: number, attempt = 1) =>
      createEvent(
        'inference.batch.requested',
        { ...ref(batchId, attempt), index: 0, prefix: 'p', prompts: Array.from({ length: prompts }, (_, i) => ({ promptId: `${batchId}-${i}`, group: 'g', item: 'i', suffix: 's', actual: 1 })), model },
        ctx,
      );
    const result = (promptId: string) => ({ promptId, status: 'ok' as const, outputText: '1', error: null, finishReason: 'stop', promptTokens: 1, completionTokens: 1, cachedTokens: null, latencyMs: 1, attempts: 1 });
    const completed = (batchId: string, prompts: number, attempt = 1, phase: 'smoke' | 'full' = 'full') =>
      createEvent('inference.completed', { ...ref(batchId, attempt, phase), worker: 'w', prefixTokens: null, results: Array.from({ length: prompts }, (_, i) => result(`${batchId}-${i}`)) }, ctx);
    await store.append([
      {
        stream: s,
        expected: 'any',
        events: [
          requested('b1', 3),
          requested('b2', 2),
          requested('b3', 4),
          completed('b1', 3),
          createEvent('inference.failed', { ...ref('b2'), worker: 'w', error: 'every prompt failed' }, ctx),
          completed('b1', 3), // the same batch committed twice (two workers raced): counted once
          completed('x1', 5, 2), // another attempt
          completed('x2', 7, 1, 'smoke'), // another phase
          requested('b2', 6, 2), // the same batch in another attempt, failed there too: each attempt counts its own request
          createEvent('inference.failed', { ...ref('b2', 2), worker: 'w', error: 'every prompt failed' }, ctx),
        ],
      },
    ]);
    await store.read(async (sql) => {
      expect(await committedPromptCount(sql, s, 1, 'full')).toBe(5);
      expect(await committedPromptCount(sql, s, 2, 'full')).toBe(5 + 6);
      expect(await committedPromptCount(sql, s, 3, 'full')).toBe(0);
    });
  });

  it('finds the identities a prefix begins, from the log, taking the prefix literally', async () => {
    const tag = Math.random().toString(16).slice(2, 8);
    const skipped = (identity: string) =>
      createEvent(
        'experiment.skipped',
        { requestId: '11111111-1111-4111-8111-111111111111', identity, reason: 'already_running', attempt: 1, runDir: '/r' },
        { stream: experimentStream(identity), correlationId: 'c1', causationId: null, producer: 'test', codeVersion: 'test' },
      );
    const a = `${tag}aa_test`;
    const b = `${tag}ab_test`;
    await store.append([
      { stream: experimentStream(a), expected: 'any', events: [skipped(a), skipped(a)] },
      { stream: experimentStream(b), expected: 'any', events: [skipped(b)] },
    ]);
    await store.read(async (sql) => {
      expect(await identitiesStartingWith(sql, `${tag}a`)).toEqual([a, b]);
      expect(await identitiesStartingWith(sql, `${tag}ab`)).toEqual([b]);
      expect(await identitiesStartingWith(sql, `${tag}%`)).toEqual([]);
    });
  });

  it('given scored batches, when elements are counted by a field, then Postgres counts across the matching events only', async () => {
    const s = stream();
    const identity = s.slice('experiment-'.length);
    const prediction = (parseStatus: string) => ({ entityId: 'e', group: 'g', item: 'i', promptId: `p${Math.random()}`, actual: 1, predicted: null, parseStatus, parseError: 'x', outlier: false, metadata: {}, method: 'm' });
    const scored = (attempt: number, statuses: string[]) =>
      createEvent(
        'evaluation.batch.scored',
        { identity, attempt, round: 1, phase: 'full', batchId: `b${Math.random()}`, evaluatorVersion: 'v', predictions: statuses.map(prediction) as never },
        { stream: s, correlationId: 'c1', causationId: null, producer: 'test', codeVersion: 'test' },
      );
    await store.append([{ stream: s, expected: 'any', events: [scored(1, ['ok', 'inference_failure']), scored(1, ['inference_failure', 'inference_failure']), scored(2, ['inference_failure'])] }]);
    const failures = { array: 'predictions', field: 'parseStatus', value: 'inference_failure' };
    expect(await store.read((sql) => countElementsInStream(sql, s, 'evaluation.batch.scored', { attempt: 1, phase: 'full' }, failures))).toBe(3);
    expect(await store.read((sql) => countElementsInStream(sql, s, 'evaluation.batch.scored', { attempt: 3 }, failures))).toBe(0);
  });

  it('given requests and completions, when requests are read a page at a time and each page reads its batches\' completions before the next, then every request comes once, in order, with its batches\' completions', async () => {
    const identity = `k${Math.random().toString(16).slice(2, 9)}_test`;
    const s = experimentStream(identity);
    const ctx = { stream: s, correlationId: 'c1', causationId: null, producer: 'test', codeVersion: 'test' };
    const model = { id: 'm', baseUrl: 'http://x/v1', apiKeyEnv: null, temperature: 0, maxTokens: 4, seed: 0, stop: [], guidedJson: false, loraAdapter: null, requestTimeoutS: 60, maxRetries: 0, concurrency: 1 };
    const ref = (batchId: string, attempt = 1) => ({ identity, attempt, phase: 'full' as const, batchId, entityId: batchId });
    const requested = (batchId: string, attempt = 1) =>
      createEvent('inference.batch.requested', { ...ref(batchId, attempt), index: 0, prefix: `prefix of ${batchId}`, prompts: [{ promptId: `${batchId}-0`, group: 'g', item: 'q', suffix: 's', actual: 1 }], model }, ctx);
    const result = (promptId: string) => ({ promptId, status: 'ok' as const, outputText: '1', error: null, finishReason: 'stop', promptTokens: 1, completionTokens: 1, cachedTokens: null, latencyMs: 1, attempts: 1 });
    const completed = (batchId: string, worker = 'w') => createEvent('inference.completed', { ...ref(batchId), worker, prefixTokens: null, results: [result(`${batchId}-0`)] }, ctx);
    await store.append([
      {
        stream: s,
        expected: 'any',
        events: [requested('b1'), requested('b2'), completed('b1'), requested('b3'), requested('b4', 2), completed('b3'), requested('b5'), completed('b1', 'w2')],
      },
    ]);
    const pages: Array<Array<[string, string[]]>> = [];
    await store.read((sql) =>
      forEachEventPage(sql, s, 'inference.batch.requested', { attempt: 1, phase: 'full' }, 2, async (page) => {
        const completions = await findEventsOfBatches(sql, s, 'inference.completed', { attempt: 1, phase: 'full' }, page.map((e) => e.data.batchId));
        pages.push(page.map((e) => [e.data.batchId, completions.filter((c) => c.data.batchId === e.data.batchId).map((c) => c.data.worker)]));
      }),
    );
    // b4 is another attempt; b1 was answered twice, both in log order; b2 not yet.
    expect(pages).toEqual([
      [['b1', ['w', 'w2']], ['b2', []]],
      [['b3', ['w']], ['b5', []]],
    ]);
    expect(await store.read((sql) => findEventsOfBatches(sql, s, 'inference.completed', {}, []))).toEqual([]);
  });

  it('given batches whose prompts span item groups, when one group is read a page at a time, then only its prompts come back, in order, and batches with none are skipped', async () => {
    const identity = `k${Math.random().toString(16).slice(2, 9)}_test`;
    const s = experimentStream(identity);
    const ctx = { stream: s, correlationId: 'c1', causationId: null, producer: 'test', codeVersion: 'test' };
    const model = { id: 'm', baseUrl: 'http://x/v1', apiKeyEnv: null, temperature: 0, maxTokens: 4, seed: 0, stop: [], guidedJson: false, loraAdapter: null, requestTimeoutS: 60, maxRetries: 0, concurrency: 1 };
    const ref = (batchId: string, attempt = 1) => ({ identity, attempt, phase: 'full' as const, batchId, entityId: batchId });
    const requested = (batchId: string, groups: string[], attempt = 1) =>
      createEvent(
        'inference.batch.requested',
        { ...ref(batchId, attempt), index: 0, prefix: `prefix of ${batchId}`, prompts: groups.map((group, i) => ({ promptId: `${batchId}-${i}`, group, item: `q${i}`, suffix: 's', actual: 1 })), model },
        ctx,
      );
    const result = (promptId: string) => ({ promptId, status: 'ok' as const, outputText: '1', error: null, finishReason: 'stop', promptTokens: 1, completionTokens: 1, cachedTokens: null, latencyMs: 1, attempts: 1 });
    const completed = (batchId: string, prompts: number) => createEvent('inference.completed', { ...ref(batchId), worker: 'w', prefixTokens: null, results: Array.from({ length: prompts }, (_, i) => result(`${batchId}-${i}`)) }, ctx);
    await store.append([
      {
        stream: s,
        expected: 'any',
        events: [
          requested('b1', ['a', 'b', 'a']),
          requested('b2', ['b']),
          requested('b3', ['a', "o'dd \"group\""]),
          requested('b4', ['a'], 2), // another attempt
          requested('b5', ['a']),
          completed('b1', 3),
          completed('b3', 2),
        ],
      },
    ]);
    const pages: Array<Array<[string, string[]]>> = [];
    const ofGroup = (group: string) => ({ array: 'prompts', field: 'group', values: [group] });
    await store.read((sql) =>
      forEachEventPageKeeping(sql, s, 'inference.batch.requested', { attempt: 1, phase: 'full' }, ofGroup('a'), 2, (page) => void pages.push(page.map((e) => [e.data.batchId, e.data.prompts.map((p) => p.promptId)]))),
    );
    // Pages of two events are chosen before the cut (b1 b2, then b3 b5: b4 is another attempt), and b2 keeps nothing.
    expect(pages).toEqual([[['b1', ['b1-0', 'b1-2']]], [['b3', ['b3-0']], ['b5', ['b5-0']]]]);
    const odd: string[] = [];
    await store.read((sql) => forEachEventPageKeeping(sql, s, 'inference.batch.requested', { attempt: 1 }, ofGroup("o'dd \"group\""), 10, (page) => void odd.push(...page.flatMap((e) => e.data.prompts.map((p) => p.promptId)))));
    expect(odd).toEqual(['b3-1']);
  });

  it('given a stream, when asked how long it has been silent, then the database clock says (null for no stream)', async () => {
    const s = stream();
    expect(await store.read((sql) => secondsSinceLastEvent(sql, s))).toBeNull();
    await store.append([{ stream: s, expected: 'no_stream', events: [failed(s, 'a')] }]);
    const idle = await store.read((sql) => secondsSinceLastEvent(sql, s));
    expect(idle).toBeGreaterThanOrEqual(0);
    expect(idle).toBeLessThan(60);
  });

  it('given a decision that appends, when decideAndAppend commits, then its events are published after commit and its result returned; a decision to append nothing publishes nothing', async () => {
    const s = stream();
    const before = published.length;
    const e = failed(s, 'decided');
    expect(await store.decideAndAppend(async () => ({ appends: [{ stream: s, expected: 'no_stream', events: [e] }], result: 'appended' }))).toBe('appended');
    expect(published.slice(before).map((p) => p.id)).toEqual([e.id]);
    expect(await store.decideAndAppend(async () => ({ appends: [], result: 'nothing' }))).toBe('nothing');
    expect(published.length).toBe(before + 1);
  });

  it('given dead letters, when asked which of some message ids were given up on, then exactly those are named', async () => {
    const [kept, other] = [failed(stream(), 'kept'), failed(stream(), 'other')];
    await store.transaction((sql) => recordDeadLetter(sql, { consumer: 'c', subject: 's', messageId: kept.id, reason: 'r', payload: '{}' }));
    expect(await store.read((sql) => deadLetteredIds(sql, [kept.id, other.id]))).toEqual(new Set([kept.id]));
    expect(await store.read((sql) => deadLetteredIds(sql, []))).toEqual(new Set());
  });

  it('given events of several types, when read by type before a position, then only those logged before it come, in log order', async () => {
    const s = stream();
    const [a, b] = [failed(s, 'a'), failed(s, 'b')];
    await store.append([{ stream: s, expected: 'no_stream', events: [a, b] }]);
    const mine = (events: Array<{ id: string }>) => events.map((e) => e.id).filter((id) => id === a.id || id === b.id);
    const all = await store.read((sql) => readEventsOfTypes(sql, ['experiment.failed']));
    expect(mine(all)).toEqual([a.id, b.id]);
    const positionOfB = all.find((e) => e.id === b.id)!.globalPosition;
    expect(mine(await store.read((sql) => readEventsOfTypes(sql, ['experiment.failed'], { before: positionOfB })))).toEqual([a.id]);
  });
});
