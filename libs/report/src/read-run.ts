import { parse } from 'csv-parse/sync';
import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { errorMessage, groupEntityKey } from '@assay/contracts';
import { csvCellText } from './csv';
import { entityDir, groupDir, itemFileName } from './layout';

/**
 * Reading a run directory back, for the viewer: the same files a researcher opens (worst-first
 * CSVs, the parquet twins, the per-call text files), never a second copy of the data.
 *
 * Tables stay text, as written: the viewer shows what the file says. Parsed tables are cached
 * per run directory (a small LRU), keyed by the identity of metrics.json (inode, size, mtime):
 * a rebuilt tree is swapped in as a new directory, so a replay or re-evaluation is picked up on
 * the next read. Memory stays bounded on a 42K-prediction run: one group's predictions.csv is a
 * few thousand short rows, and one model call is its own small text file (raw_outputs.parquet
 * is read by row range, one row group, only when the file alone cannot be split).
 */

export interface TextTable {
  columns: string[];
  rows: string[][];
}

export class RunFileError extends Error {
  override name = 'RunFileError';
}

/**
 * A CSV file of the run directory, cells as text with the spreadsheet guard undone (csvCellText),
 * so ids read back as the ids; a missing file is null (a run that stopped before its report).
 */
export async function readCsvTable(file: string): Promise<TextTable | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  let records: string[][];
  try {
    records = parse(text, { relax_column_count: false }) as string[][];
  } catch (error) {
    throw new RunFileError(`${file}: not a readable CSV file: ${errorMessage(error)}`, { cause: error });
  }
  const [columns = [], ...rows] = records;
  return { columns, rows: rows.map((r) => r.map(csvCellText)) };
}

/** One model call, as raw_outputs.parquet and the call's text file hold it. */
export interface CallRecord {
  group: string;
  entityId: string;
  item: string;
  /** The exact model input (shared prefix + the item's suffix). */
  input: string;
  /** The OUTPUT section of the call's file: the answer, or why there is none. */
  output: string;
  /** The METADATA section of the call's file, one `key: value` line each. */
  metadata: string[];
  /**
   * For a prediction of a method fitted without a model (a baseline; its file has no INPUT or
   * OUTPUT, and input and output are empty): what the method used, one `key: value` line each.
   * Null for a model call.
   */
  fitted: string[] | null;
  /** The call's file, relative to the run directory. */
  file: string;
}

const OUTPUT_MARK = '\n\n=== OUTPUT ===\n';
const METADATA_MARK = '\n\n=== METADATA ===\n';
const INPUT_MARK = '=== INPUT ===\n';
const FITTED_METADATA_MARK = '=== METADATA ===\n';
const FITTED_USED_MARK = '\n\n=== WHAT THE METHOD USED ===\n';

/** A fitted prediction's file (see renderItemFile): METADATA, then what the method used; null when the file is a model call's. */
export function splitFittedFile(text: string): { metadata: string[]; fitted: string[] } | null {
  if (!text.startsWith(FITTED_METADATA_MARK)) return null;
  const usedAt = text.indexOf(FITTED_USED_MARK);
  if (usedAt < 0) return null;
  const lines = (s: string) => s.split('\n').filter((l) => l.length > 0);
  return { metadata: lines(text.slice(FITTED_METADATA_MARK.length, usedAt)), fitted: lines(text.slice(usedAt + FITTED_USED_MARK.length)) };
}

/**
 * Splits a call's text file given its exact input (from raw_outputs.parquet): the input and the
 * output are free text and may contain the section markers themselves, so the file alone cannot
 * say where one ends. METADATA lines are one line each by construction (see renderItemFile), so
 * the last metadata marker is the real one.
 */
export function splitCallFile(text: string, input: string, file: string): { output: string; metadata: string[] } {
  const head = INPUT_MARK + input + OUTPUT_MARK;
  if (!text.startsWith(head)) throw new RunFileError(`${file}: its INPUT section differs from raw_outputs.parquet's input_text (the run directory is inconsistent: replay it)`);
  const metaAt = text.lastIndexOf(METADATA_MARK);
  if (metaAt < head.length) throw new RunFileError(`${file}: no METADATA section`);
  return {
    output: text.slice(head.length, metaAt),
    metadata: text.slice(metaAt + METADATA_MARK.length).split('\n').filter((line) => line !== ''),
  };
}

/** predictions.parquet's columns for plots: one entry per prediction, in file order. */
export interface PredictionPoints {
  group: string[];
  item: string[];
  kind: string[];
  actual: number[];
  /** null where the answer did not parse or the call failed. */
  predicted: Array<number | null>;
}

interface CachedRun {
  version: string;
  points: PredictionPoints | null;
  derived: Map<string, Promise<unknown>>;
  tables: Map<string, TextTable | null>;
  /** (group, entity, item) -> row of predictions.parquet / raw_outputs.parquet (the same order). */
  rowIndex: Map<string, number> | null;
}

function callKey(group: string, entityId: string, item: string): string {
  return `${groupEntityKey(group, entityId)}\u0000${item}`;
}

type Hyparquet = typeof import('hyparquet');

/**
 * The codecs the writer uses (parquet.ts: GZIP on text, BROTLI on the prompts), decoded by Node's
 * native zlib: several times faster than the pure-JS decoders of hyparquet-compressors, which
 * made one call page take 0.6 s on the full-size run.
 */
const NATIVE_CODECS = {
  GZIP: (input: Uint8Array) => new Uint8Array(gunzipSync(input)),
  BROTLI: (input: Uint8Array) => new Uint8Array(brotliDecompressSync(input)),
};

async function hyparquet(): Promise<{ lib: Hyparquet; compressors: typeof NATIVE_CODECS }> {
  // Loaded on first use (ESM-only; required through Node's require(esm)).
  return { lib: await import('hyparquet'), compressors: NATIVE_CODECS };
}

/**
 * A parquet file as hyparquet's AsyncBuffer: byte ranges read on demand (footer, then the column
 * chunks of the row group asked for), so one call never loads the whole file.
 */
async function fileBuffer(path: string): Promise<{ byteLength: number; slice(start: number, end?: number): Promise<ArrayBuffer> }> {
  const { size } = await stat(path);
  return {
    byteLength: size,
    async slice(start: number, end = size): Promise<ArrayBuffer> {
      const handle = await open(path, 'r');
      try {
        const bytes = Buffer.alloc(end - start);
        const { bytesRead } = await handle.read(bytes, 0, bytes.length, start);
        if (bytesRead !== bytes.length) throw new RunFileError(`${path}: short read at ${start} (${bytesRead} of ${bytes.length} bytes): the file changed while being read`);
        return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      } finally {
        await handle.close();
      }
    },
  };
}

export class RunDirectoryReader {
  private readonly runs = new Map<string, CachedRun>();

  /** `maxRuns` run directories keep their parsed tables; `maxTables` tables per run. */
  constructor(private readonly limits: { maxRuns: number; maxTables: number } = { maxRuns: 3, maxTables: 16 }) {}

  /** groups/_index.csv: every group, worst first. */
  groups(runDir: string): Promise<TextTable | null> {
    return this.table(runDir, 'groups/_index.csv');
  }

  /** A group's per_entity.csv: its entities, worst first. */
  entities(runDir: string, group: string): Promise<TextTable | null> {
    return this.table(runDir, `${groupDir(group)}/per_entity.csv`);
  }

  /** A group's predictions.csv: every (entity, item) of the group, by entity then item. */
  groupPredictions(runDir: string, group: string): Promise<TextTable | null> {
    return this.table(runDir, `${groupDir(group)}/predictions.csv`);
  }

  /** A CSV file of the run directory by its relative path (diagnostics/*.csv). */
  csv(runDir: string, relative: string): Promise<TextTable | null> {
    return this.table(runDir, relative);
  }

  /** A text file of the run directory (README.txt, review.txt); null when absent. */
  async text(runDir: string, relative: string): Promise<string | null> {
    try {
      return await readFile(join(runDir, relative), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  /** Whether the run directory has this file (a run stopped early lacks some). */
  async exists(runDir: string, relative: string): Promise<boolean> {
    try {
      await stat(join(runDir, relative));
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
  }

  async json(runDir: string, relative: string): Promise<unknown> {
    const text = await this.text(runDir, relative);
    if (text === null) return null;
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new RunFileError(`${join(runDir, relative)}: not valid JSON: ${errorMessage(error)}`, { cause: error });
    }
  }

  /**
   * One model call from its text file; null when the file is absent. The file alone is split when
   * the OUTPUT marker occurs once in it; when the input or the output contains the marker too, the
   * exact input from raw_outputs.parquet (one row group, read by row range) says where it ends.
   */
  async call(runDir: string, group: string, entityId: string, item: string): Promise<CallRecord | null> {
    const relative = `${entityDir(group, entityId)}/${itemFileName(item)}`;
    const text = await this.text(runDir, relative);
    if (text === null) return null;
    const fitted = splitFittedFile(text);
    if (fitted !== null) return { group, entityId, item, input: '', output: '', ...fitted, file: relative };
    const metaAt = text.lastIndexOf(METADATA_MARK);
    const outputAt = text.indexOf(OUTPUT_MARK);
    const unambiguous = text.startsWith(INPUT_MARK) && outputAt >= 0 && metaAt >= outputAt && text.lastIndexOf(OUTPUT_MARK, metaAt) === outputAt;
    const input = unambiguous ? text.slice(INPUT_MARK.length, outputAt) : await this.inputFromParquet(runDir, group, entityId, item);
    return { group, entityId, item, input, ...splitCallFile(text, input, relative), fitted: null, file: relative };
  }

  private async inputFromParquet(runDir: string, group: string, entityId: string, item: string): Promise<string> {
    const run = await this.run(runDir);
    if (run === null) throw new RunFileError(`${runDir}: no metrics.json, so no report to read a call from`);
    const index = run.rowIndex ?? (run.rowIndex = await this.readRowIndex(runDir));
    const row = index.get(callKey(group, entityId, item));
    const rawFile = join(runDir, 'raw_outputs.parquet');
    if (row === undefined) throw new RunFileError(`${join(runDir, 'predictions.parquet')}: no row for ${JSON.stringify([group, entityId, item])}, though its call file exists`);
    const { lib, compressors } = await hyparquet();
    const file = await fileBuffer(rawFile);
    const [record] = (await lib.parquetReadObjects({ file, compressors, columns: ['entity_id', 'group', 'item', 'input_text'], rowStart: row, rowEnd: row + 1 })) as Array<
      Record<string, string>
    >;
    if (!record || record.group !== group || record.entity_id !== entityId || record.item !== item) {
      throw new RunFileError(`${rawFile}: row ${row} is not ${JSON.stringify([group, entityId, item])} as predictions.parquet says (the run directory is inconsistent: replay it)`);
    }
    return record.input_text;
  }

  /**
   * A value derived from the run's files (e.g. a rendered chart), computed once per version of the
   * run directory; null without a report. A failed computation is not kept.
   */
  async derived<T>(runDir: string, key: string, compute: () => Promise<T>): Promise<T | null> {
    const run = await this.run(runDir);
    if (run === null) return null;
    let value = run.derived.get(key) as Promise<T> | undefined;
    if (!value) {
      value = compute();
      run.derived.set(key, value);
      value.catch(() => run.derived.get(key) === value && run.derived.delete(key));
    }
    return value;
  }

  /** The typed (group, item, kind, actual, predicted) columns of predictions.parquet; null without a report. */
  async predictionPoints(runDir: string): Promise<PredictionPoints | null> {
    const run = await this.run(runDir);
    if (run === null) return null;
    if (run.points) return run.points;
    const { lib, compressors } = await hyparquet();
    const file = await fileBuffer(join(runDir, 'predictions.parquet'));
    const rows = (await lib.parquetReadObjects({ file, compressors, columns: ['group', 'item', 'kind', 'actual', 'predicted'] })) as Array<{
      group: string;
      item: string;
      kind: string;
      actual: number;
      predicted: number | null | undefined;
    }>;
    run.points = {
      group: rows.map((r) => r.group),
      item: rows.map((r) => r.item),
      kind: rows.map((r) => r.kind),
      actual: rows.map((r) => r.actual),
      predicted: rows.map((r) => r.predicted ?? null),
    };
    return run.points;
  }

  private async readRowIndex(runDir: string): Promise<Map<string, number>> {
    const { lib, compressors } = await hyparquet();
    const file = await fileBuffer(join(runDir, 'predictions.parquet'));
    const rows = (await lib.parquetReadObjects({ file, compressors, columns: ['group', 'entity_id', 'item'] })) as Array<Record<string, string>>;
    const index = new Map<string, number>();
    rows.forEach((r, i) => index.set(callKey(r.group, r.entity_id, r.item), i));
    return index;
  }

  private async table(runDir: string, relative: string): Promise<TextTable | null> {
    const run = await this.run(runDir);
    if (run === null) return null;
    if (run.tables.has(relative)) {
      const table = run.tables.get(relative) ?? null;
      // Most recently used last, so the oldest is the one dropped.
      run.tables.delete(relative);
      run.tables.set(relative, table);
      return table;
    }
    const table = await readCsvTable(join(runDir, relative));
    run.tables.set(relative, table);
    while (run.tables.size > this.limits.maxTables) run.tables.delete(run.tables.keys().next().value!);
    return table;
  }

  /** The cache entry of a run directory, renewed when its tree was replaced; null without a report. */
  private async run(runDir: string): Promise<CachedRun | null> {
    let version: string;
    try {
      const s = await stat(join(runDir, 'metrics.json'));
      version = `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    let run = this.runs.get(runDir);
    if (run?.version !== version) run = { version, tables: new Map(), rowIndex: null, points: null, derived: new Map() };
    this.runs.delete(runDir);
    this.runs.set(runDir, run);
    while (this.runs.size > this.limits.maxRuns) this.runs.delete(this.runs.keys().next().value!);
    return run;
  }
}
