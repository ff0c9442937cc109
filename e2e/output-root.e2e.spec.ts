import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { startStack, writeConfig, type Stack } from '../libs/testing/src/fixtures/stack';

/**
 * Output roots seen from the reporter: each <output_root>/<method>/registry.json lists only the
 * runs under that root, though every root shares the one event log; and an output root that
 * cannot be written is said once, not retried for minutes into a dead letter.
 */
jest.setTimeout(180_000);

describe('output roots, end to end', () => {
  let stack: Stack;
  let db: Client;
  beforeAll(async () => {
    stack = await startStack({ workers: 1 });
    db = new Client({ connectionString: stack.databaseUrl });
    await db.connect();
  }, 180_000);
  afterAll(async () => {
    await db?.end();
    await stack?.stop();
  });

  const registry = (root: string) =>
    (JSON.parse(readFileSync(join(root, 'llm_zero_shot', 'registry.json'), 'utf8')) as { experiments: Array<{ identity: string; runDir: string }> }).experiments;

  it('given two output roots sharing the database, when a run completes in each, then each registry.json lists only its own run', async () => {
    const a = join(stack.logDir, 'root-a');
    const b = join(stack.logDir, 'root-b');
    const fast = { smoke: { enabled: false } };
    const runA = await stack.cli(['run', writeConfig(stack, 'root-a', { ...fast, output_root: a }).path]);
    expect(runA.code).toBe(0);
    // Another temperature: another identity, so the second request is a run of its own.
    const runB = await stack.cli(['run', writeConfig(stack, 'root-b', { ...fast, output_root: b, model: { temperature: 0.2 } }).path]);
    expect(runB.code).toBe(0);
    const dirA = runA.stdout.trim().split('\n').pop()!;
    const dirB = runB.stdout.trim().split('\n').pop()!;
    // registry.json is rewritten when experiment.completed reaches the reporter: wait for B's to list B.
    for (const deadline = Date.now() + 30_000; !safe(() => registry(b).some((e) => e.runDir === dirB)); await sleep(100)) {
      if (Date.now() > deadline) throw new Error(`${b}/llm_zero_shot/registry.json never listed ${dirB}`);
    }
    expect(registry(a).map((e) => e.runDir)).toEqual([dirA]);
    expect(registry(b).map((e) => e.runDir)).toEqual([dirB]);
  });

  it('given an output_root that cannot be written, when run, then pre-flight says so and the reporter says it once, with no retries and no dead letter', async () => {
    // A file where the output folder should be: unwritable whoever runs the test (root ignores permissions).
    const blocker = join(stack.logDir, 'blocker');
    mkdirSync(stack.logDir, { recursive: true });
    writeFileSync(blocker, 'not a folder');
    const run = await stack.cli(['run', writeConfig(stack, 'unwritable', { smoke: { enabled: false }, output_root: join(blocker, 'out') }).path]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/FAILED at preflight: output_root: .*blocker\/out is not writable \(ENOTDIR/);

    const reporterLog = join(stack.logDir, 'reporter.log');
    const said = () => readFileSync(reporterLog, 'utf8').split('\n').filter((l) => l.includes('cannot write registry.json'));
    for (const deadline = Date.now() + 30_000; said().length === 0; await sleep(100)) {
      if (Date.now() > deadline) throw new Error(`the reporter never said it cannot write registry.json:\n${readFileSync(reporterLog, 'utf8').slice(-3000)}`);
    }
    expect(said()).toHaveLength(1);
    expect(said()[0]).toMatch(/cannot write registry\.json: ENOTDIR: not a directory, mkdir '.*blocker\/out\/llm_zero_shot' \(not retried/);
    const log = readFileSync(reporterLog, 'utf8');
    expect(log).not.toMatch(/experiment\.failed .*redelivering/);
    const letters = await db.query(`SELECT consumer, reason FROM dead_letters WHERE reason LIKE '%blocker%'`);
    expect(letters.rows).toEqual([]);
  });

  it('given a run directory that cannot be written when the report is built, when run, then the run fails at the report stage at once, naming the path and the OS error', async () => {
    // output_root itself is writable (pre-flight passes), but <output_root>/<method> is a file.
    const root = join(stack.logDir, 'root-c');
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, 'llm_zero_shot'), 'not a folder');
    const began = Date.now();
    const run = await stack.cli(['run', writeConfig(stack, 'report-unwritable', { smoke: { enabled: false }, output_root: root, model: { temperature: 0.3 } }).path]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/FAILED at report: reporter gave up on evaluation\.completed [0-9a-f-]+: cannot write the run directory of \S+: ENOTDIR: not a directory, \w+ '.*root-c\/llm_zero_shot\/experiments/);
    // Not 20 redeliveries over minutes: the whole run, inference included, takes seconds.
    expect(Date.now() - began).toBeLessThan(60_000);
    const letters = (await db.query(`SELECT consumer, reason FROM dead_letters WHERE consumer LIKE 'reporter%'`)).rows as Array<{ consumer: string; reason: string }>;
    expect(letters).toHaveLength(1);
    expect(letters[0].reason).toMatch(/^cannot write the run directory of /);
    // Then the registry of that root cannot be written either: said once, not retried.
    const reporterLog = join(stack.logDir, 'reporter.log');
    const registryLine = /cannot write registry\.json: EEXIST: file already exists, mkdir '.*root-c\/llm_zero_shot' \(not retried/;
    for (const deadline = Date.now() + 30_000; !registryLine.test(readFileSync(reporterLog, 'utf8')); await sleep(100)) {
      if (Date.now() > deadline) throw new Error(`the reporter never said it cannot write registry.json of ${root}`);
    }
    const log = readFileSync(reporterLog, 'utf8');
    expect(log).not.toMatch(/evaluation\.completed\S* \S+ \(delivery \d+\)/);
    expect(log).not.toMatch(/experiment\.failed\S* \S+ \(delivery \d+\)/);
    // Staging the item files while the run was scored failed too: said once for the run, no dead letter per batch.
    expect(log.match(/cannot write the staged item files of \S+: ENOTDIR: not a directory[^\n]*left to the build at evaluation\.completed/g)).toHaveLength(1);
  });
});

function safe(check: () => boolean): boolean {
  try {
    return check();
  } catch {
    return false; // not written yet
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
