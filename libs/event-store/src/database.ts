import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { MIGRATIONS } from '../../../migrations';
import { errorMessage } from '@assay/contracts';

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/assay';

export function databaseUrl(): string {
  return process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
}

/** Creates the database named in the URL when it is missing; safe when several services race. */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  if (!name) throw new Error(`DATABASE_URL '${redact(url)}' names no database`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(`cannot reach Postgres at ${redact(url)}: ${errorMessage(error)}. Start it (see README: "What must be running").`);
  }
  try {
    // Services start together on a fresh machine: two CREATE DATABASE racing fail with a unique
    // violation on pg_database, so the check and the create run under a server-wide lock.
    await client.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', ['assay:create-database']);
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) {
      try {
        await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
      } catch (error) {
        // 42P04 duplicate_database: created by something that does not take our lock.
        if ((error as { code?: string }).code !== '42P04') throw error;
      }
    }
  } finally {
    // Ending the session releases the advisory lock.
    await client.end();
  }
}

export function createDataSource(url: string, poolSize = 10): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    synchronize: false,
    migrationsRun: false,
    migrations: MIGRATIONS,
    migrationsTableName: 'schema_migrations',
    logging: false,
    extra: { max: poolSize },
  });
}

/**
 * Runs pending migrations under an advisory lock, so services starting together do not collide.
 * The lock lives on its own connection: holding it on one of the pool's would deadlock a pool of one.
 */
export async function migrate(dataSource: DataSource, url: string): Promise<string[]> {
  const lock = new Client({ connectionString: url });
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', ['assay:migrations']);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return applied.map((m) => m.name);
  } finally {
    await lock.end(); // ending the session releases the lock
  }
}

/** Connection strings may carry a password: never print one. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable DATABASE_URL)';
  }
}
