import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** The built reporter refuses to listen beyond loopback without a token, before touching Postgres or NATS. */
describe('reporter bind address (built process)', () => {
  it('given ASSAY_HTTP_HOST=0.0.0.0 and no ASSAY_API_TOKEN, when started, then it exits 1 saying what to set', () => {
    const main = join(__dirname, '../../../../dist/services/reporter/src/main.js');
    const env = { ...process.env, ASSAY_HTTP_HOST: '0.0.0.0', ASSAY_API_TOKEN: '', ASSAY_HTTP_ALLOW_OPEN: '', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', NATS_URL: 'nats://127.0.0.1:1' };
    const run = spawnSync(process.execPath, [main], { env, encoding: 'utf8', timeout: 30_000 });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('reporter: ASSAY_HTTP_HOST=0.0.0.0 exposes the reporter beyond this machine: set ASSAY_API_TOKEN');
  });
});
