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

export async function readTable(file: string): Promise<Table> {
  const ext = extname(file).toLowerCase();
  if (ext === '.csv') return readCsv(file);
  if (ext === '.parquet') return readParquet(file);
  throw new DatasetError(`${file}: unsupported file type '${ext}'; expected .csv or .parquet`);
}

async function readCsv(file: string): Promise<Table> {
  const text = await readFile(file, 'utf8');
  // info.lines is where a record ENDS; a quoted cell may span lines, so the start is derived
  // from the previous record's end plus any skipped empty lines. Noted as each record is parsed:
  // csv-parse's per-record info objects (`info: true`) were as large as a responses file's cells.
  const starts: number[] = [];
  let prevEnd = 0;
  let prevEmpty = 0;
  let records: string[][];
  try {
    // No trimming and no casting: ids are data and must survive byte for byte.
    records = parse(text, {
      bom: true,
      skip_empty_lines: true,
      relax_column_count: false,
      on_record: (record, info) => {
        starts.push(prevEnd + 1 + (info.empty_lines - prevEmpty));
        prevEnd = info.lines;
        prevEmpty = info.empty_lines;
        return record;
      },
    });
  } catch (err) {
    // csv-parse's message has the line but not the file; add it and keep the original as cause.
    throw new DatasetError(`${file}: invalid CSV: ${errorMessage(err)}`, { cause: err });
  }
  if (records.length === 0) throw new DatasetError(`${file}: empty file (no header)`);
  const rows: TableRow[] = records.map((cells, i) => ({ line: starts[i], cells }));
  const header = rows.shift() as TableRow;
  return { file, format: 'csv', columns: header.cells, rows };
}

async function readParquet(file: string): Promise<Table> {
  try {
    const { columns, rows } = await readParquetCells(file);
    return { file, format: 'parquet', columns, rows: rows.map((cells, i) => ({ line: i + 2, cells })) };
  } catch (error) {
    if (error instanceof ParquetInputError) throw new DatasetError(error.message, { cause: error });
    throw error;
  }
}
