import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { experimentStream, type InferenceCompleted } from '@assay/contracts';
import { EventStore, readStream } from '@assay/event-store';
import { startNatsServer, type NatsServer } from '../libs/testing/src/fixtures/nats-server';
import { startPostgresCluster, type PostgresCluster } from '../libs/testing/src/fixtures/postgres-cluster';
import { REPO_ROOT, stopProcesses } from '../libs/testing/src/fixtures/stack';

jest.setTimeout(300_000);

/**
 * Two "hosts" on one machine: an inference worker and its own simulator live in a network
 * namespace joined to this one by a veth pair; Postgres, NATS, the planner, the evaluator, the
 * reporter and the CLI stay here. Postgres and NATS listen only on this side's veth address (not on
 * 127.0.0.1), so every connection crosses the pair: nothing may assume loopback. The worker calls
 * its simulator as a node-local endpoint (ASSAY_MODEL_BASE_URL=http://127.0.0.1:.../v1 inside the
 * namespace), while the planner's pre-flight reaches the same server across the pair (the config's
 * base_url). Needs root and a kernel that allows network namespaces; skipped, saying why, elsewhere.
 */

const tag = randomBytes(3).toString('hex');
const NS = `assay-${tag}`;
const HOST_IF = `vh${tag}`;
const NS_IF = `vn${tag}`;
// A private /30 of its own, inside 10.213.0.0/16, picked per run so parallel runs do not collide.
const octet = (randomBytes(1)[0] % 60) * 4;
const HOST_ADDR = `10.213.${randomBytes(1)[0]}.${octet + 1}`;
const NS_ADDR = HOST_ADDR.replace(/\.\d+$/, `.${octet + 2}`);
const NETWORK = HOST_ADDR.replace(/\.\d+$/, `.${octet}/30`);

function ip(args: string[]): { ok: boolean; out: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}`.trim() };
}

/** Why this machine cannot run the test, or null: tried for real, with a throwaway namespace. */
function namespaceRefusal(): string | null {
  if (process.getuid?.() !== 0) return 'not root (ip netns needs CAP_SYS_ADMIN)';
  const probe = `assay-probe-${tag}`;
  const added = ip(['netns', 'add', probe]);
  if (!added.ok) return `'ip netns add' refused: ${added.out || 'no output'} (install iproute2; the kernel or container must allow network namespaces)`;
  ip(['netns', 'del', probe]);
  return null;
}

const refusal = namespaceRefusal();
if (refusal) console.warn(`multi-host test SKIPPED: ${refusal}`);
const describeIfNamespaces = refusal ? describe.skip : describe;

/** Removes the namespace (and with it the veth pair); also run on process exit, so a crash leaves nothing behind. */
function removeNamespace(): void {
  ip(['netns', 'del', NS]);
  ip(['link', 'del', HOST_IF]);
}

describeIfNamespaces('multi-host: a worker and its simulator in another network namespace', () => {
  const processes: ChildProcess[] = [];
  let nats: NatsServer | undefined;
  let pg: PostgresCluster | undefined;
  const logDir = join(REPO_ROOT, 'outputs', '.e2e-logs', `multihost-${tag}`);
  const simPort = 20000 + Math.floor(Math.random() * 20000);
  let env: NodeJS.ProcessEnv;

  const started = (name: string, command: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<ChildProcess> =>
    new Promise((resolve, reject) => {
      const child = spawn(command, args, { cwd: REPO_ROOT, env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
      processes.push(child);
      const log = createWriteStream(join(logDir, `${name}.log`), { flags: 'a' });
      let seen = '';
      const timer = setTimeout(() => reject(new Error(`${name} not ready in 120 s:\n${seen.slice(-2000)}`)), 120_000);
      const onData = (chunk: Buffer) => {
        log.write(chunk);
        seen += chunk.toString();
        if (/ ready \(code |simulator listening/.test(seen)) {
          clearTimeout(timer);
          resolve(child);
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited with ${code} before it was ready:\n${seen.slice(-2000)}`));
      });
    });

  beforeAll(async () => {
    mkdirSync(logDir, { recursive: true });
    process.on('exit', removeNamespace);
    for (const step of [
      ['netns', 'add', NS],
      ['link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', NS_IF],
      ['link', 'set', NS_IF, 'netns', NS],
      ['addr', 'add', `${HOST_ADDR}/30`, 'dev', HOST_IF],
      ['link', 'set', HOST_IF, 'up'],
      ['-n', NS, 'addr', 'add', `${NS_ADDR}/30`, 'dev', NS_IF],
      ['-n', NS, 'link', 'set', NS_IF, 'up'],
      ['-n', NS, 'link', 'set', 'lo', 'up'],
    ]) {
      const r = ip(step);
      if (!r.ok) throw new Error(`ip ${step.join(' ')} failed: ${r.out}`);
    }
    nats = await startNatsServer({ host: HOST_ADDR });
    pg = await startPostgresCluster({ host: HOST_ADDR, trustNetwork: NETWORK });
    env = {
      ...process.env,
      DATABASE_URL: pg.url('assay_multihost'),
      NATS_URL: nats.url,
      ASSAY_STREAM: `ASSAY_MH${tag.toUpperCase()}`,
      ASSAY_SUBJECT_PREFIX: `mh${tag}.`,
      ASSAY_HTTP_PORT: String(simPort + 1),
      NO_COLOR: '1',
    };
    // The other host: its simulator (all its addresses: its own loopback for the worker, the pair for pre-flight) and its worker.
    await started('simulator', 'ip', ['netns', 'exec', NS, process.execPath, 'dist/libs/testing/src/simulator/main.js', '--host', '0.0.0.0', '--port', String(simPort), '--model', 'sim/llm-8b']);
    await Promise.all([
      started('worker-ns', 'ip', ['netns', 'exec', NS, process.execPath, 'dist/services/inference-worker/src/main.js'], { ASSAY_WORKER_ID: 'worker-ns', ASSAY_MODEL_BASE_URL: `http://127.0.0.1:${simPort}/v1` }),
      ...(['planner', 'evaluator', 'reporter'] as const).map((s) => started(s, process.execPath, [`dist/services/${s}/src/main.js`], { ASSAY_WORKER_ID: s })),
    ]);
  });

  afterAll(async () => {
    try {
      await stopProcesses(processes);
      await nats?.destroy();
      await pg?.destroy();
    } finally {
      removeNamespace();
      process.off('exit', removeNamespace);
    }
  });

  it('given services reached only across the pair, when an experiment runs, then it completes and the namespaced worker answered every prompt through its own endpoint', async () => {
    const data = join(REPO_ROOT, 'data', 'sample');
    const configPath = join(logDir, 'multihost.yaml');
    writeFileSync(
      configPath,
      stringify({
        name: `multihost-${tag}`,
        method: 'llm_zero_shot',
        data: { profiles: join(data, 'profiles.csv'), responses: join(data, 'responses.csv'), items: join(data, 'items.csv'), split: join(data, 'split.json') },
        sample: { max_entities: 4 },
        model: { id: 'sim/llm-8b', base_url: `http://${NS_ADDR}:${simPort}/v1` },
        output_root: join(logDir, 'runs'),
      }),
    );
    const run = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'assay.js'), 'run', configPath], { cwd: REPO_ROOT, env, encoding: 'utf8', timeout: 240_000 });
    writeFileSync(join(logDir, 'cli.log'), `${run.stderr}\nstdout: ${run.stdout}`);
    expect({ code: run.status, tail: run.stderr.split('\n').slice(-5).join('\n') }).toEqual({ code: 0, tail: expect.any(String) });
    const identity = run.stdout.trim().split('\n').pop()!.split('/').pop()!;

    const store = await EventStore.open({ url: env.DATABASE_URL });
    try {
      const completed = (await store.read((sql) => readStream(sql, experimentStream(identity), { types: ['inference.completed'] }))).map((e) => (e as unknown as InferenceCompleted).data);
      expect(completed.length).toBeGreaterThan(0);
      expect(new Set(completed.map((d) => d.worker))).toEqual(new Set(['worker-ns']));
      expect(new Set(completed.flatMap((d) => d.results.map((r) => r.replica)))).toEqual(new Set([`http://127.0.0.1:${simPort}/v1`]));
    } finally {
      await store.close();
    }
    const stats = (await (await fetch(`http://${NS_ADDR}:${simPort}/sim/stats`)).json()) as { requests: number };
    expect(stats.requests).toBeGreaterThan(0);
  });
});
