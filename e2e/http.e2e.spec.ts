import { parse } from 'csv-parse/sync';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { basename, dirname, join, relative } from 'node:path';
import { Client } from 'pg';
import { readParquet } from '../libs/report/src/testing/read-parquet';
import { holdModelCalls, modelCallHold, releaseModelCalls, startStack, writeConfig, type Stack } from '../libs/testing/src/fixtures/stack';
import { until } from '../libs/testing/src/fixtures/until';

jest.setTimeout(120_000);

const TOKEN = `e2e-token-${Math.random().toString(36).slice(2)}`;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * A raw HTTP request: node:http sends the path exactly as given. fetch() would not do for
 * traversal tests, since the WHATWG URL parser resolves '..' and '%2e%2e' before sending.
 */
function raw(stack: Stack, method: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: stack.httpPort, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function json<T = Record<string, unknown>>(stack: Stack, path: string): Promise<{ status: number; body: T }> {
  const res = await raw(stack, 'GET', path);
  return { status: res.status, body: JSON.parse(res.body) as T };
}

/** sha256 over path + content of every file of the run directory, except the real-time logs/. */
function hashRunDir(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const full = join(d, entry.name);
      const rel = relative(dir, full);
      if (rel === 'logs') continue;
      if (entry.isDirectory()) walk(full);
      else out.set(rel, createHash('sha256').update(rel).update('\0').update(readFileSync(full)).digest('hex'));
    }
  };
  walk(dir);
  return new Map([...out.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
}

function cliWithEnv(stack: Stack, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(stack.root, 'bin', 'assay.js'), ...args], { cwd: stack.root, env: { ...stack.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function query<T>(stack: Stack, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: stack.databaseUrl });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

describe('reporter HTTP API and replay (service processes, ASSAY_API_TOKEN set)', () => {
  let stack: Stack;
  let runDir: string;
  let identity: string;
  const previousToken = process.env.ASSAY_API_TOKEN;

  beforeAll(async () => {
    // The stack's env is fixed at start: the whole stack (reporter and CLI) gets the token.
    process.env.ASSAY_API_TOKEN = TOKEN;
    try {
      stack = await startStack({ workers: 1 });
    } finally {
      if (previousToken === undefined) delete process.env.ASSAY_API_TOKEN;
      else process.env.ASSAY_API_TOKEN = previousToken;
    }
    const { path } = writeConfig(stack, 'e2e-http');
    const run = await stack.cli(['run', path]);
    if (run.code !== 0) throw new Error(`assay run failed (${run.code}):\n${run.stderr.slice(-3000)}`);
    runDir = run.stdout.trim().split('\n').pop()!;
    identity = runDir.split('/').pop()!;
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('answers health, the registry and one experiment in detail', async () => {
    const health = await json(stack, '/health');
    expect(health).toMatchObject({ status: 200, body: { status: 'ok' } });

    const list = await json<{ experiments: Array<{ identity: string; status: string; runDir: string }> }>(stack, '/api/experiments');
    expect(list.status).toBe(200);
    expect(list.body.experiments).toEqual(expect.arrayContaining([expect.objectContaining({ identity, status: 'completed', runDir })]));

    const detail = await json(stack, `/api/experiments/${identity}`);
    expect(detail.status).toBe(200);
    expect(detail.body).toMatchObject({ identity, status: 'completed', runDir, failure: null, config: { name: 'e2e-http', method: 'llm_zero_shot' } });
    expect(detail.body.metrics).toEqual(JSON.parse(readFileSync(join(runDir, 'metrics.json'), 'utf8')));

    const unknown = await json<{ message: string }>(stack, '/api/experiments/0123abcd_nothere');
    expect(unknown.status).toBe(404);
    expect(unknown.body.message).toContain('0123abcd_nothere');

    for (const bad of ['not-an-identity', '0123ABCD_x', '0123abcd_x%20y', '..%2f..%2fetc']) {
      const res = await json<{ message: string | string[] }>(stack, `/api/experiments/${bad}`);
      expect(res.status).toBe(400);
      expect(String(res.body.message)).toMatch(/identity must be <8 lower-case hex digits>_<code version>/);
    }
  });

  it('serves files of the run directory with their content type, and folder listings', async () => {
    const readme = await raw(stack, 'GET', `/api/experiments/${identity}/files/README.txt`);
    expect(readme.status).toBe(200);
    expect(readme.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(readme.body).toBe(readFileSync(join(runDir, 'README.txt'), 'utf8'));

    const index = await raw(stack, 'GET', `/api/experiments/${identity}/files/groups/_index.csv`);
    expect(index.status).toBe(200);
    expect(index.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(index.body).toBe(readFileSync(join(runDir, 'groups/_index.csv'), 'utf8'));

    const yaml = await raw(stack, 'GET', `/api/experiments/${identity}/files/config.yaml`);
    expect(yaml.headers['content-type']).toBe('text/yaml; charset=utf-8');
    const metrics = await raw(stack, 'GET', `/api/experiments/${identity}/files/metrics.json`);
    expect(metrics.headers['content-type']).toBe('application/json; charset=utf-8');

    const parquet = await new Promise<{ status: number; type: string | undefined; bytes: Buffer }>((resolve, reject) => {
      request({ host: '127.0.0.1', port: stack.httpPort, path: `/api/experiments/${identity}/files/predictions.parquet` }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, type: res.headers['content-type'], bytes: Buffer.concat(chunks) }));
      })
        .on('error', reject)
        .end();
    });
    expect(parquet.status).toBe(200);
    expect(parquet.type).toBe('application/octet-stream');
    expect(parquet.bytes.equals(readFileSync(join(runDir, 'predictions.parquet')))).toBe(true);

    const groups = await json<{ path: string; entries: Array<{ name: string; type: string }> }>(stack, `/api/experiments/${identity}/files/groups`);
    expect(groups.status).toBe(200);
    expect(groups.body.path).toBe('groups');
    expect(groups.body.entries).toEqual(expect.arrayContaining([{ name: '_index.csv', type: 'file', size: expect.any(Number) }]));
    expect(groups.body.entries.filter((e) => e.type === 'directory').length).toBeGreaterThan(0);
    const top = await json<{ path: string; entries: Array<{ name: string }> }>(stack, `/api/experiments/${identity}/files`);
    expect(top.status).toBe(200);
    expect(top.body.entries.map((e) => e.name)).toEqual(expect.arrayContaining(['README.txt', 'groups', 'logs', 'metrics.json']));

    const missing = await json<{ message: string }>(stack, `/api/experiments/${identity}/files/nope.txt`);
    expect(missing.status).toBe(404);
  });

  it('never serves a file outside the run directory, whatever the encoding', async () => {
    const packageJson = readFileSync(join(stack.root, 'package.json'), 'utf8');
    const registryJson = readFileSync(join(runDir, '..', '..', 'registry.json'), 'utf8');
    // Symlinks planted inside the run directory, pointing out of it.
    symlinkSync(join(stack.root, 'package.json'), join(runDir, 'planted.json'));
    symlinkSync('/etc', join(runDir, 'planted-etc'));
    try {
      const base = `/api/experiments/${identity}/files/`;
      const attempts = [
        '../../registry.json',
        '../../../../../../package.json',
        '..%2f..%2fregistry.json',
        '..%2F..%2F..%2F..%2F..%2F..%2Fpackage.json',
        '%2e%2e/%2e%2e/registry.json',
        '%2E%2E%2F%2E%2E%2Fregistry.json',
        '%252e%252e/%252e%252e/registry.json',
        '%252e%252e%252f%252e%252e%252fregistry.json',
        '..%5c..%5cregistry.json',
        '..\\..\\registry.json',
        '%2fetc%2fpasswd',
        '/etc/passwd',
        `${encodeURIComponent(join(stack.root, 'package.json'))}`,
        'README.txt%00.json',
        '%00../../registry.json',
        '%c0%ae%c0%ae/%c0%ae%c0%ae/registry.json',
        '%ef%bc%8e%ef%bc%8e/%ef%bc%8e%ef%bc%8e/registry.json',
        'groups/../../../registry.json',
        'planted.json',
        'planted-etc/passwd',
        'planted-etc',
      ];
      for (const attempt of attempts) {
        const res = await raw(stack, 'GET', `${base}${attempt}`);
        expect({ attempt, status: res.status >= 400 && res.status < 500 }).toEqual({ attempt, status: true });
        expect(res.body).not.toContain('"name": "assay"');
        expect(res.body).not.toContain(packageJson.slice(0, 40));
        expect(res.body).not.toContain(registryJson.slice(0, 40));
        expect(res.body).not.toMatch(/root:.*:0:0:/);
      }
      // Outside the files/ route altogether: the identity itself, or a path that climbs out of /api.
      for (const path of [`/api/experiments/..%2f..%2f..%2fpackage.json`, `/api/experiments/${identity}/../../../package.json`, '/../../package.json', `/api/experiments/%2e%2e/files/package.json`]) {
        const res = await raw(stack, 'GET', path);
        expect({ path, status: res.status >= 400 && res.status < 500 }).toEqual({ path, status: true });
        expect(res.body).not.toContain('"name": "assay"');
      }
    } finally {
      rmSync(join(runDir, 'planted.json'));
      rmSync(join(runDir, 'planted-etc'));
    }
  });

  it('publishes an OpenAPI description', async () => {
    const doc = await json<{ openapi: string; paths: Record<string, Record<string, unknown>>; components: { securitySchemes?: Record<string, unknown> } }>(stack, '/api/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toMatch(/^3\./);
    const paths = Object.keys(doc.body.paths);
    expect(paths).toEqual(expect.arrayContaining(['/health', '/api/experiments', '/api/experiments/{identity}', '/api/experiments/{identity}/replay']));
    expect(paths.some((p) => p.startsWith('/api/experiments/{identity}/files'))).toBe(true);
    expect(doc.body.components.securitySchemes).toHaveProperty('bearer');
    const ui = await raw(stack, 'GET', '/api/docs');
    expect(ui.status).toBe(200);
    expect(ui.body).toMatch(/swagger/i);
    // The UI's own assets (swagger-ui-dist) are served too, not just the page.
    const assets = [...ui.body.matchAll(/(?:src|href)="([^"]+\.(?:js|css))"/g)].map((m) => new URL(m[1], `http://127.0.0.1/api/docs/`).pathname);
    expect(assets.length).toBeGreaterThan(0);
    for (const asset of assets) expect({ asset, status: (await raw(stack, 'GET', asset)).status }).toEqual({ asset, status: 200 });
    const yaml = await raw(stack, 'GET', '/api/openapi.yaml');
    expect(yaml.status).toBe(200);
    expect(yaml.body).toMatch(/^openapi: 3\./m);
  });

  it('predictions.parquet holds the same values as diagnostics/actual_vs_predicted.csv', () => {
    const key = (r: Record<string, unknown>) => JSON.stringify([r.entity_id, r.group, r.item]);
    const num = (v: unknown) => (v === null || v === undefined || v === '' ? null : Number(v));
    const parquet = readParquet(join(runDir, 'predictions.parquet')).rows.map((r) => ({ key: key(r), actual: num(r.actual), predicted: num(r.predicted) }));
    const csv = (parse(readFileSync(join(runDir, 'diagnostics/actual_vs_predicted.csv'), 'utf8'), { columns: true }) as Array<Record<string, string>>).map((r) => ({
      key: key(r),
      actual: num(r.actual),
      predicted: num(r.predicted),
    }));
    const byKey = (a: { key: string }, b: { key: string }) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
    expect(parquet.length).toBeGreaterThan(0);
    expect([...parquet].sort(byKey)).toEqual([...csv].sort(byKey));
  });

  it('replay needs the bearer token, rebuilds the run directory byte for byte, and reproduces the logged tree hash', async () => {
    const before = hashRunDir(runDir);
    expect(before.size).toBeGreaterThan(10);

    const anonymous = await raw(stack, 'POST', `/api/experiments/${identity}/replay`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toMatch(/^Bearer/);
    const wrong = await raw(stack, 'POST', `/api/experiments/${identity}/replay`, { authorization: `Bearer ${TOKEN}x` });
    expect(wrong.status).toBe(401);
    const unknown = await raw(stack, 'POST', '/api/experiments/0123abcd_nothere/replay', { authorization: `Bearer ${TOKEN}` });
    expect(unknown.status).toBe(404);
    const malformed = await raw(stack, 'POST', '/api/experiments/nope/replay', { authorization: `Bearer ${TOKEN}` });
    expect(malformed.status).toBe(400);
    expect(hashRunDir(runDir)).toEqual(before); // refused requests wrote nothing

    const replay = await stack.cli(['replay', identity]); // the stack env carries ASSAY_API_TOKEN
    expect(replay.stderr).toMatch(/rebuilt \d+ files, tree [0-9a-f]{64}/);
    expect(replay.code).toBe(0);
    expect(replay.stdout.trim()).toBe(runDir);
    expect(hashRunDir(runDir)).toEqual(before);

    const treeHash = /tree ([0-9a-f]{64})/.exec(replay.stderr)![1];
    const generated = await query<{ data: { treeHash: string; files: number } }>(
      stack,
      "SELECT data FROM events WHERE type = 'report.generated' AND stream = $1 ORDER BY global_position",
      [`experiment-${identity}`],
    );
    expect(generated).toHaveLength(1);
    expect(generated[0].data.treeHash).toBe(treeHash);

    const direct = await raw(stack, 'POST', `/api/experiments/${identity}/replay`, { authorization: `Bearer ${TOKEN}` });
    expect(direct.status).toBe(200);
    expect(JSON.parse(direct.body)).toMatchObject({ identity, runDir, treeHash, files: generated[0].data.files });

    const all = await stack.cli(['replay', '--all']);
    expect(all.code).toBe(0);
    expect(all.stdout.trim().split('\n')).toContain(runDir);
    expect(hashRunDir(runDir)).toEqual(before);

    // The CLI without the token gets a clear refusal (exit 3), and the directory is untouched.
    const noToken = await cliWithEnv(stack, ['replay', identity], { ASSAY_API_TOKEN: '' });
    expect(noToken.code).toBe(3);
    expect(noToken.stderr).toMatch(/failed \(401\).*ASSAY_API_TOKEN/);
  });

  /**
   * Entries next to the run directory that belong to it, but for the `.old-*` tree a build sets
   * aside and deletes in the background after it returns (that one may or may not be gone yet).
   */
  const siblings = (...planted: string[]): string[] =>
    readdirSync(dirname(runDir)).filter((n) => n === basename(runDir) || planted.some((p) => n === basename(p))).sort();

  it('a replay after a build killed between its two renames restores the run directory with its logs/ and removes the leftovers', async () => {
    const before = hashRunDir(runDir);
    const logs = readdirSync(join(runDir, 'logs')).sort();
    expect(logs.length).toBeGreaterThan(0);
    // What kill -9 leaves there: the current tree moved aside (step 1), the new one not moved in.
    renameSync(runDir, `${runDir}.old-0123456789ab`);
    mkdirSync(`${runDir}.building-89abcdef/groups`, { recursive: true });
    writeFileSync(`${runDir}.building-89abcdef/README.txt`, 'half written');

    const replay = await stack.cli(['replay', identity]);
    expect(replay.code).toBe(0);
    expect(siblings(`${runDir}.old-0123456789ab`, `${runDir}.building-89abcdef`)).toEqual([basename(runDir)]);
    expect(hashRunDir(runDir)).toEqual(before);
    expect(readdirSync(join(runDir, 'logs')).sort()).toEqual(logs);
  });

  it('a restarted reporter removes what a killed build left behind, without a build', async () => {
    const reporter = stack.processes.get('reporter')!;
    await new Promise<void>((resolve) => {
      reporter.once('exit', () => resolve());
      reporter.kill('SIGKILL');
    });
    mkdirSync(`${runDir}.building-0badc0de/groups`, { recursive: true });
    mkdirSync(`${runDir}.old-0badc0de0bad/groups`, { recursive: true });
    writeFileSync(`${runDir}.old-0badc0de0bad/README.txt`, 'a previous tree');
    const before = hashRunDir(runDir);

    const restarted = stack.start('reporter');
    await new Promise<void>((resolve, reject) => {
      let seen = '';
      const onData = (chunk: Buffer) => {
        seen += chunk.toString();
        if (/cleaned up after a killed build: removed .*\.old-0badc0de0bad.*removed .*\.building-0badc0de/.test(seen)) resolve();
      };
      restarted.stdout!.on('data', onData);
      restarted.stderr!.on('data', onData);
      restarted.once('exit', (code) => reject(new Error(`reporter exited (${code}) before cleaning up:\n${seen}`)));
    });
    expect(siblings(`${runDir}.building-0badc0de`, `${runDir}.old-0badc0de0bad`)).toEqual([basename(runDir)]);
    expect(hashRunDir(runDir)).toEqual(before);
  });
  it('a reporter killed while it writes item files as batches are scored still gives the exact tree, and a replay the same bytes', async () => {
    const parent = dirname(runDir);
    const staging = () => readdirSync(parent).filter((n) => /\.early-a1-r1-[0-9a-f]{12}$/.test(n));
    // The batch's files come first, its manifest's folder with the first manifest.
    const manifests = (dir: string) => (existsSync(join(parent, dir, '.early')) ? readdirSync(join(parent, dir, '.early')).filter((n) => n.endsWith('.json')) : []);
    expect(staging()).toEqual([]);
    // 60 of the 94 calls answered, two at a time, are at least three whole batches (11 or 12 prompts
    // each, a batch or two part-answered); every later call is held.
    await holdModelCalls(stack, 60);
    const { path } = writeConfig(stack, 'e2e-early', { model: { concurrency: 2 }, smoke: { enabled: false } });
    const running = stack.cli(['run', path]);
    const scoredBatches = async () =>
      Number(
        (await query<{ n: string }>(stack, "SELECT count(*) AS n FROM events WHERE type = 'evaluation.batch.scored' AND data->>'phase' = 'full' AND stream <> $1", [`experiment-${identity}`]))[0].n,
      );
    await until(
      // Three staged: one is unstaged below, and the final build must still take more files than one batch has.
      // The evaluator may score the answered batches later than they are answered (it is busy with
      // the baselines, say): waiting for the hold alone could kill the reporter with one batch staged.
      async () => (await modelCallHold(stack)).held >= 1 && staging().length === 1 && manifests(staging()[0]).length >= 3 && manifests(staging()[0]).length === (await scoredBatches()),
      'three scored batches staged while the rest is held',
      60_000,
    );
    const [dir] = staging();

    const reporter = stack.processes.get('reporter')!;
    await new Promise<void>((resolve) => {
      reporter.once('exit', () => resolve());
      reporter.kill('SIGKILL');
    });
    // As if the kill had landed inside a batch: one of its files half written, its manifest not yet there.
    const [manifest] = manifests(dir).sort();
    const { files } = JSON.parse(readFileSync(join(parent, dir, '.early', manifest), 'utf8')) as { files: Array<[string, string]> };
    writeFileSync(join(parent, dir, files[0][0]), 'half');
    rmSync(join(parent, dir, '.early', manifest));
    stack.start('reporter');
    await releaseModelCalls(stack);

    const run = await running;
    expect(run.code).toBe(0);
    const earlyDir = run.stdout.trim().split('\n').pop()!;
    expect(`${earlyDir}${dir.slice(basename(earlyDir).length)}`).toBe(join(parent, dir));
    expect(staging()).toEqual([]);
    // The reporter says how many files it took from the staging tree after its append commits,
    // which is also when the CLI may see the run completed and exit: wait for the line.
    const logFile = join(earlyDir, 'logs', 'reporter.attempt-1.log');
    const stagedLine = /; (\d+) item files of them written while the round was scored\)/;
    await until(async () => existsSync(logFile) && stagedLine.test(readFileSync(logFile, 'utf8')), "the reporter's line on the staged files", 30_000);
    const staged = Number(stagedLine.exec(readFileSync(logFile, 'utf8'))![1]);
    expect(staged).toBeGreaterThan(files.length);
    const built = hashRunDir(earlyDir);
    expect(built.get(files[0][0])).toBeDefined();
    expect(readFileSync(join(earlyDir, files[0][0]), 'utf8')).not.toBe('half');

    const replay = await stack.cli(['replay', basename(earlyDir)]);
    expect(replay.code).toBe(0);
    expect(hashRunDir(earlyDir)).toEqual(built);
  });
});
