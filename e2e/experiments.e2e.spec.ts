import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { readParquet } from '../libs/report/src/testing/read-parquet';
import { holdModelCalls, modelCallHold, releaseModelCalls, startStack, writeConfig, type Stack } from '../libs/testing/src/fixtures/stack';
import { until } from '../libs/testing/src/fixtures/until';

/**
 * The experiment lifecycle through real processes: skip / --force /
 * attach / ten identical requests at once, failures recorded with their stage, newcomer mistakes
 * refused before any model call, --smoke-only, secrets kept out of every output, binary labels.
 * One stack for the file; tests run in order and use distinct configs (distinct identities).
 */
jest.setTimeout(90_000);

const SECRET = `s3cr3t-${randomBytes(12).toString('hex')}`;
const SECRET_ENV = 'ASSAY_TEST_SECRET';

type CliResult = { code: number; stdout: string; stderr: string };

describe('experiment lifecycle, end to end (planner, workers, evaluator, reporter as processes)', () => {
  let stack: Stack;
  let db: Client;
  const previousSecret = process.env[SECRET_ENV];

  beforeAll(async () => {
    // Services inherit the stack's env, which is taken from process.env when the stack starts.
    process.env[SECRET_ENV] = SECRET;
    stack = await startStack({ workers: 2 });
    db = new Client({ connectionString: stack.databaseUrl });
    await db.connect();
  }, 180_000);
  afterAll(async () => {
    await db?.end();
    await stack?.stop();
    if (previousSecret === undefined) delete process.env[SECRET_ENV];
    else process.env[SECRET_ENV] = previousSecret;
  });

  const sim = (path: string) => stack.simulatorUrl.replace(/\/v1$/, path);
  const simRequests = async () => ((await (await fetch(sim('/sim/stats'))).json()) as { requests: number }).requests;
  const runDirOf = (r: CliResult) => r.stdout.trim().split('\n').pop()!;
  const identityOf = (runDir: string) => runDir.split('/').pop()!;
  const rows = async <T extends Record<string, unknown>>(sql: string, params: unknown[] = []) => (await db.query(sql, params)).rows as T[];
  const eventsOf = (identity: string, type: string) =>
    rows<{ data: Record<string, unknown> }>(`SELECT data FROM events WHERE type = $1 AND data->>'identity' = $2 ORDER BY global_position`, [type, identity]);
  const startedByName = (name: string) =>
    rows<{ data: { identity: string; attempt: number } }>(`SELECT data FROM events WHERE type = 'experiment.started' AND data->'config'->>'name' = $1 ORDER BY global_position`, [name]);
  const expectOk = (r: CliResult) => {
    if (r.code !== 0) throw new Error(`assay exited ${r.code}:\n${r.stderr}`);
  };

  describe('given a completed experiment', () => {
    let first: CliResult;
    let config: { path: string; outputRoot: string };

    beforeAll(async () => {
      config = writeConfig(stack, 'lifecycle-skip');
      first = await stack.cli(['run', config.path]);
    });

    it('runs it once', () => {
      expectOk(first);
      expect(first.stderr).toMatch(/completed: normalized_mae=/);
    });

    it('a second `assay run` says it already completed and where, exits 0, and calls no model', async () => {
      const before = await simRequests();
      const again = await stack.cli(['run', config.path]);
      expectOk(again);
      const runDir = runDirOf(first);
      expect(again.stderr).toContain(`already completed (attempt 1) in ${runDir}`);
      expect(runDirOf(again)).toBe(runDir);
      expect(await simRequests()).toBe(before);
      expect(await eventsOf(identityOf(runDir), 'experiment.started')).toHaveLength(1);
    });

    it('--force runs it again as attempt 2 of the same identity, and `assay status` shows attempt 2', async () => {
      const before = await simRequests();
      const forced = await stack.cli(['run', config.path, '--force']);
      expectOk(forced);
      const identity = identityOf(runDirOf(first));
      expect(forced.stderr).toContain(`started ${identity} attempt 2`);
      expect(runDirOf(forced)).toBe(runDirOf(first));
      expect(await simRequests()).toBeGreaterThan(before);
      const status = await stack.cli(['status', identity]);
      expectOk(status);
      expect(status.stdout).toMatch(/status:\s+completed \(attempt 2\)/);
      expect((await eventsOf(identity, 'experiment.started')).map((e) => e.data.attempt)).toEqual([1, 2]);
      expect((await eventsOf(identity, 'experiment.started'))[1].data.forced).toBe(true);
      // Each attempt's log lines apart: the second attempt did not append to the first one's files.
      const logs = join(runDirOf(forced), 'logs');
      for (const service of ['planner', 'inference-worker', 'evaluator', 'reporter']) {
        const first = readFileSync(join(logs, `${service}.attempt-1.log`), 'utf8');
        const second = readFileSync(join(logs, `${service}.attempt-2.log`), 'utf8');
        expect(first.length).toBeGreaterThan(0);
        expect(second.length).toBeGreaterThan(0);
        if (service === 'planner') {
          expect(first).toMatch(/attempt 1/);
          expect(first).not.toMatch(/attempt 2/);
          expect(second).toMatch(/started \S+ attempt 2/);
        }
      }
    });

    it('`assay status` takes a prefix of the identity and prints JSON with --json; `run --json` prints the outcome as one document', async () => {
      const identity = identityOf(runDirOf(first));
      const status = await stack.cli(['status', identity.slice(0, 5), '--json']);
      expectOk(status);
      expect(JSON.parse(status.stdout)).toMatchObject({ identity, status: 'completed' });
      const again = await stack.cli(['run', config.path, '--json']);
      expectOk(again);
      expect(JSON.parse(again.stdout)).toMatchObject({ status: 'already_completed', identity, runDir: runDirOf(first), exitCode: 0 });
      const unknown = await stack.cli(['status', 'fffff']);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toContain("no experiment 'fffff' in the registry");
    });
  });

  it('ten identical requests at once make exactly one run; every CLI exits 0 with the same run directory', async () => {
    const { path } = writeConfig(stack, 'lifecycle-ten');
    const results = await Promise.all(Array.from({ length: 10 }, () => stack.cli(['run', path])));
    for (const r of results) expectOk(r);
    const dirs = new Set(results.map(runDirOf));
    expect(dirs.size).toBe(1);
    const identity = identityOf([...dirs][0]);
    expect(await eventsOf(identity, 'experiment.started')).toHaveLength(1);
    expect(await eventsOf(identity, 'experiment.completed')).toHaveLength(1);
    // Everyone else was answered from the registry: attached to the run, or told it completed.
    expect(await eventsOf(identity, 'experiment.skipped')).toHaveLength(9);
    expect(results.filter((r) => /started .* attempt 1/.test(r.stderr))).toHaveLength(1);
    for (const r of results.filter((x) => !/started .* attempt 1/.test(x.stderr))) expect(r.stderr).toMatch(/already running .*attaching|already completed/);
    // Each CLI reacts to its own request's answer only: none attaches twice, none hears the others' answers.
    for (const r of results) expect((r.stderr.match(/already running|already completed/g) ?? []).length).toBeLessThanOrEqual(1);
  });

  it('a request while the identity is running attaches to it and ends with it, same run directory', async () => {
    // Every model call is held until the second request has attached: the run is surely still going.
    await holdModelCalls(stack, 0);
    try {
      const { path } = writeConfig(stack, 'lifecycle-attach');
      const owner = stack.cli(['run', path]);
      await until(async () => (await modelCallHold(stack)).held >= 1 && (await startedByName('lifecycle-attach')).length === 1, 'the first request running, a model call held');
      const [{ data: running }] = await startedByName('lifecycle-attach');
      const attaching = stack.cli(['run', path]);
      await until(async () => (await eventsOf(running.identity, 'experiment.skipped')).length === 1, 'the second request answered "already running"');
      await releaseModelCalls(stack);
      const [first, attached] = await Promise.all([owner, attaching]);
      expectOk(first);
      expectOk(attached);
      expect(attached.stderr).toMatch(/already running \(attempt 1, .*\): attaching/);
      expect(attached.stderr).toMatch(/completed: normalized_mae=/);
      expect(runDirOf(attached)).toBe(runDirOf(first));
      expect(await startedByName('lifecycle-attach')).toHaveLength(1);
    } finally {
      await releaseModelCalls(stack);
    }
  });

  it('records a failed run with its stage and error, and a re-run says what failed last time', async () => {
    const { path } = writeConfig(stack, 'lifecycle-unserved', { model: { id: 'sim/not-served-7b' } });
    const before = await simRequests();
    const failed = await stack.cli(['run', path]);
    expect(failed.code).toBe(1);
    const line = failed.stderr.split('\n').find((l) => l.startsWith('FAILED'));
    expect(line).toBe(`FAILED at preflight: model.id: 'sim/not-served-7b' is not served by model.base_url (${stack.simulatorUrl}); it serves: sim/llm-8b`);
    const identity = /started (\S+) attempt 1/.exec(failed.stderr)![1];
    const failures = await eventsOf(identity, 'experiment.failed');
    expect(failures).toHaveLength(1);
    expect(failures[0].data).toMatchObject({ stage: 'preflight', attempt: 1, error: expect.stringContaining("'sim/not-served-7b'") });

    const status = await stack.cli(['status', identity]);
    expectOk(status);
    expect(status.stdout).toMatch(/status:\s+failed \(attempt 1\)/);
    expect(status.stdout).toContain("last failure: attempt 1 at preflight: model.id: 'sim/not-served-7b' is not served");
    expect((await stack.cli(['status'])).stdout).toMatch(new RegExp(`^${identity}\\s+lifecycle-unserved\\s+llm_zero_shot\\s+failed at preflight\\s`, 'm'));

    const again = await stack.cli(['run', path]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`started ${identity} attempt 2`);
    expect(again.stderr).toContain("note: attempt 1 failed at preflight: model.id: 'sim/not-served-7b' is not served");
    const starts = await eventsOf(identity, 'experiment.started');
    expect(starts.map((e) => e.data.attempt)).toEqual([1, 2]);
    expect(starts[1].data.previousFailure).toMatchObject({ attempt: 1, stage: 'preflight' });
    expect((await stack.cli(['status', identity])).stdout).toMatch(/status:\s+failed \(attempt 2\)/);
    expect(await simRequests()).toBe(before);
  });

  describe("a newcomer's mistakes are refused before any model call", () => {
    let before: number;
    beforeAll(async () => {
      before = await simRequests();
    });
    afterAll(async () => {
      expect(await simRequests()).toBe(before);
    });

    it('a misspelt section (modle:) → exit 2 with "did you mean"', async () => {
      const { path } = writeConfig(stack, 'newcomer-section', { modle: { temperature: 0.3 } });
      const r = await stack.cli(['run', path]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/modle.*did you mean 'model'/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    });

    it('a misspelt key (model.temprature) → exit 2 naming the path, with "did you mean"', async () => {
      const { path } = writeConfig(stack, 'newcomer-key', { model: { temprature: 0.3 } });
      const r = await stack.cli(['run', path]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/model\.temprature.*did you mean 'model\.temperature'/);
      expect(await startedByName('newcomer-key')).toHaveLength(0);
    });

    it('a missing data file → one line naming the file', async () => {
      const missing = join(stack.logDir, 'no-such-dir', 'responses.csv');
      const { path } = writeConfig(stack, 'newcomer-missing', { data: { responses: missing } });
      const r = await stack.cli(['run', path]);
      expect(r.code).not.toBe(0);
      const lines = r.stderr.split('\n').filter((l) => l.includes(missing));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/responses.*(not found|does not exist)/);
      expect(await startedByName('newcomer-missing')).toHaveLength(0);
    });
  });

  it('--smoke-only stops after the smoke test, and does not count as completed: a normal run then runs in full', async () => {
    const { path } = writeConfig(stack, 'lifecycle-smoke');
    const smoke = await stack.cli(['run', path, '--smoke-only']);
    expectOk(smoke);
    expect(smoke.stderr).toMatch(/smoke test passed \(--smoke-only\)/);
    const identity = identityOf(runDirOf(smoke));
    expect(await eventsOf(identity, 'inference.batch.requested').then((es) => es.filter((e) => e.data.phase === 'full'))).toHaveLength(0);
    expect((await stack.cli(['status', identity])).stdout).toMatch(/status:\s+smoke_passed \(attempt 1\)/);

    const full = await stack.cli(['run', path]);
    expectOk(full);
    expect(full.stderr).not.toMatch(/already completed/);
    expect(full.stderr).toContain(`started ${identity} attempt 2`);
    expect(full.stderr).toMatch(/completed: normalized_mae=/);
    expect((await eventsOf(identity, 'inference.batch.requested')).filter((e) => e.data.phase === 'full' && e.data.attempt === 2).length).toBeGreaterThan(0);
    expect((await stack.cli(['status', identity])).stdout).toMatch(/status:\s+completed \(attempt 2\)/);
  });

  it('a key named by model.api_key_env is used, and its value appears in no file, event, dead letter or CLI output', async () => {
    const { path, outputRoot } = writeConfig(stack, 'lifecycle-secret', { model: { api_key_env: SECRET_ENV } });
    const r = await stack.cli(['run', path]);
    expectOk(r);
    expect(`${r.stdout}\n${r.stderr}`).not.toContain(SECRET);
    const runDir = runDirOf(r);
    expect(existsSync(join(runDir, 'logs'))).toBe(true);
    // Every file of the run, its logs, the registry, the configs and the services' own logs.
    const leaks = filesUnder(stack.logDir).filter((f) => readFileSync(f).includes(SECRET));
    expect(leaks).toEqual([]);
    expect(filesUnder(runDir).length).toBeGreaterThan(10);
    expect(outputRoot.startsWith(stack.logDir)).toBe(true);
    const like = `%${SECRET}%`;
    expect(await rows(`SELECT global_position FROM events WHERE data::text LIKE $1 OR metadata::text LIKE $1`, [like])).toEqual([]);
    expect(await rows(`SELECT id FROM dead_letters WHERE payload LIKE $1 OR reason LIKE $1`, [like])).toEqual([]);
    expect(await rows(`SELECT subject FROM outbox WHERE subject LIKE $1`, [like])).toEqual([]);
    // The config names the variable, never the value.
    expect((await eventsOf(identityOf(runDir), 'experiment.started'))[0].data.config).toMatchObject({ model: expect.objectContaining({ api_key_env: SECRET_ENV }) });
  });

  it('labels.mode binary scores 0/1 median-split ground truth, for the model and the baselines', async () => {
    const { path } = writeConfig(stack, 'lifecycle-binary', { labels: { mode: 'binary' } });
    const r = await stack.cli(['run', path]);
    expectOk(r);
    const runDir = runDirOf(r);
    const predictions = readParquet(join(runDir, 'predictions.parquet')).rows;
    expect(predictions.length).toBeGreaterThan(0);
    expect(new Set(predictions.map((p) => Number(p.actual)))).toEqual(new Set([0, 1]));
    const [planned] = await eventsOf(identityOf(runDir), 'experiment.planned');
    expect((planned.data.items as Array<{ kind: string; min: number; max: number }>).every((i) => i.kind === 'binary' && i.min === 0 && i.max === 1)).toBe(true);
    const [evaluation] = await eventsOf(identityOf(runDir), 'evaluation.completed');
    const result = evaluation.data.result as { baselines: Array<{ method: string; overall: { n: number } }> };
    expect(result.baselines.length).toBeGreaterThan(0);
    expect(result.baselines.every((b) => b.overall.n === predictions.length)).toBe(true);
  });

  it('writes <output_root>/llm_zero_shot/registry.json listing the runs, failures included', async () => {
    const outputRoot = join(stack.logDir, 'runs');
    const file = join(outputRoot, 'llm_zero_shot', 'registry.json');
    const names = ['lifecycle-skip', 'lifecycle-ten', 'lifecycle-attach', 'lifecycle-unserved', 'lifecycle-smoke', 'lifecycle-secret', 'lifecycle-binary'];
    // The reporter rewrites it after each run's last event: give the last one a moment.
    let registry: { method: string; experiments: Array<{ name: string; status: string; attempt: number; failure: unknown }> } | null = null;
    for (const deadline = Date.now() + 15_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
      if (!existsSync(file)) continue;
      registry = JSON.parse(readFileSync(file, 'utf8'));
      if (names.every((n) => registry!.experiments.some((e) => e.name === n && e.status !== 'running'))) break;
    }
    expect(registry).not.toBeNull();
    expect(registry!.method).toBe('llm_zero_shot');
    const byName = new Map(registry!.experiments.map((e) => [e.name, e]));
    expect([...byName.keys()].sort()).toEqual([...names].sort());
    expect(byName.get('lifecycle-skip')).toMatchObject({ status: 'completed', attempt: 2 });
    expect(byName.get('lifecycle-unserved')).toMatchObject({ status: 'failed', attempt: 2, failure: { stage: 'preflight' } });
    expect(byName.get('lifecycle-smoke')).toMatchObject({ status: 'completed', attempt: 2 });
  });
});

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path));
    else out.push(path);
  }
  return out;
}
