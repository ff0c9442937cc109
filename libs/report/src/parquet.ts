import { brotliCompressSync, constants as zlibConstants } from 'node:zlib';
import parquet = require('parquetjs-lite');
import parquetCompression = require('parquetjs-lite/lib/compression');

/**
 * Parquet output through parquetjs-lite, configured for what DuckDB / pandas (pyarrow) read
 * without surprises:
 *  - data page v1 (the library defaults to v2, which several readers handle poorly);
 *  - no page index: the library writes ColumnIndex without its required null_pages field;
 *  - no statistics on strings: the library orders them by UTF-16 code units, not unsigned bytes as
 *    Parquet requires, so a reader could skip row groups wrongly on a filter (it also keeps 12 KB
 *    prompts out of the footer);
 *  - GZIP on text columns (native zlib; prompts of one entity share a long prefix and shrink a
 *    lot), none on numbers;
 *  - rows buffered per row group of ROW_GROUP_SIZE, so memory stays bounded however many rows.
 * The output is deterministic: no timestamps, fixed created_by, insertion-ordered statistics.
 */

export const ROW_GROUP_SIZE = 1000;

/**
 * The "lite" build ships BROTLI as a stub that throws; fill it in with Node's native brotli at
 * quality 1. Measured on 589 x 72 sorted prompts of ~12 KB: GZIP (zlib level 6, the only level
 * the library uses) took 10.5 s for raw_outputs.parquet and gave 15 MB, BROTLI q1 6.3 s and 15 MB.
 * Only the stub changes: every other codec behaves as shipped.
 */
const BROTLI_QUALITY = 1;
parquetCompression.PARQUET_COMPRESSION_METHODS.BROTLI.deflate = (value: Buffer): Buffer =>
  brotliCompressSync(value, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY } });

type ColumnType = 'UTF8' | 'DOUBLE' | 'INT64' | 'BOOLEAN';
interface ColumnSpec {
  type: ColumnType;
  optional?: boolean;
  /** Default: GZIP for strings (readable everywhere), none for numbers. */
  compression?: 'GZIP' | 'BROTLI' | 'UNCOMPRESSED';
}

export type ParquetValue = string | number | boolean | null;

function buildSchema(columns: Record<string, ColumnSpec>): unknown {
  const fields: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(columns)) {
    fields[name] = {
      type: spec.type,
      optional: spec.optional === true,
      compression: spec.compression ?? (spec.type === 'UTF8' ? 'GZIP' : 'UNCOMPRESSED'),
      statistics: spec.type !== 'UTF8',
    };
  }
  return new parquet.ParquetSchema(fields);
}

export const PREDICTIONS_COLUMNS: Record<string, ColumnSpec> = {
  entity_id: { type: 'UTF8' },
  group: { type: 'UTF8' },
  item: { type: 'UTF8' },
  kind: { type: 'UTF8' },
  actual: { type: 'DOUBLE' },
  predicted: { type: 'DOUBLE', optional: true },
  abs_error: { type: 'DOUBLE', optional: true },
  parse_status: { type: 'UTF8' },
  outlier: { type: 'BOOLEAN' },
};

export const RAW_OUTPUTS_COLUMNS: Record<string, ColumnSpec> = {
  entity_id: { type: 'UTF8' },
  group: { type: 'UTF8' },
  item: { type: 'UTF8' },
  prompt_id: { type: 'UTF8' },
  // The bulk of the run's bytes (one full prompt per row): BROTLI, read by DuckDB, pyarrow, polars.
  input_text: { type: 'UTF8', compression: 'BROTLI' },
  output_text: { type: 'UTF8', optional: true, compression: 'BROTLI' },
  prompt_tokens: { type: 'INT64', optional: true },
  completion_tokens: { type: 'INT64', optional: true },
  cached_tokens: { type: 'INT64', optional: true },
  // DOUBLE: latencies may be fractional milliseconds.
  latency_ms: { type: 'DOUBLE', optional: true },
  attempts: { type: 'INT64' },
  worker: { type: 'UTF8', optional: true },
  inference_error: { type: 'UTF8', optional: true },
};

/** Streams rows into one parquet file; call close() exactly once. */
export class ParquetFileWriter {
  private closed = false;

  private constructor(
    private readonly path: string,
    private readonly columns: Record<string, ColumnSpec>,
    private readonly writer: { appendRow(row: Record<string, unknown>): Promise<void>; close(): Promise<void> },
  ) {}

  static async open(path: string, columns: Record<string, ColumnSpec>): Promise<ParquetFileWriter> {
    const writer = await parquet.ParquetWriter.openFile(buildSchema(columns), path, {
      rowGroupSize: ROW_GROUP_SIZE,
      useDataPageV2: false,
      pageIndex: false,
    });
    return new ParquetFileWriter(path, columns, writer);
  }

  async append(row: Record<string, ParquetValue>): Promise<void> {
    const record: Record<string, unknown> = {};
    for (const [name, spec] of Object.entries(this.columns)) {
      const value = row[name];
      if (value === null || value === undefined) {
        if (!spec.optional) throw new Error(`${this.path}: required column ${name} is ${String(value)}`);
        continue; // parquetjs-lite writes an absent optional field as null
      }
      if (spec.type === 'INT64' && !Number.isSafeInteger(value)) {
        throw new Error(`${this.path}: column ${name} needs an integer, got ${String(value)}`);
      }
      // Strings go in as Buffers: parquetjs-lite puts every value in a Set (for statistics we do
      // not write), and hashing 12 KB prompt strings there cost more than the rest of the write.
      record[name] = spec.type === 'UTF8' ? Buffer.from(value as string, 'utf8') : value;
    }
    await this.writer.appendRow(record);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.writer.close();
  }

  /**
   * Releases the file handle after a failure elsewhere; the partial file is left for the caller to
   * delete. Never throws: the caller is already reporting the original error, and a failure to
   * end the stream is logged rather than allowed to replace it.
   */
  async abort(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const envelope = (this.writer as unknown as { envelopeWriter?: { close(): Promise<void> } }).envelopeWriter;
    if (!envelope) return;
    await envelope.close().catch((error: unknown) => {
      console.error(`could not close ${this.path} after an earlier failure:`, error);
    });
  }
}
