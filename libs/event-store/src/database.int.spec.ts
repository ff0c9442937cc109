import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { ensureDatabase } from './database';

const ADMIN_URL = process.env.ASSAY_TEST_ADMIN_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

describe('ensureDatabase (real Postgres)', () => {
  const name = `assay_ensure_${randomBytes(6).toString('hex')}`;
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;

  afterAll(async () => {
    const admin = new Client({ connectionString: ADMIN_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  });

  it('given six services starting together on a fresh server, when each ensures the database, then all succeed and it exists once', async () => {
    // Without the lock, racing CREATE DATABASE statements fail with a unique violation on pg_database.
    await Promise.all(Array.from({ length: 6 }, () => ensureDatabase(url.toString())));
    const admin = new Client({ connectionString: ADMIN_URL });
    await admin.connect();
    const found = await admin.query('SELECT count(*)::int AS n FROM pg_database WHERE datname = $1', [name]);
    await admin.end();
    expect(found.rows[0].n).toBe(1);
  });

  it('given a URL without a database name, when ensured, then the error says so', async () => {
    const bare = new URL(ADMIN_URL);
    bare.pathname = '/';
    await expect(ensureDatabase(bare.toString())).rejects.toThrow(/names no database/);
  });
});
