import { readFile } from 'node:fs/promises';
import { errorMessage } from '@assay/contracts';
import type { FileMetaData, SchemaElement } from 'hyparquet';

/**
 * Parquet input as text cells, read with hyparquet: it handles what pandas (pyarrow), polars and
 * DuckDB write today (zstd, brotli, lz4, gzip and snappy pages, v2 data pages, footer version 2).
 *
 * The loader works on text, like CSV, so typed values are written the way they would be written
 * to a CSV file, exactly (no float rounding on the way):
 * - integers (INT32, INT64, unsigned): decimal digits, all of them (INT64 is read as a BigInt);
 * - DECIMAL(p, s): the exact decimal with s fraction digits, e.g. DECIMAL(6,2) 1250 -> "12.50";
 * - FLOAT / DOUBLE: the shortest text that reads back as the same value ("0.1", not 0.1000000015);
 * - DATE: "YYYY-MM-DD";
 * - TIMESTAMP: ISO 8601 "YYYY-MM-DDTHH:MM:SS", fraction digits only when the value has a fraction
 *   (3, 6 or 9 by the column's unit), and a trailing "Z" only when the column is UTC-adjusted
 *   (TIMESTAMP WITH TIME ZONE): a local timestamp is not claimed to be UTC. INT96 (old Spark and
 *   pandas files) is UTC.
 * - TIME: "HH:MM:SS" with the same fraction rule;
 * - BOOLEAN: "true" / "false"; strings and un-annotated byte arrays: their UTF-8 text;
 * - null: an empty cell, so a null response value is a missing observation, as in CSV.
 */

type Format = (value: unknown) => string;

interface ColumnPlan {
  name: string;
  format: Format;
}

export class ParquetInputError extends Error {
  override name = 'ParquetInputError';
}

export async function readParquetCells(file: string): Promise<{ columns: string[]; rows: string[][] }> {
  // Loaded on first use: every service loads this library, few ever read a Parquet file.
  const [{ parquetMetadata, parquetRead, parquetSchema }, { compressors }] = await Promise.all([import('hyparquet'), import('hyparquet-compressors')]);
  const bytes = await readFile(file);
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let metadata: FileMetaData;
  try {
    metadata = parquetMetadata(buffer);
  } catch (error) {
    throw new ParquetInputError(`${file}: not a readable Parquet file: ${errorMessage(error)}`, { cause: error });
  }
  const top = parquetSchema(metadata).children;
  const nested = top.filter((c) => c.children.length > 0 || c.element.repetition_type === 'REPEATED');
  if (nested.length > 0) {
    throw new ParquetInputError(`${file}: nested Parquet columns are not supported: ${nested.map((c) => c.element.name).join(', ')}`);
  }
  // hyparquet turns DECIMAL into a float and timestamps into a millisecond Date, losing digits:
  // the reader gets a copy of the schema without those annotations, returns the stored integers,
  // and the formats below, made from the original annotations, write them exactly.
  const plans: ColumnPlan[] = top.map((c) => ({ name: c.element.name, format: formatFor(c.element) }));
  const annotated = new Set(top.filter((c) => isExactlyFormatted(c.element)).map((c) => c.element));
  const readable: FileMetaData = {
    ...metadata,
    schema: metadata.schema.map((e) => (annotated.has(e) ? { ...e, converted_type: undefined, logical_type: undefined } : e)),
  };
  let rows: unknown[][];
  try {
    rows = await new Promise<unknown[][]>((resolve, reject) => {
      parquetRead({
        file: buffer,
        metadata: readable,
        compressors,
        utf8: false,
        // INT96 has no annotation to strip; JSON is kept as its text.
        parsers: { timestampFromNanoseconds: (n: bigint) => timestampText(n, 'NANOS', true), jsonFromBytes: (b: Uint8Array) => utf8(b) },
        rowFormat: 'array',
        onComplete: (r: unknown[][]) => resolve(r),
      }).catch(reject);
    });
  } catch (error) {
    throw new ParquetInputError(`${file}: cannot read Parquet data: ${errorMessage(error)}`, { cause: error });
  }
  const columns = plans.map((p) => p.name);
  return {
    columns,
    rows: rows.map((row, i) =>
      plans.map((p, c) => {
        const v = row[c];
        if (v === null || v === undefined) return '';
        try {
          return p.format(v);
        } catch (error) {
          throw new ParquetInputError(`${file}:${i + 2} (parquet row ${i + 1}) column '${p.name}': ${errorMessage(error)}`, { cause: error });
        }
      }),
    ),
  };
}

function isExactlyFormatted(e: SchemaElement): boolean {
  const lt = e.logical_type?.type;
  const ct = e.converted_type;
  return (
    lt === 'DECIMAL' || lt === 'DATE' || lt === 'TIMESTAMP' || lt === 'TIME' ||
    ct === 'DECIMAL' || ct === 'DATE' || ct === 'TIMESTAMP_MILLIS' || ct === 'TIMESTAMP_MICROS' || ct === 'TIME_MILLIS' || ct === 'TIME_MICROS'
  );
}

function formatFor(e: SchemaElement): Format {
  const lt = e.logical_type;
  const ct = e.converted_type;
  if (lt?.type === 'DECIMAL' || ct === 'DECIMAL') {
    const scale = lt?.type === 'DECIMAL' ? lt.scale : (e.scale ?? 0);
    return (v) => decimalText(unscaled(v), scale);
  }
  if (lt?.type === 'DATE' || ct === 'DATE') return (v) => dateText(Number(v));
  if (lt?.type === 'TIMESTAMP') return (v) => timestampText(BigInt(v as bigint), lt.unit, lt.isAdjustedToUTC);
  // The legacy annotations are UTC-adjusted by definition.
  if (ct === 'TIMESTAMP_MILLIS') return (v) => timestampText(BigInt(v as bigint), 'MILLIS', true);
  if (ct === 'TIMESTAMP_MICROS') return (v) => timestampText(BigInt(v as bigint), 'MICROS', true);
  if (lt?.type === 'TIME') return (v) => timeText(BigInt(v as bigint), lt.unit);
  if (ct === 'TIME_MILLIS') return (v) => timeText(BigInt(v as number), 'MILLIS');
  if (ct === 'TIME_MICROS') return (v) => timeText(BigInt(v as bigint), 'MICROS');
  if (e.type === 'FLOAT') return (v) => float32Text(v as number);
  return plainText;
}

function plainText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (v instanceof Uint8Array) return utf8(v);
  throw new Error(`unsupported cell type ${Object.prototype.toString.call(v)}`);
}

function utf8(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

/** A DECIMAL's stored integer: INT32, INT64, or big-endian two's complement bytes. */
function unscaled(v: unknown): bigint {
  if (typeof v === 'number' || typeof v === 'bigint') return BigInt(v);
  if (v instanceof Uint8Array) {
    if (v.length === 0) return 0n;
    let n = 0n;
    for (const byte of v) n = (n << 8n) | BigInt(byte);
    return v[0] & 0x80 ? n - (1n << BigInt(v.length * 8)) : n;
  }
  throw new Error(`unsupported DECIMAL storage ${Object.prototype.toString.call(v)}`);
}

export function decimalText(value: bigint, scale: number): string {
  if (scale <= 0) return (value * 10n ** BigInt(-scale)).toString();
  const sign = value < 0n ? '-' : '';
  const digits = (value < 0n ? -value : value).toString().padStart(scale + 1, '0');
  return `${sign}${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}

const DAY_MS = 86_400_000;

export function dateText(days: number): string {
  return new Date(days * DAY_MS).toISOString().slice(0, 10);
}

const PER_MS: Record<'MILLIS' | 'MICROS' | 'NANOS', bigint> = { MILLIS: 1n, MICROS: 1_000n, NANOS: 1_000_000n };
const FRACTION_DIGITS: Record<'MILLIS' | 'MICROS' | 'NANOS', number> = { MILLIS: 3, MICROS: 6, NANOS: 9 };

/** Splits a count of `unit`s into whole milliseconds (floored) and the sub-unit fraction digits. */
function split(value: bigint, unit: 'MILLIS' | 'MICROS' | 'NANOS'): { ms: number; fraction: string } {
  const per = PER_MS[unit];
  let ms = value / per;
  let sub = value % per;
  if (sub < 0n) {
    ms -= 1n;
    sub += per;
  }
  const msOfSecond = ((ms % 1000n) + 1000n) % 1000n;
  const digits = FRACTION_DIGITS[unit];
  const fraction = (msOfSecond * per + sub).toString().padStart(digits, '0');
  return { ms: Number(ms), fraction: /^0+$/.test(fraction) ? '' : `.${fraction}` };
}

export function timestampText(value: bigint, unit: 'MILLIS' | 'MICROS' | 'NANOS', utc: boolean): string {
  const { ms, fraction } = split(value, unit);
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) throw new Error(`timestamp ${value} (${unit}) is out of range`);
  return `${date.toISOString().slice(0, 19)}${fraction}${utc ? 'Z' : ''}`;
}

function timeText(value: bigint, unit: 'MILLIS' | 'MICROS' | 'NANOS'): string {
  const { ms, fraction } = split(value, unit);
  return `${new Date(ms).toISOString().slice(11, 19)}${fraction}`;
}

/** The shortest decimal that reads back as the same 32-bit float. */
export function float32Text(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  for (let digits = 1; digits <= 9; digits++) {
    const text = Number(v.toPrecision(digits));
    if (Math.fround(text) === v) return String(text);
  }
  return String(v);
}
