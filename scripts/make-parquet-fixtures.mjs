// Writes the Parquet input fixtures (libs/data/src/testing/parquet/) with DuckDB, the way pandas, polars and
// DuckDB users produce them today: zstd, v2 data pages (footer version 2), DECIMAL, TIMESTAMP,
// DATE, BIGINT beyond 2^53, nulls; plus the other codecs on a small file each.
// DuckDB is not a dependency of assay (a 40 MB native binary for a few test files), so run:
//   npm i --no-save @duckdb/node-api@1.5.6-r.1 && node scripts/make-parquet-fixtures.mjs
// The output is deterministic: re-running it rewrites the same rows.
import { DuckDBInstance } from '@duckdb/node-api';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = join(dirname(fileURLToPath(import.meta.url)), '..', 'libs', 'data', 'src', 'testing', 'parquet');
const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
const out = (name) => `'${join(here, name).replaceAll("'", "''")}'`;

await con.run(`SET TimeZone = 'UTC'`);
await con.run(`CREATE TABLE profiles AS SELECT * FROM (VALUES
  ('e1', 34, 1250.50::DECIMAL(10,2), 9007199254740993::BIGINT, DATE '1990-02-28', TIMESTAMP '2024-01-02 03:04:05',        TIMESTAMPTZ '2024-01-02 03:04:05.123+00', 0.1::FLOAT, 0.1::DOUBLE, true,  'plain',  12345678901234567890.0123456789::DECIMAL(38,10), TIMESTAMP_NS '2024-01-02 03:04:05.123456789', TIME '13:14:15'),
  ('e2', 51, -3.07::DECIMAL(10,2),  -42::BIGINT,               DATE '1969-12-31', TIMESTAMP '1960-06-30 23:59:59.000001', NULL,                                 2.5::FLOAT, 1e-7::DOUBLE, false, NULL,     -0.5::DECIMAL(38,10),                                 NULL,                                          NULL),
  ('e3', NULL, NULL,                NULL,                      NULL,              NULL,                                 NULL,                                 NULL,       NULL,         NULL,  'ünïcødé', NULL,                                                NULL,                                          NULL)
) t(entity_id, age, income, big, born, seen, seen_tz, ratio, score, member, note, wide, seen_ns, at_time)`);
await con.run(`COPY profiles TO ${out('profiles-zstd-v2.parquet')} (FORMAT parquet, COMPRESSION zstd, PARQUET_VERSION v2)`);

await con.run(`CREATE TABLE responses AS SELECT * FROM (VALUES
  ('e1', 'g1', 'q1', 3.0::DECIMAL(4,1)),
  ('e1', 'g1', 'q2', 4.5::DECIMAL(4,1)),
  ('e2', 'g1', 'q1', NULL),
  ('e2', 'g1', 'q2', 1.0::DECIMAL(4,1)),
  ('e3', 'g1', 'q1', 2.0::DECIMAL(4,1))
) t(entity_id, "group", item, value)`);
await con.run(`COPY responses TO ${out('responses-zstd-v2.parquet')} (FORMAT parquet, COMPRESSION zstd, PARQUET_VERSION v2)`);
for (const codec of ['snappy', 'gzip', 'brotli', 'lz4_raw', 'uncompressed']) {
  await con.run(`COPY responses TO ${out(`responses-${codec.replace('_', '-')}.parquet`)} (FORMAT parquet, COMPRESSION ${codec})`);
}

await con.run(`CREATE TABLE items AS SELECT * FROM (VALUES
  ('g1', 'q1', 'How much?', 1::DECIMAL(3,0), 5::DECIMAL(3,0), 'ordinal'),
  ('g1', 'q2', 'How often?', 1::DECIMAL(3,0), 5::DECIMAL(3,0), 'continuous')
) t("group", item, question, min, max, kind)`);
await con.run(`COPY items TO ${out('items-snappy.parquet')} (FORMAT parquet, COMPRESSION snappy)`);
con.closeSync();
