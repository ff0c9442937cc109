import { createEvent, experimentStream } from '@assay/contracts';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { testDatabaseUrl, withConnection } from '../../testing/src/fixtures/database';
import { checkDatabaseReady, DatabaseNotReadyError, ensureDatabase } from './database';
import { EventStore } from './event-store';
import { readStream } from './read';

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

describe('EventStore.openExisting (real Postgres)', () => {
  const names: string[] = [];
  const fresh = () => {
    const name = `assay_existing_${randomBytes(6).toString('hex')}`;
    names.push(name);
    return name;
  };
  const exists = (name: string) => withConnection(async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1);
  const tables = (name: string) => withConnection(async (c) => (await c.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`)).rows.map((r) => r.tablename as string), testDatabaseUrl(name));

  afterAll(async () => {
    for (const name of names) await withConnection((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  });

  it('given a database that does not exist, when opened, then it fails naming the database and what to do, and creates nothing', async () => {
    const name = fresh();
    const opening = EventStore.openExisting({ url: testDatabaseUrl(name) });
    await expect(opening).rejects.toBeInstanceOf(DatabaseNotReadyError);
    await expect(opening).rejects.toThrow(new RegExp(`database '${name}' does not exist\\. The services create and migrate it when they start .*check DATABASE_URL`));
    expect(await exists(name)).toBe(false);
  });

  it('given an empty database, when opened, then it says it is not migrated and migrates nothing', async () => {
    const name = fresh();
    await withConnection((c) => c.query(`CREATE DATABASE ${name}`));
    await expect(EventStore.openExisting({ url: testDatabaseUrl(name) })).rejects.toThrow(new RegExp(`database '${name}' exists but is not migrated`));
    expect(await tables(name)).toEqual([]);
  });

  it('given a database one migration behind this code, when checked, then the missing migration is named', async () => {
    const name = fresh();
    await (await EventStore.open({ url: testDatabaseUrl(name), poolSize: 1 })).close();
    await withConnection((c) => c.query(`DELETE FROM schema_migrations WHERE name = 'EvaluationRoundIndex1764100000000'`), testDatabaseUrl(name));
    await expect(checkDatabaseReady(testDatabaseUrl(name))).rejects.toThrow(`database '${name}' lacks migrations this code needs: EvaluationRoundIndex1764100000000.`);
  });

  it('given a database the services migrated, when opened, then it reads and appends (no create, no migrate, but writes allowed)', async () => {
    const name = fresh();
    await (await EventStore.open({ url: testDatabaseUrl(name), poolSize: 1 })).close();
    const store = await EventStore.openExisting({ url: testDatabaseUrl(name), poolSize: 1 });
    try {
      const stream = experimentStream('existing_test');
      const event = createEvent(
        'experiment.failed',
        { requestId: null, identity: null, attempt: null, stage: 'config', error: 'x', details: [] },
        { stream, correlationId: 'c1', causationId: null, producer: 'test', codeVersion: 'test' },
      );
      await store.append([{ stream, expected: 'no_stream', events: [event] }]);
      expect((await store.read((sql) => readStream(sql, stream))).map((e) => e.id)).toEqual([event.id]);
    } finally {
      await store.close();
    }
  });
});
