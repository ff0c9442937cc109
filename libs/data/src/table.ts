import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse } from 'csv-parse/sync';
import { errorMessage } from '@assay/contracts';
import { ParquetInputError, readParquetCells } from './parquet-input';

/**
 * One input file as raw text cells, whatever its format, so the dataset rules are written once.
 * `line` is 1-based with the header as line 1 (for Parquet: data row i is "line" i + 1, so the
 * numbers mean the same thing in both formats).
 */
export interface TableRow {
  line: number;
  cells: string[];
}

export interface Table {
  file: string;
  format: 'csv' | 'parquet';
  columns: string[];
  rows: TableRow[];
}

export class DatasetError extends Error {
  override name = 'DatasetError';
}

/** "file:line", plus the Parquet row so a reader of a Parquet file can find it. */
export function where(table: Pick<Table, 'file' | 'format'>, line: number): string {
  return table.format === 'parquet' ? `${table.file}:${line} (parquet row ${line - 1})` : `${table.file}:${line}`;
}

/** A table's header: its file, format and column names. */
export type TableHeader = Pick<Table, 'file' | 'format' | 'columns'>;

/** Called with each data row in file order; may throw (a DatasetError stops the read as is). */
export type RowVisitor = (line: number, cells: string[]) => void;

/** Sees the header before any row (it may refuse it by throwing) and gives the visitor of the rows. */
export type HeaderVisitor = (header: TableHeader) => RowVisitor;

/** The whole table, every row held (small files: items, codebooks). */
export async function readTable(file: string): Promise<Table> {
  const rows: TableRow[] = [];
  const header = await readTableRows(file, () => (line, cells) => rows.push({ line, cells }));
  return { ...header, rows };
}

/** The table a row at a time: no row is kept, so a caller holds only what it makes of them. */
export async function readTableRows(file: string, start: HeaderVisitor): Promise<TableHeader> {
  const ext = extname(file).toLowerCase();
  if (ext === '.csv') return readCsv(file, start);
  if (ext === '.parquet') return readParquet(file, start);
  throw new DatasetError(`${file}: unsupported file type '${ext}'; expected .csv or .parquet`);
}

async function readCsv(file: string, start: HeaderVisitor): Promise<TableHeader> {
  const text = await readFile(file, 'utf8');
  // info.lines is where a record ENDS; a quoted cell may span lines, so the start is derived
  // from the previous record's end plus any skipped empty lines. Noted as each record is parsed:
  // csv-parse's per-record info objects (`info: true`) were as large as a responses file's cells.
  let prevEnd = 0;
  let prevEmpty = 0;
  const seen: { header: TableHeader | null; visit: RowVisitor | null } = { header: null, visit: null };
  try {
    // No trimming and no casting: ids are data and must survive byte for byte. Each record goes
    // to the visitor and is dropped (on_record returns nothing): the parser keeps no rows.
    parse(text, {
      bom: true,
      skip_empty_lines: true,
      relax_column_count: false,
      on_record: (record: string[], info) => {
        const line = prevEnd + 1 + (info.empty_lines - prevEmpty);
        prevEnd = info.lines;
        prevEmpty = info.empty_lines;
        if (seen.visit === null) {
          seen.header = { file, format: 'csv', columns: record };
          seen.visit = start(seen.header);
        } else {
          seen.visit(line, record);
        }
        return undefined;
      },
    });
  } catch (err) {
    // The visitor's own errors already name the file and line.
    if (err instanceof DatasetError) throw err;
    // csv-parse's message has the line but not the file; add it and keep the original as cause.
    throw new DatasetError(`${file}: invalid CSV: ${errorMessage(err)}`, { cause: err });
  }
  if (seen.header === null) throw new DatasetError(`${file}: empty file (no header)`);
  return seen.header;
}

async function readParquet(file: string, start: HeaderVisitor): Promise<TableHeader> {
  let cells: { columns: string[]; rows: string[][] };
  try {
    cells = await readParquetCells(file);
  } catch (error) {
    if (error instanceof ParquetInputError) throw new DatasetError(error.message, { cause: error });
    throw error;
  }
  const header: TableHeader = { file, format: 'parquet', columns: cells.columns };
  const visit = start(header);
  cells.rows.forEach((row, i) => visit(i + 2, row));
  return header;
}
