import { randomBytes } from 'node:crypto';
import { testDatabaseUrl, withConnection } from '../../../libs/testing/src/fixtures/database';
import { main } from './main';

/**
 * The CLI never sets a database up: the services create and migrate it. A misspelt DATABASE_URL
 * used to create a new empty database and print an empty registry.
 */
describe('assay status against a database the services did not set up (real Postgres)', () => {
  const name = `assay_cli_missing_${randomBytes(6).toString('hex')}`;
  const saved = process.env.DATABASE_URL;

  /** Runs `assay status` as the binary would, against DATABASE_URL=url. */
  async function status(url: string): Promise<{ code: number; stdout: string; stderr: string }> {
    process.env.DATABASE_URL = url;
    let stdout = '';
    let stderr = '';
    const out = jest.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((stdout += String(c)), true));
    const err = jest.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((stderr += String(c)), true));
    try {
      const code = await new Promise<number>((resolve) => main(['node', 'assay', 'status'], resolve));
      return { code, stdout, stderr };
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
  }

  afterAll(async () => {
    if (saved === undefined) delete process.env.DATABASE_URL;
    else process.env.DATABASE_URL = saved;
    await withConnection((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  });

  it('given a DATABASE_URL naming no existing database, exits 3 naming it and what to do, and creates no database', async () => {
    const { code, stdout, stderr } = await status(testDatabaseUrl(name));
    expect(code).toBe(3);
    expect(stdout).toBe('');
    expect(stderr).toContain(`error: database '${name}' does not exist. The services create and migrate it when they start ('npm run up' or 'docker compose up'); if they are running, check DATABASE_URL`);
    const found = await withConnection((c) => c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]));
    expect(found.rowCount).toBe(0);
  });

  it('given an empty database (not migrated), exits 3 saying so, and creates no table', async () => {
    await withConnection((c) => c.query(`CREATE DATABASE ${name}`));
    const { code, stderr } = await status(testDatabaseUrl(name));
    expect(code).toBe(3);
    expect(stderr).toContain(`error: database '${name}' exists but is not migrated`);
    const tables = await withConnection((c) => c.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`), testDatabaseUrl(name));
    expect(tables.rows).toEqual([]);
  });
});
