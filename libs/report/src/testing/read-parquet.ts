import { execFileSync } from 'node:child_process';

/**
 * Reads a parquet file with hyparquet, an independent reader, in a child Node process: hyparquet
 * is ESM-only and Jest runs CommonJS. INT64 values come back as bigint, so they are tagged in the
 * JSON to keep the type check honest.
 */

export interface ParquetColumnInfo {
  name: string;
  type: string | undefined;
  repetition: string | undefined;
  convertedType: string | undefined;
}

export interface ParquetContents {
  columns: ParquetColumnInfo[];
  rowGroups: number;
  rows: Array<Record<string, unknown>>;
}

const SCRIPT = `
import { readFileSync } from 'node:fs';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
const bytes = readFileSync(process.argv[1]);
const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
const metadata = parquetMetadata(file);
const rows = await parquetReadObjects({ file, compressors: { GZIP: (input) => new Uint8Array(gunzipSync(input)), BROTLI: (input) => new Uint8Array(brotliDecompressSync(input)) } });
const columns = metadata.schema.slice(1).map((s) => ({ name: s.name, type: s.type, repetition: s.repetition_type, convertedType: s.converted_type }));
process.stdout.write(JSON.stringify({ columns, rowGroups: metadata.row_groups.length, rows },
  (k, v) => (typeof v === 'bigint' ? { $bigint: v.toString() } : v)));
`;

export function readParquet(path: string): ParquetContents {
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', SCRIPT, path], {
    cwd: __dirname,
    maxBuffer: 512 * 1024 * 1024,
    encoding: 'utf8',
  });
  return JSON.parse(out) as ParquetContents;
}
