import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { ItemDef, ItemKind, itemKey, sampleKey } from '@assay/contracts';
import { DatasetError, Table, readTable, where } from './table';

/** One profile row: feature columns in file order, raw cell text (never cast: ids and codes are data). */
export interface Entity {
  entityId: string;
  features: Array<[string, string]>;
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

export interface DatasetFiles {
  profiles: string;
  responses: string;
  items: string;
}

export interface Dataset {
  featureNames: string[];
  /** File order. */
  entities: Entity[];
  observations: Observation[];
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
  const [profiles, responses, itemsTable] = await Promise.all([
    readTable(files.profiles),
    readTable(files.responses),
    readTable(files.items),
  ]);
  const { featureNames, entities } = parseProfiles(profiles);
  const { observations, missing } = parseResponses(responses);
  const items = parseItems(itemsTable);
  return {
    featureNames,
    entities,
    observations,
    items,
    files: { ...files },
    missing,
    formats: { profiles: profiles.format, responses: responses.format, items: itemsTable.format },
  };
}

function checkUniqueColumns(t: Table): void {
  const seen = new Set<string>();
  t.columns.forEach((c, i) => {
    if (c === '') throw new DatasetError(`${t.file}:1: column ${i + 1} has an empty name; header found: ${headerText(t)}`);
    if (seen.has(c)) throw new DatasetError(`${t.file}:1: column '${c}' appears twice; header found: ${headerText(t)}`);
    seen.add(c);
  });
}

function headerText(t: Table): string {
  return t.columns.map((c) => JSON.stringify(c)).join(',');
}

/** Column positions for a file that must have exactly `required` (any order); a missing or unknown column is a DatasetError naming the file. */
export function columnIndex<K extends string>(t: Table, required: readonly K[]): Record<K, number> {
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

function nonEmpty(t: Table, line: number, column: string, columnNo: number, value: string, context: string): string {
  if (value === '') throw new DatasetError(`${where(t, line)} column '${column}' (${columnNo}): empty ${column}${context}`);
  return value;
}

function parseProfiles(t: Table): { featureNames: string[]; entities: Entity[] } {
  if (t.columns[0] !== 'entity_id') {
    throw new DatasetError(`${t.file}:1: the first column must be 'entity_id'; header found: ${headerText(t)}`);
  }
  checkUniqueColumns(t);
  const featureNames = t.columns.slice(1);
  const firstLine = new Map<string, number>();
  const entities: Entity[] = [];
  for (const { line, cells } of t.rows) {
    const entityId = nonEmpty(t, line, 'entity_id', 1, cells[0], '');
    const prev = firstLine.get(entityId);
    if (prev !== undefined) {
      throw new DatasetError(`${where(t, line)} column 'entity_id' (1): duplicate entity id ${JSON.stringify(entityId)}, first on line ${prev}`);
    }
    firstLine.set(entityId, line);
    entities.push({ entityId, features: featureNames.map((name, i) => [name, cells[i + 1]]) });
  }
  return { featureNames, entities };
}

function parseResponses(t: Table): { observations: Observation[]; missing: MissingObservation[] } {
  const col = columnIndex(t, RESPONSE_COLUMNS);
  const observations: Observation[] = [];
  const missing: MissingObservation[] = [];
  for (const { line, cells } of t.rows) {
    const entityId = nonEmpty(t, line, 'entity_id', col.entity_id + 1, cells[col.entity_id], '');
    const ctx = ` (entity ${JSON.stringify(entityId)})`;
    const group = nonEmpty(t, line, 'group', col.group + 1, cells[col.group], ctx);
    const item = nonEmpty(t, line, 'item', col.item + 1, cells[col.item], ctx);
    const raw = cells[col.value];
    if (raw.trim() === '') {
      missing.push({ entityId, group, item, line });
      continue;
    }
    const value = parseNumber(raw);
    if (value === null) {
      throw new DatasetError(
        `${where(t, line)} column 'value' (${col.value + 1}): non-numeric value ${JSON.stringify(raw)} for entity ${JSON.stringify(entityId)}, group ${JSON.stringify(group)}, item ${JSON.stringify(item)}`,
      );
    }
    observations.push({ entityId, group, item, value, line });
  }
  return { observations, missing };
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

  const rows: Array<MissingObservation & { value?: number }> = [...ds.observations, ...(ds.missing ?? [])];
  const unknownEntity = rows.filter((r) => !entityIds.has(r.entityId)).sort((a, b) => a.line - b.line);
  if (unknownEntity.length > 0) {
    errors.push(
      `${responses}: ${unknownEntity.length} row(s) name an entity_id that is not in ${profiles}: ` +
        listRows(unknownEntity, (r) => `entity ${JSON.stringify(r.entityId)}`, fmt),
    );
  }
  const unknownItem = rows.filter((r) => !itemsByKey.has(itemKey(r.group, r.item))).sort((a, b) => a.line - b.line);
  if (unknownItem.length > 0) {
    errors.push(
      `${responses}: ${unknownItem.length} row(s) name a (group, item) that is not in ${itemsFile}: ` +
        listRows(unknownItem, (r) => `entity ${JSON.stringify(r.entityId)}, group ${JSON.stringify(r.group)}, item ${JSON.stringify(r.item)}`, fmt),
    );
  }

  const firstCell = new Map<string, number>();
  const duplicates: Array<{ line: number; first: number; r: MissingObservation }> = [];
  for (const r of [...rows].sort((a, b) => a.line - b.line)) {
    const key = sampleKey(r);
    const first = firstCell.get(key);
    if (first !== undefined) duplicates.push({ line: r.line, first, r });
    else firstCell.set(key, r.line);
  }
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

  const observedEntities = new Set(ds.observations.map((o) => o.entityId));
  const silent = ds.entities.filter((e) => !observedEntities.has(e.entityId));
  if (silent.length > 0 && ds.observations.length > 0) {
    warnings.push(
      `${profiles}: ${silent.length} entit(y/ies) have no observation (nothing to evaluate them on): ` +
        silent.slice(0, SHOW).map((e) => JSON.stringify(e.entityId)).join(', ') + (silent.length > SHOW ? `, ... and ${silent.length - SHOW} more` : ''),
    );
  }
  const observedItems = new Set(ds.observations.map((o) => itemKey(o.group, o.item)));
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
