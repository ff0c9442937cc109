import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { MIGRATIONS } from '../../../migrations';
import { errorMessage } from '@assay/contracts';

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/assay';

export function databaseUrl(): string {
  return process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
}

/** The database a URL names; a URL without one is an error, not the server's default database. */
function databaseName(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (!name) throw new Error(`DATABASE_URL '${redact(url)}' names no database`);
  return name;
}

const unreachable = (url: string, error: unknown) => new Error(`cannot reach Postgres at ${redact(url)}: ${errorMessage(error)}. Start it (see README: "What must be running").`);

/** Creates the database named in the URL when it is missing; safe when several services race. */
export async function ensureDatabase(url: string): Promise<void> {
  const name = databaseName(url);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  try {
    await client.connect();
  } catch (error) {
    throw unreachable(url, error);
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

const MIGRATIONS_TABLE = 'schema_migrations';

/** The database is missing or not migrated far enough for this code: the services, not this caller, must set it up. */
export class DatabaseNotReadyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseNotReadyError';
  }
}

/**
 * Checks, without creating or migrating anything, that the database in the URL exists and has
 * every migration this code knows. For callers that must not set a database up (the CLI): a
 * misspelt DATABASE_URL would otherwise get a new empty database and report an empty registry.
 */
export async function checkDatabaseReady(url: string): Promise<void> {
  const name = databaseName(url);
  const setUp = `The services create and migrate it when they start ('npm run up' or 'docker compose up'); if they are running, check DATABASE_URL (now ${redact(url)}).`;
  const client = new Client({ connectionString: url });
  try {
    await client.connect();
  } catch (error) {
    // 3D000 invalid_catalog_name: the server answered, the database is not there.
    if ((error as { code?: string }).code === '3D000') throw new DatabaseNotReadyError(`database '${name}' does not exist. ${setUp}`);
    throw unreachable(url, error);
  }
  try {
    const table = await client.query<{ found: string | null }>('SELECT to_regclass($1)::text AS found', [MIGRATIONS_TABLE]);
    if (table.rows[0].found === null) throw new DatabaseNotReadyError(`database '${name}' exists but is not migrated (no ${MIGRATIONS_TABLE} table): it is not an assay event store yet. ${setUp}`);
    const applied = new Set((await client.query<{ name: string }>(`SELECT name FROM ${MIGRATIONS_TABLE}`)).rows.map((r) => r.name));
    // Named as TypeORM records them: the migration's name, else its class name.
    const missing = MIGRATIONS.map((M) => new M().name ?? M.name).filter((n) => !applied.has(n));
    if (missing.length > 0) throw new DatabaseNotReadyError(`database '${name}' lacks migrations this code needs: ${missing.join(', ')}. Start the services of this version, which migrate it; if they are running, check DATABASE_URL (now ${redact(url)}).`);
  } finally {
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
    migrationsTableName: MIGRATIONS_TABLE,
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
