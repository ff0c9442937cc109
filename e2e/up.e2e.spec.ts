import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { RestartPolicy } from '../scripts/up';

jest.setTimeout(60_000);

/**
 * `npm run up`'s supervisor (dist/scripts/up.js, so `npm run build` first) on a stub tree: every
 * service entry is a small script that prints `ready <name> <pid>` and runs until SIGTERM, or
 * crashes at once when STUB_CRASH names it. The supervisor's behaviour does not depend on what
 * the children are, and stubs need no Postgres, NATS or model server. Every wait is for a line of
 * output, never a sleep.
 */
const STUB = `
const name = process.env.ASSAY_WORKER_ID ?? process.argv[1].split('/services/')[1].split('/')[0];
if (process.env.STUB_CRASH === name) { console.error(name + ' crashing on purpose'); process.exit(3); }
console.log('ready ' + name + ' ' + process.pid);
process.on('SIGTERM', () => process.exit(0));
setInterval(() => undefined, 1 << 30);
`;
const ENTRIES = ['planner', 'inference-worker', 'evaluator', 'reporter'].map((s) => `services/${s}/src/main.js`);
const UP = join(__dirname, '../dist/scripts/up.js');

interface Up {
  proc: ChildProcess;
  output: () => string;
  /** Resolves with the first match of `pattern` in the output (stdout and stderr together). */
  waitFor: (pattern: RegExp) => Promise<RegExpMatchArray>;
  /** Resolves when `found` returns something for the output so far. */
  waitUntil: <T>(found: (output: string) => T | undefined) => Promise<T>;
  exit: Promise<number | null>;
}

function startUp(dist: string, argv: string[], policy: RestartPolicy, env: Record<string, string> = {}): Up {
  const script = `require(${JSON.stringify(UP)}).main(${JSON.stringify(argv)}, ${JSON.stringify(dist)}, { restartPolicy: ${JSON.stringify(policy)} }).then((c) => { process.exitCode = c; });`;
  const proc = spawn(process.execPath, ['-e', script], { env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const waiters: Array<{ found: (output: string) => unknown; resolve: (value: unknown) => void }> = [];
  const check = (): void => {
    for (const w of [...waiters]) {
      const value = w.found(text);
      if (value !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(value);
      }
    }
  };
  const append = (chunk: Buffer): void => {
    text += chunk.toString();
    check();
  };
  proc.stdout!.on('data', append);
  proc.stderr!.on('data', append);
  const exit = new Promise<number | null>((resolve) => proc.on('close', (code) => resolve(code)));
  const waitUntil = <T>(found: (output: string) => T | undefined): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const waiter = { found, resolve: resolve as (value: unknown) => void };
      waiters.push(waiter);
      check();
      void exit.then(() => setImmediate(() => waiters.includes(waiter) && reject(new Error(`up exited before the awaited output:\n${text}`))));
    });
  return {
    proc,
    output: () => text,
    waitUntil,
    waitFor: (pattern) => waitUntil((output) => output.match(pattern) ?? undefined),
    exit,
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function readyPids(output: string): Map<string, number[]> {
  const pids = new Map<string, number[]>();
  for (const [, name, pid] of output.matchAll(/\| ready (\S+) (\d+)$/gm)) pids.set(name, [...(pids.get(name) ?? []), Number(pid)]);
  return pids;
}

describe('npm run up: a crashed service is restarted, the others keep running', () => {
  let dist: string;
  const started: Up[] = [];
  beforeAll(() => {
    dist = mkdtempSync(join(tmpdir(), 'assay-up-'));
    for (const entry of ENTRIES) {
      mkdirSync(dirname(join(dist, entry)), { recursive: true });
      writeFileSync(join(dist, entry), STUB);
    }
  });
  afterAll(() => {
    for (const up of started) if (up.proc.exitCode === null) up.proc.kill('SIGKILL');
    rmSync(dist, { recursive: true, force: true });
  });

  it('restarts a worker killed with SIGKILL after a delay, leaves the others alone, and still stops cleanly on SIGTERM', async () => {
    const up = startUp(dist, ['--workers', '2'], { baseDelayMs: 200, maxDelayMs: 1000, maxCrashes: 5, windowMs: 60_000 });
    started.push(up);
    for (const name of ['planner', 'worker-1', 'worker-2', 'evaluator', 'reporter']) await up.waitFor(new RegExp(`ready ${name} \\d+`));
    const before = readyPids(up.output());
    const victim = before.get('worker-1')![0];

    process.kill(victim, 'SIGKILL');
    await up.waitFor(/up +\| worker-1 exited unexpectedly \(signal SIGKILL\); restart 1 in [\d.]+ s \(1 crash within 60 s; giving up at 5\)/);
    await up.waitFor(/up +\| restarting worker-1 \(restart 1\)/);
    const newPid = await up.waitUntil((output) => readyPids(output).get('worker-1')?.[1]);

    expect(newPid).not.toBe(victim);
    expect(alive(newPid)).toBe(true);
    const after = readyPids(up.output());
    for (const name of ['planner', 'worker-2', 'evaluator', 'reporter']) {
      // Started once, never restarted, still running.
      expect(after.get(name)).toEqual(before.get(name));
      expect(alive(before.get(name)![0])).toBe(true);
    }
    expect(up.output()).not.toMatch(/stopping/);

    up.proc.kill('SIGTERM');
    expect(await up.exit).toBe(0);
    expect(up.output()).toMatch(/up +\| all stopped/);
    for (const [, pids] of readyPids(up.output())) for (const pid of pids) expect(alive(pid)).toBe(false);
  });

  it('gives up on a service that keeps crashing, says so, stops the others and exits 1', async () => {
    const up = startUp(dist, [], { baseDelayMs: 20, maxDelayMs: 100, maxCrashes: 3, windowMs: 60_000 }, { STUB_CRASH: 'evaluator' });
    started.push(up);
    expect(await up.exit).toBe(1);
    const text = up.output();
    expect(text).toMatch(/up +\| evaluator exited unexpectedly \(exit code 3\); restart 1 in/);
    expect(text).toMatch(/up +\| evaluator exited unexpectedly \(exit code 3\); restart 2 in/);
    expect(text).toMatch(/up +\| evaluator exited unexpectedly \(exit code 3\); 3 crashes within 60 s after 2 restarts: giving up on evaluator\. The system cannot run without it, so stopping the others/);
    expect(text).toMatch(/up +\| stopped everything after giving up on evaluator/);
    // `up` resolves only once every child has closed, so exiting at all means the others were
    // stopped; the pids that got as far as printing theirs must be gone too.
    for (const [, list] of readyPids(text)) for (const pid of list) expect(alive(pid)).toBe(false);
    expect(readyPids(text).get('evaluator')).toBeUndefined();
  });
});
