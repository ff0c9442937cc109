import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkDataset, featurePairs, loadDataset } from './dataset';
import { dateText, decimalText, float32Text, readParquetCells, timestampText } from './parquet-input';
import { DatasetError, readTable } from './table';

// Written by DuckDB 1.5 (scripts/make-parquet-fixtures.mjs): zstd, v2 data pages, footer version 2.
const FIXTURES = join(__dirname, 'testing', 'parquet');
const fixture = (name: string) => join(FIXTURES, name);

describe('Parquet input (hyparquet)', () => {
  it('given profiles DuckDB wrote with zstd and v2 pages, when read, then every typed cell is its exact text', async () => {
    const { columns, rows } = await readParquetCells(fixture('profiles-zstd-v2.parquet'));
    expect(columns).toEqual(['entity_id', 'age', 'income', 'big', 'born', 'seen', 'seen_tz', 'ratio', 'score', 'member', 'note', 'wide', 'seen_ns', 'at_time']);
    expect(rows).toEqual([
      [
        'e1',
        '34',
        '1250.50', // DECIMAL(10,2): its scale's digits, no float rounding
        '9007199254740993', // BIGINT above 2^53: every digit
        '1990-02-28',
        '2024-01-02T03:04:05', // TIMESTAMP (local): no fraction when there is none, no Z
        '2024-01-02T03:04:05.123000Z', // TIMESTAMPTZ: UTC, microsecond unit
        '0.1', // FLOAT: the shortest text of the 32-bit value
        '0.1',
        'true',
        'plain',
        '12345678901234567890.0123456789', // DECIMAL(38,10) in fixed-length bytes
        '2024-01-02T03:04:05.123456789', // TIMESTAMP_NS
        '13:14:15',
      ],
      ['e2', '51', '-3.07', '-42', '1969-12-31', '1960-06-30T23:59:59.000001', '', '2.5', '1e-7', 'false', '', '-0.5000000000', '', ''],
      ['e3', '', '', '', '', '', '', '', '', '', 'ünïcødé', '', '', ''],
    ]);
  });

  it.each(['zstd-v2', 'snappy', 'gzip', 'brotli', 'lz4-raw', 'uncompressed'])('given responses compressed with %s, when read, then the same cells', async (codec) => {
    const { columns, rows } = await readParquetCells(fixture(`responses-${codec}.parquet`));
    expect(columns).toEqual(['entity_id', 'group', 'item', 'value']);
    expect(rows).toEqual([
      ['e1', 'g1', 'q1', '3.0'],
      ['e1', 'g1', 'q2', '4.5'],
      ['e2', 'g1', 'q1', ''],
      ['e2', 'g1', 'q2', '1.0'],
      ['e3', 'g1', 'q1', '2.0'],
    ]);
  });

  it('given a dataset of DuckDB Parquet files, when loaded, then features are text, DECIMAL values are numbers, and a null value is a missing observation', async () => {
    const ds = await loadDataset({ profiles: fixture('profiles-zstd-v2.parquet'), responses: fixture('responses-zstd-v2.parquet'), items: fixture('items-snappy.parquet') });
    expect(featurePairs(ds.entities[0]).slice(0, 3)).toEqual([['age', '34'], ['income', '1250.50'], ['big', '9007199254740993']]);
    expect([...ds.observations].map((o) => o.value)).toEqual([3, 4.5, 1, 2]);
    expect(ds.items.map((i) => [i.item, i.min, i.max, i.kind])).toEqual([['q1', 1, 5, 'ordinal'], ['q2', 1, 5, 'continuous']]);
    const check = checkDataset(ds);
    expect(check.errors).toEqual([]);
    expect(check.warnings[0]).toContain('1 row(s) with an empty value skipped as missing observations: line 4 (parquet row 3) entity "e2"');
  });

  it('given a file that is not Parquet, when read, then a DatasetError names the file and says why (never an empty message)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'assay-pq-'));
    const file = join(dir, 'broken.parquet');
    writeFileSync(file, 'entity_id,age\ne1,3\n');
    const error = await readTable(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatasetError);
    expect((error as Error).message).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: not a readable Parquet file: .+`));
  });
});

describe('Parquet cell formats', () => {
  it('given DECIMAL integers and scales, when written, then exact decimal text', () => {
    expect(decimalText(1250n, 2)).toBe('12.50');
    expect(decimalText(-5n, 3)).toBe('-0.005');
    expect(decimalText(0n, 2)).toBe('0.00');
    expect(decimalText(7n, 0)).toBe('7');
    expect(decimalText(123456789012345678901234567890n, 10)).toBe('12345678901234567890.1234567890');
  });

  it('given days and timestamps around the epoch, when written, then ISO text with the fraction only when present', () => {
    expect(dateText(0)).toBe('1970-01-01');
    expect(dateText(-1)).toBe('1969-12-31');
    expect(timestampText(-1n, 'MICROS', false)).toBe('1969-12-31T23:59:59.999999');
    expect(timestampText(1_000n, 'MILLIS', true)).toBe('1970-01-01T00:00:01Z');
    expect(timestampText(1_500_000_001n, 'NANOS', true)).toBe('1970-01-01T00:00:01.500000001Z');
  });

  it('given 32-bit floats, when written, then the shortest text that reads back the same', () => {
    expect(float32Text(Math.fround(0.1))).toBe('0.1');
    expect(float32Text(Math.fround(1 / 3))).toBe('0.33333334');
    expect(float32Text(16777216)).toBe('16777216');
  });
});
