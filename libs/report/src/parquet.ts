import { brotliCompressSync, constants as zlibConstants } from 'node:zlib';
import parquet = require('parquetjs-lite');
import parquetCompression = require('parquetjs-lite/lib/compression');
import parquetPlain = require('parquetjs-lite/lib/codec/plain');
import parquetShredder = require('parquetjs-lite/lib/shred');
import parquetTypes = require('parquetjs-lite/lib/types');
import { HashedFile } from './hashed-file';

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

/** Text up to this many UTF-16 units is handed to the page encoder as a string, longer as a Buffer. */
const SHORT_TEXT = 256;

/**
 * The "lite" build ships BROTLI as a stub that throws; fill it in with Node's native brotli at
 * quality 1. Measured on 589 x 72 sorted prompts of ~12 KB: GZIP (zlib level 6, the only level
 * the library uses) took 10.5 s for raw_outputs.parquet and gave 15 MB, BROTLI q1 6.3 s and 15 MB.
 * Only the stub changes: every other codec behaves as shipped.
 */
const BROTLI_QUALITY = 1;
parquetCompression.PARQUET_COMPRESSION_METHODS.BROTLI.deflate = (value: Buffer): Buffer =>
  brotliCompressSync(value, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY } });

/**
 * PLAIN encoding of BYTE_ARRAY values (the text columns) without the library's extra copy of each
 * value: it copies every value into a new Buffer (Buffer.from, even when it is one already), then
 * into a zero-filled page buffer. Here each is copied once, into a page every byte of which is
 * written; the bytes are the same (4-byte little-endian length, then the value). Strings (from the
 * library's own shredder) are encoded straight into the page. Values of other types go to the
 * library as before.
 */
export function encodePlainByteArray(values: unknown[]): Buffer {
  let length = 0;
  for (const v of values) {
    if (typeof v === 'string') length += 4 + Buffer.byteLength(v, 'utf8');
    else if (Buffer.isBuffer(v)) length += 4 + v.length;
    else if (v instanceof PrefixedText) length += 4 + v.head.length + Buffer.byteLength(v.tail, 'utf8');
    else throw new Error(`parquet BYTE_ARRAY value must be a string, a Buffer or a PrefixedText, got ${typeof v}`);
  }
  const page = Buffer.allocUnsafe(length);
  let at = 0;
  for (const v of values as Array<string | Buffer | PrefixedText>) {
    let size: number;
    if (typeof v === 'string') size = page.write(v, at + 4, 'utf8');
    else if (Buffer.isBuffer(v)) size = v.copy(page, at + 4);
    else {
      size = v.head.copy(page, at + 4);
      size += page.write(v.tail, at + 4 + size, 'utf8');
    }
    page.writeUInt32LE(size, at);
    at += 4 + size;
  }
  if (at !== length) throw new Error(`parquet BYTE_ARRAY page: wrote ${at} bytes of ${length}`);
  return page;
}

/** The library's own PLAIN encoder (for tests to compare against). */
export const libraryPlainEncode = parquetPlain.encodeValues;
parquetPlain.encodeValues = (type: string, values: unknown[], opts: unknown): Buffer =>
  type === 'BYTE_ARRAY' ? encodePlainByteArray(values) : libraryPlainEncode(type, values, opts);

/** A schema field as parquetjs-lite's ParquetSchema lists it (the parts the shredder reads). */
interface SchemaField {
  name: string;
  path: string[];
  primitiveType: string;
  originalType?: string;
  repetitionType: 'REQUIRED' | 'OPTIONAL' | 'REPEATED';
  dLevelMax: number;
  isNested?: boolean;
  statistics?: boolean;
}
interface ShreddedColumn {
  dlevels: number[];
  rlevels: number[];
  values: unknown[];
  distinct_values: Set<unknown>;
  count: number;
}
interface RowBuffer {
  rowCount?: number;
  pageRowCount?: number;
  columnData?: Record<string, ShreddedColumn>;
  pages?: Record<string, unknown[]>;
}

/** The library's own shredder, kept for nested schemas (and for tests to compare against). */
export const libraryShredRecord = parquetShredder.shredRecord;

function isFlat(schema: { fieldList: SchemaField[] }): boolean {
  return schema.fieldList.every((f) => !f.isNested && f.repetitionType !== 'REPEATED' && f.path.length === 1);
}

/**
 * The library's shredRecord for a flat schema (no nesting, no repetition), producing the same
 * buffer, minus its per-row costs: the library builds a temporary copy of every column with a
 * Set per column, then spreads each Set, and copies every UTF8 Buffer. Measured on the full-size
 * run (471 x 72 rows of ~12 KB prompts), shredRecord was the main thread's top self time after
 * idle (2.6 s of ~14 s busy, plus the garbage it leaves). Buffers are taken as they are (the
 * writer never changes one after append), and distinct values are only collected for columns
 * with statistics (the only reader of them). Any other schema goes to the library's version.
 */
export function shredFlatRecord(schema: { fieldList: SchemaField[] }, record: Record<string, unknown>, buffer: RowBuffer): void {
  const fields = schema.fieldList;
  // Convert and check every value first, so a bad row leaves the buffer untouched (as upstream).
  const primitives: unknown[] = new Array(fields.length);
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i];
    const value = record[field.name];
    if (value === undefined || value === null) {
      if (field.repetitionType === 'REQUIRED') throw new Error(`missing required field: ${field.name}`);
      primitives[i] = undefined;
    } else if (Array.isArray(value)) {
      return libraryShredRecord(schema, record, buffer); // its own rules for arrays
    } else {
      const type = field.originalType || field.primitiveType;
      // Text is kept as given (a Buffer, or a string where no statistics compare values) and
      // encoded once, into the page (encodePlainByteArray).
      const asGiven = type === 'UTF8' && (Buffer.isBuffer(value) || value instanceof PrefixedText || (typeof value === 'string' && field.statistics === false));
      primitives[i] = asGiven ? value : parquetTypes.toPrimitive(type, value);
    }
  }
  if (buffer.columnData === undefined || buffer.rowCount === undefined) {
    buffer.rowCount = 0;
    buffer.pageRowCount = 0;
    buffer.columnData = {};
    buffer.pages = {};
    for (const field of fields) {
      buffer.columnData[field.path.join()] = { dlevels: [], rlevels: [], values: [], distinct_values: new Set(), count: 0 };
      buffer.pages[field.path.join()] = [];
    }
  }
  buffer.rowCount += 1;
  buffer.pageRowCount = (buffer.pageRowCount ?? 0) + 1;
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i];
    const column = buffer.columnData[field.path.join()];
    column.rlevels.push(0);
    column.count += 1;
    if (primitives[i] === undefined) {
      column.dlevels.push(0);
      continue;
    }
    column.dlevels.push(field.dLevelMax);
    column.values.push(primitives[i]);
    if (field.statistics !== false) column.distinct_values.add(record[field.name]);
  }
}

const flatSchemas = new WeakMap<object, boolean>();
parquetShredder.shredRecord = (schema: { fieldList: SchemaField[] }, record: Record<string, unknown>, buffer: RowBuffer): void => {
  let flat = flatSchemas.get(schema);
  if (flat === undefined) flatSchemas.set(schema, (flat = isFlat(schema)));
  if (flat) shredFlatRecord(schema, record, buffer);
  else libraryShredRecord(schema, record, buffer);
};

type ColumnType = 'UTF8' | 'DOUBLE' | 'INT64' | 'BOOLEAN';
export interface ColumnSpec {
  type: ColumnType;
  optional?: boolean;
  /** Default: GZIP for strings (readable everywhere), none for numbers. */
  compression?: 'GZIP' | 'BROTLI' | 'UNCOMPRESSED';
}

/**
 * Text made of a head many values share (an entity's prompt prefix, ~12 KB on the bench) and a
 * tail of its own: the head is UTF-8 bytes encoded once (see PrefixEncoder) and copied straight
 * into the page for each value, so no value's whole text is built, encoded or held by itself (at
 * 1,000 prompts a row group, 12 MB of Buffers a row group and ~400 MB of allocations a full run).
 * The page bytes are those of the joined text. Statistics never compare text (see buildSchema),
 * the only other reader of a value.
 */
export class PrefixedText {
  constructor(
    readonly head: Buffer,
    readonly tail: string,
  ) {}
}

/** Makes PrefixedText values, encoding a head once for the consecutive values that share it. */
export class PrefixEncoder {
  private last: { head: string; bytes: Buffer } | null = null;

  /** `head + tail` as a parquet text value. */
  text(head: string, tail: string): string | PrefixedText {
    // A head ending in a high surrogate pairs with the tail's first unit: encoded apart, each
    // half would become U+FFFD, so that text is encoded whole.
    const last = head.charCodeAt(head.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) return head + tail;
    if (this.last?.head !== head) this.last = { head, bytes: Buffer.from(head, 'utf8') };
    return new PrefixedText(this.last.bytes, tail);
  }
}

export type ParquetValue = string | number | boolean | null | PrefixedText;

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
  // Appended after the original columns, so readers selecting those by position still work.
  finish_reason: { type: 'UTF8', optional: true },
  model: { type: 'UTF8' },
  lora_adapter: { type: 'UTF8', optional: true },
  temperature: { type: 'DOUBLE' },
  max_tokens: { type: 'INT64' },
  seed: { type: 'INT64' },
  /** The stop sequences as a JSON array: a flat schema keeps every reader simple. */
  stop: { type: 'UTF8' },
  guided_json: { type: 'BOOLEAN' },
  replica: { type: 'UTF8', optional: true },
  /** ISO 8601 UTC text, exactly as logged; null in logs from before calls were timed. */
  started_at: { type: 'UTF8', optional: true },
  finished_at: { type: 'UTF8', optional: true },
};

/**
 * The raw_outputs columns of a run: failover_from (the entity's own replica, where a call failed
 * over to another) is appended only when some call failed over, so the files of runs without a
 * failover keep their bytes.
 */
export function rawOutputsColumns(withFailover: boolean): Record<string, ColumnSpec> {
  return withFailover ? { ...RAW_OUTPUTS_COLUMNS, failover_from: { type: 'UTF8', optional: true } } : RAW_OUTPUTS_COLUMNS;
}

/**
 * Streams rows into one parquet file; call close() exactly once. The bytes are hashed on their
 * way to the file, so the tree hash needs no second read of it (sha256() after close()).
 */
export class ParquetFileWriter {
  private closed = false;
  private finished = false;
  /** The columns as a list, made once: append() runs per row (~40k per file on a full run). */
  private readonly columnList: ReadonlyArray<readonly [string, ColumnSpec]>;

  private constructor(
    private readonly path: string,
    private readonly columns: Record<string, ColumnSpec>,
    private readonly writer: { appendRow(row: Record<string, unknown>): Promise<void>; close(): Promise<void> },
    private readonly file: HashedFile,
  ) {
    this.columnList = Object.entries(columns);
  }

  static async open(path: string, columns: Record<string, ColumnSpec>): Promise<ParquetFileWriter> {
    const file = await HashedFile.open(path);
    const writer = await parquet.ParquetWriter.openStream(buildSchema(columns), file, {
      rowGroupSize: ROW_GROUP_SIZE,
      useDataPageV2: false,
      pageIndex: false,
    });
    return new ParquetFileWriter(path, columns, writer, file);
  }

  /** The sha256 (hex) of the whole file; only after close(). */
  sha256(): string {
    if (!this.finished) throw new Error(`${this.path}: sha256() needs the file closed first`);
    return this.file.sha256();
  }

  async append(row: Record<string, ParquetValue>): Promise<void> {
    this.file.throwIfFailed();
    const record: Record<string, unknown> = {};
    for (const [name, spec] of this.columnList) {
      const value = row[name];
      if (value === null || value === undefined) {
        if (!spec.optional) throw new Error(`${this.path}: required column ${name} is ${String(value)}`);
        continue; // parquetjs-lite writes an absent optional field as null
      }
      if (spec.type === 'INT64' && !Number.isSafeInteger(value)) {
        throw new Error(`${this.path}: column ${name} needs an integer, got ${String(value)}`);
      }
      if (value instanceof PrefixedText) {
        if (spec.type !== 'UTF8') throw new Error(`${this.path}: column ${name} is ${spec.type}, got text`);
        record[name] = value; // stored as it is by shredFlatRecord, encoded into the page
        continue;
      }
      // Long text (prompts) goes in as Buffers, which shredFlatRecord stores as they are: no
      // copy, no Set of 12 KB strings, and a row group's prompts outside the JS heap (kept as
      // strings, flattened 12 KB copies in old space raised the reporter's peak RSS by ~100 MB on
      // the a1 bench). Short text stays a string, encoded once into the page: a Buffer per id
      // was garbage the collector had to catch up with.
      record[name] = spec.type === 'UTF8' && (value as string).length > SHORT_TEXT ? Buffer.from(value as string, 'utf8') : value;
    }
    await this.writer.appendRow(record);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.writer.close();
    this.file.sha256(); // throws the stream's failure, if any
    this.finished = true;
  }

  /**
   * Releases the file handle after a failure elsewhere; the partial file (no footer) is left for
   * the caller to delete. Never throws: the caller is already reporting the original error.
   */
  async abort(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.file.abort();
  }
}
