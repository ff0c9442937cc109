import { compareCodeUnits, itemKey, sampleKey } from '@assay/contracts';
import type { ItemDef, ParseStatus } from '@assay/contracts';

/**
 * One evaluation's samples, and one method's answers to them, as columns of typed arrays: what
 * evaluate() and its bootstraps work on. A run of 300K samples is a few MB here, where one object
 * per sample (and per prediction, per baseline) took hundreds.
 *
 * Rows are sorted by group, item, entity id (code units), the order every sum of evaluate() adds
 * its terms in: items are indexed in (group, item) order and entities in id order, so a row's
 * position follows from (item index, entity index).
 */
export interface SampleTable {
  /** The items the samples may refer to, sorted by group then item. */
  items: ItemDef[];
  /** Ids of the entities that have a sample, sorted (code units): the bootstrap's clusters. */
  entityIds: string[];
  size: number;
  item: Int32Array;
  entity: Int32Array;
  actual: Float64Array;
  /** Row of (item j, entity e) at j * entityIds.length + e; -1 when that cell has no sample. */
  grid: Int32Array;
  /** Item index by itemKey, entity index by id. */
  itemIndex: Map<string, number>;
  entityIndex: Map<string, number>;
}

/** How a row was answered: a usable value, a parse or inference failure, or no prediction at all (counted as an inference failure). */
export const ANSWER_OK = 0;
export const ANSWER_PARSE_FAILURE = 1;
export const ANSWER_INFERENCE_FAILURE = 2;
export const ANSWER_MISSING = 3;

const STATUS_CODE: Record<ParseStatus, number> = { ok: ANSWER_OK, parse_failure: ANSWER_PARSE_FAILURE, inference_failure: ANSWER_INFERENCE_FAILURE };

/** One method's answers to a SampleTable, row by row. */
export interface AnswerColumns {
  method: string;
  /** The usable value; NaN when the row has none (status not ANSWER_OK). */
  predicted: Float64Array;
  status: Uint8Array;
  outlier: Uint8Array;
}

/** A baseline that answers every row of a table straight into columns (no object per answer). */
export interface TableBaseline {
  method: string;
  answer: (table: SampleTable) => AnswerColumns;
}

/** Failures of one kind: how many, and the first few by sample key with their reasons (what the review shows). */
export interface FailureExamples {
  count: number;
  first: Array<{ key: string; error: string }>;
}

/** Failure examples the review shows per kind. */
export const FAILURE_EXAMPLES = 3;

export function noFailures(): FailureExamples {
  return { count: 0, first: [] };
}

/** Counts a failure and keeps it if it is among the FAILURE_EXAMPLES smallest sample keys. */
export function addFailure(failures: FailureExamples, key: string, error: string): void {
  failures.count++;
  const first = failures.first;
  if (first.length === FAILURE_EXAMPLES && compareCodeUnits(key, first[first.length - 1].key) >= 0) return;
  let at = first.length;
  while (at > 0 && compareCodeUnits(key, first[at - 1].key) < 0) at--;
  first.splice(at, 0, { key, error });
  if (first.length > FAILURE_EXAMPLES) first.pop();
}

/** A method's answers with the failures the review names. */
export interface TableAnswers {
  answers: AnswerColumns;
  parseFailures: FailureExamples;
  inferenceFailures: FailureExamples;
}

/** A growable typed array (doubling), so rows are collected without one object each. */
class Growing<T extends Int32Array | Float64Array | Uint8Array> {
  length = 0;
  constructor(
    private data: T,
    private readonly make: (n: number) => T,
  ) {}

  push(v: number): void {
    if (this.length === this.data.length) {
      const bigger = this.make(Math.max(16, this.data.length * 2));
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = v;
  }

  at(i: number): number {
    return this.data[i];
  }
}

const int32 = (n: number): Int32Array => new Int32Array(n);
const float64 = (n: number): Float64Array => new Float64Array(n);
const uint8 = (n: number): Uint8Array => new Uint8Array(n);

/** Checks the item definitions (no duplicate, a valid range) and sorts them by group, item. */
export function sortedItems(items: readonly ItemDef[]): ItemDef[] {
  const seen = new Set<string>();
  for (const it of items) {
    const key = itemKey(it.group, it.item);
    if (seen.has(key)) throw new Error(`duplicate item ${key}`);
    if (!Number.isFinite(it.min) || !Number.isFinite(it.max) || !(it.min < it.max)) {
      throw new Error(`item ${key} has an invalid range [${it.min}, ${it.max}]: min < max required`);
    }
    seen.add(key);
  }
  return [...items].sort((a, b) => compareCodeUnits(a.group, b.group) || compareCodeUnits(a.item, b.item));
}

interface Cell {
  entityId: string;
  group: string;
  item: string;
}

/**
 * Collects samples and predictions one at a time (from a page of events, a baseline, a list) into
 * columns, then joins them (build): the join evaluate() always did, with the same checks, without
 * an object per row. `method`, when given, is required of every prediction.
 */
export class TableBuilder {
  private readonly items: ItemDef[];
  private readonly itemIndex = new Map<string, number>();
  private readonly entityOrder = new Map<string, number>();
  private readonly entityIdsSeen: string[] = [];
  private readonly sampleItem = new Growing(int32(0), int32);
  private readonly sampleEntity = new Growing(int32(0), int32);
  private readonly sampleActual = new Growing(float64(0), float64);
  private readonly predItem = new Growing(int32(0), int32);
  private readonly predEntity = new Growing(int32(0), int32);
  private readonly predValue = new Growing(float64(0), float64);
  private readonly predStatus = new Growing(uint8(0), uint8);
  private readonly predOutlier = new Growing(uint8(0), uint8);
  private readonly parseFailures = noFailures();
  private readonly inferenceFailures = noFailures();

  constructor(
    items: readonly ItemDef[],
    private readonly method?: string,
  ) {
    this.items = sortedItems(items);
    this.items.forEach((it, j) => this.itemIndex.set(itemKey(it.group, it.item), j));
  }

  private itemOf(s: { group: string; item: string }): number {
    const j = this.itemIndex.get(itemKey(s.group, s.item));
    if (j === undefined) throw new Error(`no item definition for ${itemKey(s.group, s.item)}`);
    return j;
  }

  private entityOf(entityId: string): number {
    let e = this.entityOrder.get(entityId);
    if (e === undefined) {
      e = this.entityIdsSeen.length;
      this.entityOrder.set(entityId, e);
      this.entityIdsSeen.push(entityId);
    }
    return e;
  }

  addSample(s: Cell & { actual: number }): void {
    if (!Number.isFinite(s.actual)) throw new Error(`sample ${sampleKey(s)} has a non-finite actual value ${s.actual}`);
    this.sampleItem.push(this.itemOf(s));
    this.sampleEntity.push(this.entityOf(s.entityId));
    this.sampleActual.push(s.actual);
  }

  addPrediction(p: Cell & { method: string; predicted: number | null; parseStatus: ParseStatus; parseError?: string; outlier: boolean }): void {
    if (this.method !== undefined && p.method !== this.method) {
      throw new Error(`prediction ${sampleKey(p)} is from method ${JSON.stringify(p.method)}, expected ${JSON.stringify(this.method)}`);
    }
    const j = this.itemOf(p);
    checkPrediction(p, this.items[j]);
    this.predItem.push(j);
    this.predEntity.push(this.entityOf(p.entityId));
    this.predValue.push(p.parseStatus === 'ok' ? (p.predicted as number) : Number.NaN);
    this.predStatus.push(STATUS_CODE[p.parseStatus]);
    this.predOutlier.push(p.outlier ? 1 : 0);
    if (p.parseStatus === 'parse_failure') addFailure(this.parseFailures, sampleKey(p), p.parseError ?? '');
    else if (p.parseStatus === 'inference_failure') addFailure(this.inferenceFailures, sampleKey(p), p.parseError ?? '');
  }

  get samples(): number {
    return this.sampleItem.length;
  }

  /** The joined table and answers: throws on a duplicate sample or prediction, or a prediction without a sample. */
  build(): { table: SampleTable; answers: TableAnswers } {
    const seenIds = this.entityIdsSeen;
    // Entities in id order, among those with a sample (a prediction's entity without one is an error below).
    const hasSample = new Uint8Array(seenIds.length);
    for (let i = 0; i < this.sampleEntity.length; i++) hasSample[this.sampleEntity.at(i)] = 1;
    const sampled = seenIds.map((_, e) => e).filter((e) => hasSample[e] === 1);
    sampled.sort((a, b) => compareCodeUnits(seenIds[a], seenIds[b]));
    const rank = new Int32Array(seenIds.length).fill(-1);
    sampled.forEach((e, r) => (rank[e] = r));
    const entityIds = sampled.map((e) => seenIds[e]);
    const entities = entityIds.length;
    const key = (item: number, entity: number): string => sampleKey({ entityId: seenIds[entity], group: this.items[item].group, item: this.items[item].item });
    // A dense grid of (item, entity) cells: a counting sort into row order and the join's index at once.
    const grid = new Int32Array(this.items.length * entities).fill(-1);
    const n = this.sampleItem.length;
    for (let i = 0; i < n; i++) {
      const cell = this.sampleItem.at(i) * entities + rank[this.sampleEntity.at(i)];
      if (grid[cell] !== -1) throw new Error(`duplicate sample ${key(this.sampleItem.at(i), this.sampleEntity.at(i))}`);
      grid[cell] = i;
    }
    const item = new Int32Array(n);
    const entity = new Int32Array(n);
    const actual = new Float64Array(n);
    let row = 0;
    for (let cell = 0; cell < grid.length; cell++) {
      const i = grid[cell];
      if (i === -1) continue;
      item[row] = Math.floor(cell / entities);
      entity[row] = cell % entities;
      actual[row] = this.sampleActual.at(i);
      grid[cell] = row++;
    }
    const table: SampleTable = { items: this.items, entityIds, size: n, item, entity, actual, grid, itemIndex: this.itemIndex, entityIndex: new Map(entityIds.map((id, e) => [id, e])) };
    const answers = emptyAnswers(table, this.method ?? '');
    for (let i = 0; i < this.predItem.length; i++) {
      const r = rank[this.predEntity.at(i)];
      const at = r === -1 ? -1 : grid[this.predItem.at(i) * entities + r];
      if (at === -1) throw new Error(`prediction without a sample: ${key(this.predItem.at(i), this.predEntity.at(i))}`);
      if (answers.status[at] !== ANSWER_MISSING) throw new Error(`duplicate prediction for ${key(this.predItem.at(i), this.predEntity.at(i))}`);
      answers.status[at] = this.predStatus.at(i);
      answers.predicted[at] = this.predValue.at(i);
      answers.outlier[at] = this.predOutlier.at(i);
    }
    return { table, answers: { answers, parseFailures: this.parseFailures, inferenceFailures: this.inferenceFailures } };
  }
}

/** Checks one prediction's internal consistency against its item; throws naming the key. */
export function checkPrediction(p: Cell & { predicted: number | null; parseStatus: ParseStatus; outlier: boolean }, item: ItemDef): void {
  const key = sampleKey(p);
  if (p.parseStatus === 'ok') {
    if (p.predicted === null || !Number.isFinite(p.predicted)) {
      throw new Error(`prediction ${key} has parseStatus ok but predicted ${String(p.predicted)}`);
    }
    const outside = p.predicted < item.min || p.predicted > item.max;
    if (p.outlier !== outside) {
      throw new Error(`prediction ${key}: outlier=${p.outlier} but ${p.predicted} is ${outside ? 'outside' : 'inside'} [${item.min}, ${item.max}]`);
    }
  } else if (p.predicted !== null) {
    throw new Error(`prediction ${key} has parseStatus ${p.parseStatus} but a value ${p.predicted}`);
  }
}

/** Empty answer columns for a table: every row without a prediction until a method fills it in. */
export function emptyAnswers(table: SampleTable, method: string): AnswerColumns {
  return { method, predicted: new Float64Array(table.size).fill(Number.NaN), status: new Uint8Array(table.size).fill(ANSWER_MISSING), outlier: new Uint8Array(table.size) };
}

/** The sample key of a table row (for messages). */
export function rowKey(table: SampleTable, row: number): string {
  const it = table.items[table.item[row]];
  return sampleKey({ entityId: table.entityIds[table.entity[row]], group: it.group, item: it.item });
}
