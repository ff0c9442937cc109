import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { ItemDef, ItemKind, itemKey, sampleKey } from '@assay/contracts';
import { DatasetError, type Table, type TableHeader, readTable, readTableRows, where } from './table';

/**
 * One profile row: its cells in file order, raw text (never cast: ids and codes are data). The
 * column names are one array shared by every entity of a dataset, so a wide profile costs one
 * array of values per entity, not a [name, value] pair per cell.
 */
export interface Entity {
  entityId: string;
  /** The profiles file's feature columns (entity_id excluded); values[i] is the cell under featureNames[i]. */
  featureNames: readonly string[];
  values: readonly string[];
}

/** An entity built in code from (column, value) pairs in column order. */
export function entityOf(entityId: string, features: ReadonlyArray<readonly [string, string]>): Entity {
  return { entityId, featureNames: features.map(([name]) => name), values: features.map(([, value]) => value) };
}

/** The entity's (column, value) pairs in column order. */
export function featurePairs(entity: Entity): Array<[string, string]> {
  return entity.values.map((value, i) => [entity.featureNames[i], value]);
}

/** One non-empty response row. `line` is 1-based, header = line 1. */
export interface Observation {
  entityId: string;
  group: string;
  item: string;
  value: number;
  line: number;
}

/** A response row whose value cell was empty: no observation, but counted so it is never silent. */
export interface MissingObservation {
  entityId: string;
  group: string;
  item: string;
  line: number;
}

/**
 * A dataset's observations in file order: what every reader of them needs (a count, a pass, a
 * row by position), met by a plain array (datasets built in code) and by ObservationColumns.
 */
export interface ObservationList extends Iterable<Observation> {
  readonly length: number;
  at(index: number): Observation | undefined;
}

/**
 * Observations stored a column at a time (a loaded responses file): five slots per row, and the
 * id, group and item texts shared between rows (interned), instead of an object and three
 * strings per row. A row is made into an Observation when it is read.
 */
export class ObservationColumns implements ObservationList {
  private readonly entityIds: string[] = [];
  private readonly groups: string[] = [];
  private readonly items: string[] = [];
  private readonly values: number[] = [];
  private readonly lines: number[] = [];

  get length(): number {
    return this.values.length;
  }

  push(o: Observation): void {
    this.entityIds.push(o.entityId);
    this.groups.push(o.group);
    this.items.push(o.item);
    this.values.push(o.value);
    this.lines.push(o.line);
  }

  /** Like Array.prototype.at: a negative index counts from the end; outside the rows, undefined. */
  at(index: number): Observation | undefined {
    const i = Math.trunc(index) < 0 ? Math.trunc(index) + this.length : Math.trunc(index);
    if (!(i >= 0 && i < this.length)) return undefined;
    return { entityId: this.entityIds[i], group: this.groups[i], item: this.items[i], value: this.values[i], line: this.lines[i] };
  }

  *[Symbol.iterator](): IterableIterator<Observation> {
    for (let i = 0; i < this.length; i++) yield this.at(i) as Observation;
  }
}

/** The observations `keep` accepts, in order, as objects (a subset of the list). */
export function observationsWhere(list: ObservationList, keep: (o: Observation) => boolean): Observation[] {
  const kept: Observation[] = [];
  for (const o of list) if (keep(o)) kept.push(o);
  return kept;
}

/**
 * Each entity's observations as their positions in the list (file order), for looking one
 * entity's rows up again (list.at) without holding every row as an object.
 */
export function observationPositionsByEntity(list: ObservationList): Map<string, number[]> {
  const byEntity = new Map<string, number[]>();
  let position = 0;
  for (const o of list) {
    const own = byEntity.get(o.entityId);
    if (own === undefined) byEntity.set(o.entityId, [position]);
    else own.push(position);
    position++;
  }
  return byEntity;
}

/** One shared copy of each distinct text seen (a file's cells repeat: ids, codes, small numbers). */
function interner(): (text: string) => string {
  const known = new Map<string, string>();
  return (text) => {
    const shared = known.get(text);
    if (shared !== undefined) return shared;
    known.set(text, text);
    return text;
  };
}

export interface DatasetFiles {
  profiles: string;
  responses: string;
  items: string;
}

export interface Dataset {
  featureNames: string[];
  /** File order. */
  entities: Entity[];
  /** File order. */
  observations: ObservationList;
  items: ItemDef[];
  files: DatasetFiles;
  /** Rows with an empty value, skipped by loadDataset; checkDataset reports them as a warning. */
  missing?: MissingObservation[];
  /** Input format of each file, so messages can name Parquet rows; CSV when absent. */
  formats?: { profiles: 'csv' | 'parquet'; responses: 'csv' | 'parquet'; items: 'csv' | 'parquet' };
}

export interface OutOfRange {
  line: number;
  entityId: string;
  group: string;
  item: string;
  value: number;
  min: number;
  max: number;
}

export interface DatasetCheck {
  errors: string[];
  warnings: string[];
  outOfRange: OutOfRange[];
}

const RESPONSE_COLUMNS = ['entity_id', 'group', 'item', 'value'] as const;
const ITEM_COLUMNS = ['group', 'item', 'question', 'min', 'max', 'kind'] as const;
/** How many offending rows an aggregated message lists before "... and N more". */
const SHOW = 5;
/** Plain decimal or scientific notation; Number() alone would accept '', ' ', '0x1f' and 'Infinity'. */
const NUMBER_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Item definitions by itemKey(group, item). */
export function itemIndex(items: ItemDef[]): Map<string, ItemDef> {
  return new Map(items.map((it) => [itemKey(it.group, it.item), it]));
}

/** Valid [min, max] per itemKey(group, item). */
export function valueRanges(items: ItemDef[]): Map<string, { min: number; max: number }> {
  return new Map(items.map((it) => [itemKey(it.group, it.item), { min: it.min, max: it.max }]));
}

/** sha256 hex of a file's bytes, streamed so large files never sit in memory. */
export function hashFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('error', reject)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/** The data a split is drawn from: sha256 of the two hex hashes concatenated (profiles first). */
export function datasetHash(profilesHash: string, responsesHash: string): string {
  return createHash('sha256').update(profilesHash + responsesHash).digest('hex');
}

export function parseNumber(text: string): number | null {
  const t = text.trim();
  return NUMBER_RE.test(t) ? Number(t) : null;
}

/**
 * Reads the three files (CSV or Parquet by extension). Anything malformed inside one file throws
 * a DatasetError naming file, line, column and id (fail on the first bad row); rules that span
 * files (unknown ids, duplicates across rows, ranges) are reported by checkDataset.
 */
export async function loadDataset(files: DatasetFiles): Promise<Dataset> {
  // One file after the other, each read a row at a time into its compact form (the files' rows
  // are never all held): the first bad row of the first bad file is the error, whatever the timing.
  const { featureNames, entities, format: profilesFormat } = await loadProfiles(files.profiles);
  const { observations, missing, format: responsesFormat } = await loadResponses(files.responses);
  const itemsTable = await readTable(files.items);
  const items = parseItems(itemsTable);
  return {
    featureNames,
    entities,
    observations,
    items,
    files: { ...files },
    missing,
    formats: { profiles: profilesFormat, responses: responsesFormat, items: itemsTable.format },
  };
}

function checkUniqueColumns(t: TableHeader): void {
  const seen = new Set<string>();
  t.columns.forEach((c, i) => {
    if (c === '') throw new DatasetError(`${t.file}:1: column ${i + 1} has an empty name; header found: ${headerText(t)}`);
    if (seen.has(c)) throw new DatasetError(`${t.file}:1: column '${c}' appears twice; header found: ${headerText(t)}`);
    seen.add(c);
  });
}

function headerText(t: TableHeader): string {
  return t.columns.map((c) => JSON.stringify(c)).join(',');
}

/** Column positions for a file that must have exactly `required` (any order); a missing or unknown column is a DatasetError naming the file. */
export function columnIndex<K extends string>(t: TableHeader, required: readonly K[]): Record<K, number> {
  checkUniqueColumns(t);
  const missing = required.filter((c) => !t.columns.includes(c));
  const extra = t.columns.filter((c) => !(required as readonly string[]).includes(c));
  if (missing.length > 0 || extra.length > 0) {
    const parts = [
      missing.length > 0 ? `missing column(s) ${missing.map((c) => `'${c}'`).join(', ')}` : '',
      // Unknown columns are refused rather than ignored: a misspelt 'value' would otherwise vanish.
      extra.length > 0 ? `unexpected column(s) ${extra.map((c) => JSON.stringify(c)).join(', ')}` : '',
    ].filter(Boolean);
    throw new DatasetError(`${t.file}:1: ${parts.join('; ')}; expected ${required.join(',')}; header found: ${headerText(t)}`);
  }
  return Object.fromEntries(required.map((c) => [c, t.columns.indexOf(c)])) as Record<K, number>;
}

function nonEmpty(t: TableHeader, line: number, column: string, columnNo: number, value: string, context: string): string {
  if (value === '') throw new DatasetError(`${where(t, line)} column '${column}' (${columnNo}): empty ${column}${context}`);
  return value;
}

async function loadProfiles(file: string): Promise<{ featureNames: string[]; entities: Entity[]; format: TableHeader['format'] }> {
  let featureNames: string[] = [];
  const entities: Entity[] = [];
  const header = await readTableRows(file, (t) => {
    if (t.columns[0] !== 'entity_id') {
      throw new DatasetError(`${t.file}:1: the first column must be 'entity_id'; header found: ${headerText(t)}`);
    }
    checkUniqueColumns(t);
    const names = t.columns.slice(1);
    featureNames = names;
    const firstLine = new Map<string, number>();
    const shared = interner();
    return (line, cells) => {
      const entityId = nonEmpty(t, line, 'entity_id', 1, cells[0], '');
      const prev = firstLine.get(entityId);
      if (prev !== undefined) {
        throw new DatasetError(`${where(t, line)} column 'entity_id' (1): duplicate entity id ${JSON.stringify(entityId)}, first on line ${prev}`);
      }
      firstLine.set(entityId, line);
      const values = cells.slice(1);
      for (let i = 0; i < values.length; i++) values[i] = shared(values[i]);
      entities.push({ entityId, featureNames: names, values });
    };
  });
  return { featureNames, entities, format: header.format };
}

async function loadResponses(file: string): Promise<{ observations: ObservationColumns; missing: MissingObservation[]; format: TableHeader['format'] }> {
  const observations = new ObservationColumns();
  const missing: MissingObservation[] = [];
  const header = await readTableRows(file, (t) => {
    const col = columnIndex(t, RESPONSE_COLUMNS);
    const shared = interner();
    return (line, cells) => {
      const entityId = shared(nonEmpty(t, line, 'entity_id', col.entity_id + 1, cells[col.entity_id], ''));
      const ctx = ` (entity ${JSON.stringify(entityId)})`;
      const group = shared(nonEmpty(t, line, 'group', col.group + 1, cells[col.group], ctx));
      const item = shared(nonEmpty(t, line, 'item', col.item + 1, cells[col.item], ctx));
      const raw = cells[col.value];
      if (raw.trim() === '') {
        missing.push({ entityId, group, item, line });
        return;
      }
      const value = parseNumber(raw);
      if (value === null) {
        throw new DatasetError(
          `${where(t, line)} column 'value' (${col.value + 1}): non-numeric value ${JSON.stringify(raw)} for entity ${JSON.stringify(entityId)}, group ${JSON.stringify(group)}, item ${JSON.stringify(item)}`,
        );
      }
      observations.push({ entityId, group, item, value, line });
    };
  });
  return { observations, missing, format: header.format };
}

function parseItems(t: Table): ItemDef[] {
  const col = columnIndex(t, ITEM_COLUMNS);
  const firstLine = new Map<string, number>();
  const items: ItemDef[] = [];
  for (const { line, cells } of t.rows) {
    const group = nonEmpty(t, line, 'group', col.group + 1, cells[col.group], '');
    const item = nonEmpty(t, line, 'item', col.item + 1, cells[col.item], ` (group ${JSON.stringify(group)})`);
    const id = `group ${JSON.stringify(group)}, item ${JSON.stringify(item)}`;
    const at = (c: (typeof ITEM_COLUMNS)[number]) => `${where(t, line)} column '${c}' (${col[c] + 1})`;
    const num = (c: 'min' | 'max'): number => {
      const v = parseNumber(cells[col[c]]);
      if (v === null) throw new DatasetError(`${at(c)}: non-numeric ${c} ${JSON.stringify(cells[col[c]])} for ${id}`);
      return v;
    };
    const min = num('min');
    const max = num('max');
    const kindText = cells[col.kind];
    const kind = ItemKind.safeParse(kindText);
    if (!kind.success) {
      throw new DatasetError(`${at('kind')}: unknown kind ${JSON.stringify(kindText)} for ${id}; expected one of ${ItemKind.options.join(', ')}`);
    }
    if (!(min < max)) throw new DatasetError(`${at('max')}: min (${min}) must be < max (${max}) for ${id}`);
    if (kind.data === 'binary' && (min !== 0 || max !== 1)) {
      throw new DatasetError(`${at('min')}: a binary item must have min 0 and max 1, got ${min}..${max} for ${id}`);
    }
    const key = itemKey(group, item);
    const prev = firstLine.get(key);
    if (prev !== undefined) throw new DatasetError(`${where(t, line)}: duplicate ${id}, first on line ${prev}`);
    firstLine.set(key, line);
    items.push({ group, item, question: cells[col.question], min, max, kind: kind.data });
  }
  return items;
}

function listRows<T extends { line: number }>(rows: T[], describe: (r: T) => string, format: 'csv' | 'parquet' = 'csv'): string {
  const label = (line: number) => (format === 'parquet' ? `line ${line} (parquet row ${line - 1})` : `line ${line}`);
  const shown = rows.slice(0, SHOW).map((r) => `${label(r.line)} ${describe(r)}`).join('; ');
  return rows.length > SHOW ? `${shown}; ... and ${rows.length - SHOW} more` : shown;
}

/**
 * Cross-file rules. `errors` must stop a run; `warnings` are worth reading; `outOfRange` lists
 * every response outside its item's [min, max] (kept, never clipped: the data may be right).
 */
export function checkDataset(ds: Dataset): DatasetCheck {
  const errors: string[] = [];
  const warnings: string[] = [];
  const outOfRange: OutOfRange[] = [];
  const { profiles, responses, items: itemsFile } = ds.files;
  const fmt = ds.formats?.responses ?? 'csv';
  if (ds.entities.length === 0) errors.push(`${profiles}: no entities (no data rows)`);
  if (ds.items.length === 0) errors.push(`${itemsFile}: no items (no data rows)`);
  if (ds.observations.length === 0) errors.push(`${responses}: no observations (no rows with a value)`);

  const entityIds = new Map<string, number>();
  ds.entities.forEach((e, i) => {
    const prev = entityIds.get(e.entityId);
    // loadDataset already refuses this with line numbers; this guards datasets built in code.
    if (prev !== undefined) errors.push(`${profiles}: duplicate entity id ${JSON.stringify(e.entityId)} (rows ${prev + 1} and ${i + 1})`);
    else entityIds.set(e.entityId, i);
  });
  const itemsByKey = itemIndex(ds.items);

  // Observations and missing rows alike, by position (observations first), never copied into
  // one list: a responses file's rows are many.
  const missingRows = ds.missing ?? [];
  const rowCount = ds.observations.length + missingRows.length;
  const rowAt = (i: number): MissingObservation =>
    (i < ds.observations.length ? ds.observations.at(i) : missingRows[i - ds.observations.length]) as MissingObservation;
  const byLine = (a: { line: number }, b: { line: number }) => a.line - b.line;
  const unknownEntity: MissingObservation[] = [];
  const unknownItem: MissingObservation[] = [];
  for (let i = 0; i < rowCount; i++) {
    const r = rowAt(i);
    if (!entityIds.has(r.entityId)) unknownEntity.push(r);
    if (!itemsByKey.has(itemKey(r.group, r.item))) unknownItem.push(r);
  }
  unknownEntity.sort(byLine);
  unknownItem.sort(byLine);
  if (unknownEntity.length > 0) {
    errors.push(
      `${responses}: ${unknownEntity.length} row(s) name an entity_id that is not in ${profiles}: ` +
        listRows(unknownEntity, (r) => `entity ${JSON.stringify(r.entityId)}`, fmt),
    );
  }
  if (unknownItem.length > 0) {
    errors.push(
      `${responses}: ${unknownItem.length} row(s) name a (group, item) that is not in ${itemsFile}: ` +
        listRows(unknownItem, (r) => `entity ${JSON.stringify(r.entityId)}, group ${JSON.stringify(r.group)}, item ${JSON.stringify(r.item)}`, fmt),
    );
  }

  // Rows in line order (a stable sort of positions: a loaded file's rows are already in order).
  const lines = new Float64Array(rowCount);
  for (let i = 0; i < rowCount; i++) lines[i] = rowAt(i).line;
  const order = Array.from({ length: rowCount }, (_, i) => i).sort((a, b) => lines[a] - lines[b]);
  const firstCell = new Map<string, number>();
  const duplicates: Array<{ line: number; first: number; r: MissingObservation }> = [];
  for (const i of order) {
    const r = rowAt(i);
    const key = sampleKey(r);
    const first = firstCell.get(key);
    if (first !== undefined) duplicates.push({ line: r.line, first, r });
    else firstCell.set(key, r.line);
  }
  firstCell.clear();
  if (duplicates.length > 0) {
    errors.push(
      `${responses}: ${duplicates.length} duplicate (entity_id, group, item) row(s): ` +
        listRows(duplicates, (d) => `repeats line ${d.first} (entity ${JSON.stringify(d.r.entityId)}, group ${JSON.stringify(d.r.group)}, item ${JSON.stringify(d.r.item)})`, fmt),
    );
  }

  for (const o of ds.observations) {
    const it = itemsByKey.get(itemKey(o.group, o.item));
    if (it && (o.value < it.min || o.value > it.max)) {
      outOfRange.push({ line: o.line, entityId: o.entityId, group: o.group, item: o.item, value: o.value, min: it.min, max: it.max });
    }
  }
  if (outOfRange.length > 0) {
    warnings.push(
      `${responses}: ${outOfRange.length} value(s) outside their item's [min, max] (kept as is): ` +
        listRows(outOfRange, (o) => `entity ${JSON.stringify(o.entityId)}, group ${JSON.stringify(o.group)}, item ${JSON.stringify(o.item)}: ${o.value} not in [${o.min}, ${o.max}]`, fmt),
    );
  }
  const missing = ds.missing ?? [];
  if (missing.length > 0) {
    warnings.push(
      `${responses}: ${missing.length} row(s) with an empty value skipped as missing observations: ` +
        listRows(missing, (m) => `entity ${JSON.stringify(m.entityId)}, group ${JSON.stringify(m.group)}, item ${JSON.stringify(m.item)}`, fmt),
    );
  }

  const observedEntities = new Set<string>();
  const observedItems = new Set<string>();
  for (const o of ds.observations) {
    observedEntities.add(o.entityId);
    observedItems.add(itemKey(o.group, o.item));
  }
  const silent = ds.entities.filter((e) => !observedEntities.has(e.entityId));
  if (silent.length > 0 && ds.observations.length > 0) {
    warnings.push(
      `${profiles}: ${silent.length} entit(y/ies) have no observation (nothing to evaluate them on): ` +
        silent.slice(0, SHOW).map((e) => JSON.stringify(e.entityId)).join(', ') + (silent.length > SHOW ? `, ... and ${silent.length - SHOW} more` : ''),
    );
  }
  const unasked = ds.items.filter((it) => !observedItems.has(itemKey(it.group, it.item)));
  if (unasked.length > 0 && ds.observations.length > 0) {
    warnings.push(
      `${itemsFile}: ${unasked.length} item(s) have no observation: ` +
        unasked.slice(0, SHOW).map((it) => `group ${JSON.stringify(it.group)} item ${JSON.stringify(it.item)}`).join(', ') +
        (unasked.length > SHOW ? `, ... and ${unasked.length - SHOW} more` : ''),
    );
  }
  const noQuestion = ds.items.filter((it) => it.question.trim() === '');
  if (noQuestion.length > 0) {
    warnings.push(`${itemsFile}: ${noQuestion.length} item(s) have an empty question: ` + noQuestion.slice(0, SHOW).map((it) => `group ${JSON.stringify(it.group)} item ${JSON.stringify(it.item)}`).join(', '));
  }
  return { errors, warnings, outOfRange };
}
