import { ExperimentConfig } from '@assay/config';
import type { AssayEvent } from '@assay/contracts';
import { mkdtempSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planEvents } from './plan-events';
import { allEvents, concatPages, eventPages, longestPrompt, planEventPages, planOutline, type EventPages } from './plan-pages';
import { planBatches, planSource, prepareExperiment, StageError, type PlannedBatch, type PreparedExperiment } from './prepare';

/** Pages of the numbers [from, from + count), recording each page asked for. */
function numbers(from: number, count: number, asked: Array<[number, number]> = []): EventPages<number> {
  return { count, page: (start, end) => (asked.push([start, end]), Array.from({ length: end - start }, (_, i) => from + start + i)) };
}

describe('event pages', () => {
  it('given pages of two parts, when a page across both is asked, then the events of each part in order, each part asked only for its own range', () => {
    const asked: Array<[number, number]> = [];
    const pages = concatPages([numbers(0, 3, asked), numbers(100, 4, asked)]);
    expect(pages.count).toBe(7);
    expect(pages.page(2, 5)).toEqual([2, 100, 101]);
    expect(asked).toEqual([[2, 3], [0, 2]]);
  });

  it('given events in an array, when taken as pages and back, then the same events', () => {
    expect(allEvents(eventPages(['a', 'b', 'c']))).toEqual(['a', 'b', 'c']);
    expect(allEvents(concatPages([eventPages<string>([]), eventPages(['a'])]))).toEqual(['a']);
  });

  it('given a page outside the events, when asked, then the error names the range', () => {
    expect(() => concatPages([numbers(0, 2), numbers(0, 2)]).page(3, 5)).toThrow('event page [3, 5) is outside the 4 events');
  });
});

describe('longestPrompt', () => {
  const batch = (entityId: string, prefix: string, suffixes: string[]): PlannedBatch => ({
    batchId: entityId,
    entityId,
    prefix,
    prompts: suffixes.map((suffix, i) => ({ promptId: `${entityId}-${i}`, group: 'g', item: `q${i}`, suffix, actual: 0 })),
  });

  it('given batches read in two pages, when the longest is carried from the first, then it is the first of the equally long ones, with its text', () => {
    const first = longestPrompt([batch('e1', 'abc', ['xy', 'xyz'])]);
    expect(first).toEqual({ length: 6, entityId: 'e1', item: 'q1', text: 'abcxyz' });
    expect(longestPrompt([batch('e2', 'abcd', ['xy'])], first)).toBe(first);
    expect(longestPrompt([batch('e3', 'abcd', ['xyz'])], first)).toEqual({ length: 7, entityId: 'e3', item: 'q0', text: 'abcdxyz' });
  });

  it('given no prompt, when asked, then none', () => {
    expect(longestPrompt([])).toBeNull();
  });
});

describe('planOutline and planEventPages', () => {
  const sample = join(__dirname, '..', '..', '..', '..', 'data', 'sample');
  const ctx = { stream: 'experiment-id1', correlationId: 'c1', causationId: '00000000-0000-4000-8000-000000000000', producer: 'planner', codeVersion: 'v' };
  const started = { identity: 'id1', attempt: 1 };

  async function prepared(method: Record<string, unknown>): Promise<PreparedExperiment> {
    const dir = mkdtempSync(join(tmpdir(), 'assay-pages-'));
    for (const f of ['profiles.csv', 'responses.csv', 'items.csv', 'split.json']) copyFileSync(join(sample, f), join(dir, f));
    const config = ExperimentConfig.parse({
      name: 'pages-test',
      data: { profiles: join(dir, 'profiles.csv'), responses: join(dir, 'responses.csv'), items: join(dir, 'items.csv'), split: join(dir, 'split.json') },
      split: { seed: 42, test_fraction: 0.2 },
      model: { id: 'sim/llm-8b', base_url: 'http://127.0.0.1:9/v1' },
      output_root: '/tmp/unused',
      ...method,
    });
    return prepareExperiment(config, 'test');
  }
  /** An event as stored, but for what differs on every call (its id and time). */
  const comparable = (e: AssayEvent) => JSON.stringify({ ...e, id: undefined, occurredAt: undefined });

  it.each([
    ['zero-shot', { method: 'llm_zero_shot' }],
    ['few-shot (random examples)', { method: 'llm_few_shot', llm_few_shot: { k: 2, selection: 'random', seed: 3 } }],
  ])('given a %s plan read in pages of 3 entities, when its events are made in chunks of 1, 4 and the rest, then they are those of the whole plan, in order', async (_name, method) => {
    const p = await prepared(method);
    const whole = planBatches(p);
    const outline = planOutline(planSource(p), 3);
    expect(outline.batchIds).toEqual(whole.map((b) => b.batchId));
    expect(outline.first).toEqual(whole[0]);
    expect(outline.longest).toEqual(longestPrompt(whole));
    const expected = planEvents(ctx, started, p, whole, 'full', ['w'], 'key1').map(comparable);
    const pages = planEventPages(ctx, started, p, { source: planSource(p), outline }, ['w'], 'key1');
    expect(pages.count).toBe(expected.length);
    const made = [...pages.page(0, 1), ...pages.page(1, 5), ...pages.page(5, pages.count)].map(comparable);
    expect(made).toEqual(expected);
  });

  it('given a plan whose pages no longer make the outline\'s batches, when a page is made, then it is refused naming the batch', async () => {
    const p = await prepared({ method: 'llm_zero_shot' });
    const source = planSource(p);
    const outline = planOutline(source);
    const changed = { entities: source.entities, batchesOf: (some: Parameters<typeof source.batchesOf>[0]) => source.batchesOf(some).map((b) => ({ ...b, batchId: `${b.batchId}-other` })) };
    expect(() => planEventPages(ctx, started, p, { source: changed, outline }, [], 'key1').page(1, 2)).toThrow(/the plan changed between pages: batch 0 is ".*-other", its outline says/);
  });

  it('given a source with no entity to plan, when outlined, then it is a pre-flight failure', () => {
    expect(() => planOutline({ entities: [], batchesOf: () => [] })).toThrow(StageError);
  });
});
