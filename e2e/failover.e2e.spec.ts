import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { replicaOrder } from '../libs/inference/src/replicas';
import { entityDir, itemFileName } from '../libs/report/src/layout';
import { readParquet } from '../libs/report/src/testing/read-parquet';
import { holdModelCalls, modelCallHold, REPO_ROOT, startStack, writeConfig, type Stack } from '../libs/testing/src/fixtures/stack';
import { until } from '../libs/testing/src/fixtures/until';
import { logChildOutput } from '../libs/testing/src/fixtures/child-log';

jest.setTimeout(240_000);

interface CallResult {
  promptId: string;
  status: string;
  replica?: string;
  failoverFrom?: string;
}

/** A second simulator replica in its own process; its URL once it listens. */
async function spawnReplica(logFile: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['dist/libs/testing/src/simulator/main.js', '--port', '0', '--model', 'sim/llm-8b'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  logChildOutput(child, logFile);
  const url = await new Promise<string>((resolve, reject) => {
    let seen = '';
    child.stdout!.on('data', (c: Buffer) => {
      seen += c.toString();
      const m = /simulator listening on (\S+)/.exec(seen);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`replica exited with ${code} before listening: ${seen.slice(-500)}`)));
  });
  return { child, url };
}

/**
 * One of two replicas dies mid-run, deterministically: every model call it gets is held, and once
 * one is waiting (a worker is provably mid-batch on it) the process is killed. Its entities' calls
 * go to their next replica; the run still answers every prompt exactly once, and says where each
 * call went and from which replica it failed over: in the log, each item's METADATA and raw_outputs.
 */
describe('a replica dying mid-run (two simulator replicas, one killed)', () => {
  let stack: Stack;
  const spares: ChildProcess[] = [];
  beforeAll(async () => {
    stack = await startStack({ workers: 1 });
  });
  afterAll(async () => {
    for (const child of spares) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await stack?.stop();
  });

  it('given the replica some entities hash to killed while it holds one of their calls, when the run finishes, then every prompt is answered once and its entities\' calls say they failed over from it', async () => {
    const split = JSON.parse(readFileSync(join(REPO_ROOT, 'data/sample/split.json'), 'utf8')) as { test: string[] };
    // The victim is the stack's simulator (its hold is how the test knows a call is in flight). The
    // hashing depends on the URLs: a survivor is started until at least one test entity prefers the victim.
    const victim = stack.simulatorUrl;
    let survivor = '';
    for (let i = 0; !survivor; i++) {
      if (i === 20) throw new Error('no port of 20 made a test entity prefer the victim replica');
      const spare = await spawnReplica(join(stack.logDir, `replica-${i}.log`));
      spares.push(spare.child);
      if (split.test.some((e) => replicaOrder(e, [victim, spare.url])[0] === victim)) survivor = spare.url;
    }
    const replicas = [victim, survivor];
    const home = (entityId: string) => replicaOrder(entityId, replicas)[0];

    await holdModelCalls(stack, 0);
    const { path } = writeConfig(stack, 'e2e-failover', { model: { id: 'sim/llm-8b', base_url: replicas, max_failure_share: 0 } });
    const run = stack.cliLive(['run', path]);
    await until(async () => (await modelCallHold(stack)).held >= 1, 'a model call held on the victim replica', 120_000);
    stack.processes.get('simulator')!.kill('SIGKILL');
    const done = await run.done;
    expect({ code: done.code, tail: done.stderr.split('\n').slice(-5).join('\n') }).toEqual({ code: 0, tail: expect.any(String) });
    const runDir = done.stdout.trim().split('\n').pop()!;

    // Exactly once: every prompt of the full run has one result, answered.
    const client = new Client({ connectionString: stack.databaseUrl });
    await client.connect();
    const { rows } = await client.query<{ data: { phase: string; entityId: string; results: CallResult[] } }>("SELECT data FROM events WHERE type = 'inference.completed' ORDER BY global_position");
    const planned = await client.query<{ n: string }>("SELECT sum(jsonb_array_length(data->'prompts'))::text AS n FROM events WHERE type = 'inference.batch.requested' AND data->>'phase' = 'full'");
    await client.end();
    const full = rows.map((r) => r.data).filter((d) => d.phase === 'full');
    const results = full.flatMap((d) => d.results.map((r) => ({ ...r, entityId: d.entityId })));
    expect(results.length).toBe(Number(planned.rows[0].n));
    expect(new Set(results.map((r) => r.promptId)).size).toBe(results.length);
    expect(results.filter((r) => r.status !== 'ok')).toEqual([]);
    // The victim was down for the whole full run: its entities went to the survivor, each call saying so; the others stayed home.
    const moved = results.filter((r) => home(r.entityId) === victim);
    expect(moved.length).toBeGreaterThan(0);
    expect(moved.every((r) => r.replica === survivor && r.failoverFrom === victim)).toBe(true);
    expect(results.filter((r) => home(r.entityId) === survivor).every((r) => r.replica === survivor && r.failoverFrom === undefined)).toBe(true);

    // The log says the replica went down, and which batches failed over.
    const workerLog = readFileSync(join(runDir, 'logs', 'inference-worker.attempt-1.log'), 'utf8');
    expect(workerLog).toContain(`replica ${victim} does not answer`);
    expect(workerLog).toContain(`failed over from its replica ${victim} to ${survivor}`);

    // raw_outputs: a failover_from column, the victim on its entities' rows, empty on the others.
    const raw = readParquet(join(runDir, 'raw_outputs.parquet')).rows;
    expect(raw.length).toBe(results.length);
    for (const r of raw) {
      const entityId = r.entity_id as string;
      expect([entityId, r.replica, r.failover_from]).toEqual(home(entityId) === victim ? [entityId, survivor, victim] : [entityId, survivor, null]);
    }
    // METADATA: the line only where the call failed over.
    const movedRow = raw.find((r) => r.failover_from !== null)!;
    const stayedRow = raw.find((r) => r.failover_from === null);
    const itemText = (r: Record<string, unknown>) => readFileSync(join(runDir, entityDir(r.group as string, r.entity_id as string), itemFileName(r.item as string)), 'utf8');
    expect(itemText(movedRow)).toContain(`\nreplica: ${survivor}\nfailover_from: ${victim}\n`);
    if (stayedRow) expect(itemText(stayedRow)).not.toContain('failover_from');
  });
});
