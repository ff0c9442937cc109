import { requireModelSection } from '@assay/config';
import { itemKey, type AssayEvent, type EventContext, type ExperimentStarted } from '@assay/contracts';
import type { Entity } from '@assay/data';
import { sharedWithOthers } from '@assay/inference';
import { modelCallSettings } from './model-settings';
import { batchRequestEvent, plannedEvent, smokeSentOf, type PlanTotals } from './plan-events';
import { NOTHING_TO_PREDICT, planSource, StageError, type PlannedBatch, type PlannedPrompt, type PlanSource, type PreparedExperiment } from './prepare';

/**
 * A run of events too long to hold at once (a full plan: every batch's prompts), made a page at a
 * time: `count` events, `page(start, end)` makes those at positions [start, end). Deterministic:
 * the same positions give the same events (ids and timestamps aside) on every call.
 */
export interface EventPages<E = AssayEvent> {
  readonly count: number;
  page(start: number, end: number): E[];
}

/** Events already made, as pages. */
export function eventPages<E>(events: readonly E[]): EventPages<E> {
  return { count: events.length, page: (start, end) => events.slice(start, end) };
}

/** The pages of `parts` one after the other. */
export function concatPages<E>(parts: ReadonlyArray<EventPages<E>>): EventPages<E> {
  if (parts.length === 1) return parts[0];
  const count = parts.reduce((n, p) => n + p.count, 0);
  return {
    count,
    page(start, end) {
      checkRange(start, end, count);
      const out: E[] = [];
      let offset = 0;
      for (const part of parts) {
        const from = Math.max(start - offset, 0);
        const to = Math.min(end - offset, part.count);
        if (from < to) out.push(...part.page(from, to));
        offset += part.count;
      }
      return out;
    },
  };
}

/** Every event of the pages, in one array (for a decision appended in one transaction). */
export function allEvents<E>(pages: EventPages<E>): E[] {
  return pages.count === 0 ? [] : pages.page(0, pages.count);
}

function checkRange(start: number, end: number, count: number): void {
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > count || start > end) {
    throw new Error(`event page [${start}, ${end}) is outside the ${count} events`);
  }
}

/** The longest prompt of a plan (prefix + suffix characters) and where it is: the pre-flight counts its tokens. */
export interface LongestPrompt {
  length: number;
  entityId: string;
  item: string;
  text: string;
}

/** The longest prompt of these batches, the first of equally long ones; null when they have none. */
export function longestPrompt(batches: readonly PlannedBatch[], longest: LongestPrompt | null = null): LongestPrompt | null {
  let best = longest;
  let at: { batch: PlannedBatch; prompt: PlannedPrompt } | null = null;
  for (const b of batches) {
    for (const p of b.prompts) {
      const length = b.prefix.length + p.suffix.length;
      if (best === null || length > best.length) {
        best = { length, entityId: b.entityId, item: p.item, text: '' };
        at = { batch: b, prompt: p };
      }
    }
  }
  // The text is put together once, for the winner only.
  return at === null || best === null ? best : { ...best, text: at.batch.prefix + at.prompt.suffix };
}

/**
 * What a whole plan's events need beyond each batch's own prompts, found in one pass over the
 * plan a page at a time: the batches' entities and ids in plan order, the totals for
 * experiment.planned, how much of each prefix another batch's prefix shares (the ideal hit
 * rate), the first batch (the smoke test's) and the longest prompt (the pre-flight's).
 */
export interface PlanOutline {
  /** Per batch, in plan order: its entity (a batch is made again from it) and its id. */
  batchEntities: Entity[];
  batchIds: string[];
  totals: PlanTotals;
  /** Per batch: characters of its prefix another batch's prefix starts with (sharedWithOthers). */
  prefixShared: number[];
  first: PlannedBatch;
  longest: LongestPrompt;
}

/** Entities per page when a plan is read through (PlanOutline) or written (planEventPages): ~30 KB of prompts each. */
export const PLAN_PAGE_ENTITIES = 256;

/** The outline of the plan `source` makes, reading it `pageSize` entities at a time; a plan without a batch is a pre-flight failure. */
export function planOutline(source: PlanSource, pageSize = PLAN_PAGE_ENTITIES): PlanOutline {
  if (!Number.isInteger(pageSize) || pageSize < 1) throw new Error(`planOutline: page size must be a positive integer, got ${pageSize}`);
  const batchEntities: Entity[] = [];
  const batchIds: string[] = [];
  const prefixes: string[] = [];
  const itemsAsked = new Set<string>();
  const groups = new Set<string>();
  let prompts = 0;
  let first: PlannedBatch | null = null;
  let longest: LongestPrompt | null = null;
  const byId = new Map(source.entities.map((e) => [e.entityId, e]));
  for (let start = 0; start < source.entities.length; start += pageSize) {
    const batches = source.batchesOf(source.entities.slice(start, start + pageSize));
    for (const b of batches) {
      batchEntities.push(byId.get(b.entityId)!);
      batchIds.push(b.batchId);
      prefixes.push(b.prefix);
      prompts += b.prompts.length;
      for (const p of b.prompts) {
        itemsAsked.add(itemKey(p.group, p.item));
        groups.add(p.group);
      }
    }
    first ??= batches[0] ?? null;
    longest = longestPrompt(batches, longest);
  }
  if (first === null || longest === null) throw new StageError('preflight', NOTHING_TO_PREDICT);
  return {
    batchEntities,
    batchIds,
    totals: { batches: batchIds.length, prompts, itemsAsked, groups: [...groups].sort() },
    prefixShared: sharedWithOthers(prefixes),
    first,
    longest,
  };
}

/** A plan read through once (planOutline) and made again a page at a time when its events are written. */
export interface PagedPlan {
  source: PlanSource;
  outline: PlanOutline;
}

/** The run's prediction plan, read through once (its outline) and made again page by page when written. */
export function pagedPlan(prepared: PreparedExperiment): PagedPlan {
  const source = planSource(prepared);
  return { source, outline: planOutline(source) };
}

/**
 * The full phase's plan events (planEvents' events, in the same order, with the same data) as
 * pages: each page makes only its own batches, so a process holds one page of prompts at a time
 * whatever the number of entities.
 */
export function planEventPages(
  ctx: EventContext,
  started: Pick<ExperimentStarted['data'], 'identity' | 'attempt'>,
  prepared: PreparedExperiment,
  plan: PagedPlan,
  preflightWarnings: string[],
  stageKey?: string,
): EventPages {
  const { source, outline } = plan;
  const model = modelCallSettings(requireModelSection(prepared.config));
  const smokeSent = smokeSentOf(prepared, outline.first);
  const count = 1 + outline.batchIds.length;
  return {
    count,
    page(start, end) {
      checkRange(start, end, count);
      const events: AssayEvent[] = [];
      if (start === 0 && end > 0) events.push(plannedEvent(ctx, started, prepared, 'full', outline.totals, preflightWarnings, stageKey));
      // Event position p > 0 is the batch at index p - 1.
      const from = Math.max(start, 1) - 1;
      const to = end - 1;
      if (from >= to) return events;
      const batches = source.batchesOf(outline.batchEntities.slice(from, to));
      batches.forEach((b, i) => {
        const index = from + i;
        // The plan is deterministic: a page made again that differs from the outline is a bug, not a plan to write.
        if (b.batchId !== outline.batchIds[index]) throw new Error(`the plan changed between pages: batch ${index} is ${JSON.stringify(b.batchId)}, its outline says ${JSON.stringify(outline.batchIds[index])}`);
        events.push(batchRequestEvent(ctx, started, 'full', b, index, { model, prefixSharedChars: outline.prefixShared[index], smokeSent }, stageKey));
      });
      if (batches.length !== to - from) throw new Error(`the plan changed between pages: entities ${from}..${to - 1} made ${batches.length} batches, not ${to - from}`);
      return events;
    },
  };
}
