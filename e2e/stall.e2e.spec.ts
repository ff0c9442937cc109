import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readParquet } from '../libs/report/src/testing/read-parquet';
import { startStack, writeConfig, type Stack } from '../libs/testing/src/fixtures/stack';

jest.setTimeout(240_000);

/**
 * A model server that freezes mid-run (as under SIGSTOP: connections accepted, nothing answered,
 * /health included). Small thresholds drive the time: the worker probes after 1 s of silence with a
 * 0.5 s probe timeout, the CLI reports a stall after 2 s without progress. Each step waits for the
 * line that proves the previous one happened, never for a guessed duration.
 */
describe('a frozen model server (e2e)', () => {
  let stack: Stack;
  const faults = (plan: Record<string, unknown>) =>
    fetch(stack.simulatorUrl.replace('/v1', '/sim/faults'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(plan) });

  beforeAll(async () => {
    stack = await startStack({ workers: 1, simulatorArgs: ['--latency', 'gpu'], env: { ASSAY_SERVER_STALL_S: '1', ASSAY_SERVER_PROBE_TIMEOUT_S: '0.5' } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('is noticed in seconds (not the 300 s request timeout), the CLI says what is wrong, and the aborted calls are retried once it answers', async () => {
    const { path } = writeConfig(stack, 'e2e-freeze', { model: { concurrency: 2, max_retries: 30, request_timeout_s: 300 }, smoke: { enabled: false } });
    const run = stack.cliLive(['run', path, '--stall-after', '2']);
    await run.waitFor(/full run: \d+ prompts/);
    await faults({ freeze: true });
    const frozenAt = Date.now();
    // The worker's liveness probe found the server silent, aborted its calls and said so to the CLI.
    await run.waitFor(/worker-1: .*the model server stopped answering/);
    const noticedAfterS = (Date.now() - frozenAt) / 1000;
    // The CLI's own look: no progress, and the model server does not answer its probe either.
    await run.waitFor(/stalled: no progress for \d+s \(waiting for inference\)/);
    await run.waitFor(/the model server does not answer: GET http:\/\/127\.0\.0\.1:\d+\/health got no answer within 1 s/);
    await faults({});
    const result = await run.done;
    writeFileSync(join(stack.logDir, 'cli-freeze.stderr.log'), result.stderr);
    if (result.code !== 0) throw new Error(`assay run exited ${result.code}:\n${result.stderr}`);
    expect(noticedAfterS).toBeLessThan(30);

    const runDir = result.stdout.trim().split('\n').pop()!;
    const logs = readdirSync(join(runDir, 'logs')).map((f) => readFileSync(join(runDir, 'logs', f), 'utf8')).join('\n');
    expect(logs).toMatch(/the model server stopped answering .*; the calls are retried/);
    // Every prompt was answered in the end: the aborted calls were retried, none was lost or failed.
    const raw = readParquet(join(runDir, 'raw_outputs.parquet')).rows;
    expect(raw.length).toBeGreaterThan(0);
    expect(raw.filter((r) => r.inference_error !== null && r.inference_error !== undefined)).toEqual([]);
    // The reader returns INT64 as { $bigint: '4' }.
    expect(raw.some((r) => Number((r.attempts as { $bigint: string }).$bigint) > 1)).toBe(true);
  });

  it('with no worker left, says so instead of an ETA; Ctrl-C leaves the run going (exit 130); a new `assay run` attaches from the log\'s count', async () => {
    const { path } = writeConfig(stack, 'e2e-noworker', { model: { concurrency: 1 }, smoke: { enabled: false } });
    const run = stack.cliLive(['run', path, '--stall-after', '2']);
    await run.waitFor(/\[full\] [1-9]\d*\/\d+ \(/); // a batch committed
    const worker = stack.processes.get('worker-1')!;
    worker.kill('SIGKILL');
    await new Promise((r) => worker.once('exit', r));
    await run.waitFor(/no inference-worker is running \(none answers a health ping\)/);
    expect(run.stderr()).not.toMatch(/ETA 0s/);
    run.child.kill('SIGINT');
    const interrupted = await run.done;
    expect(interrupted.code).toBe(130);
    const identity = /started (\S+) attempt 1/.exec(interrupted.stderr)![1];
    expect(interrupted.stderr).toContain(`interrupted: ${identity} attempt 1 goes on without this terminal.`);
    expect(interrupted.stderr).toContain(`assay status ${identity.slice(0, 8)}`);
    expect(interrupted.stderr).toContain(`assay cancel ${identity.slice(0, 8)}`);
    const committed = Number(/\[full\] (\d+)\/\d+ \(/.exec(interrupted.stderr.split('\n').reverse().find((l) => /\[full\] \d+\/\d+ \(/.test(l))!)![1]);

    const replacement = stack.start('inference-worker', 'worker-2');
    await new Promise<void>((resolve) => {
      let seen = '';
      replacement.stdout!.on('data', (c: Buffer) => {
        seen += c.toString();
        if (/ ready \(code /.test(seen)) resolve();
      });
    });
    const attached = await stack.cli(['run', path]);
    if (attached.code !== 0) throw new Error(`assay run exited ${attached.code}:\n${attached.stderr}`);
    expect(attached.stderr).toMatch(/already running \(attempt 1, .*\): attaching/);
    // Its first progress line starts from the prompts already committed, not from 0.
    const first = attached.stderr.split('\n').find((l) => /^\[full\] \d+\//.test(l))!;
    expect(Number(/^\[full\] (\d+)\//.exec(first)![1])).toBeGreaterThanOrEqual(committed);
  });
});
