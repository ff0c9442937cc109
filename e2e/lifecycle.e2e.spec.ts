import { Client } from 'pg';
import { startStack, writeConfig, type Stack } from '../libs/testing/src/fixtures/stack';

/**
 * How runs end when something other than their own work ends them: a model server that stops
 * answering (the run fails at inference, and a plain `assay run` tries again), `assay cancel`, and
 * `--force` on an attempt whose stream has gone silent. The simulator's faults make each case
 * happen where it must: `okFirst` answers some prompts before the server "dies", `hangFirst`
 * holds calls until the client gives up, so the test waits for conditions, never for luck.
 */
jest.setTimeout(180_000);

describe('run lifecycle: failed inference, cancel, stale attempts (end to end)', () => {
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

  const sim = (path: string) => stack.simulatorUrl.replace(/\/v1$/, path);
  const setFaults = async (plan: Record<string, number>) => {
    const response = await fetch(sim('/sim/faults'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(plan) });
    expect(response.status).toBe(200);
  };
  const simStats = async () => (await (await fetch(sim('/sim/stats'))).json()) as { requests: number; hanging: number; errorsInjected: number };
  const until = async (what: string, condition: () => Promise<boolean>, timeoutMs = 30_000) => {
    for (const deadline = Date.now() + timeoutMs; !(await condition()); await new Promise((r) => setTimeout(r, 50))) {
      if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    }
  };
  const identityOf = async (name: string) => {
    await until(`${name} has started`, async () => ((await db.query(`SELECT 1 FROM events WHERE type = 'experiment.started' AND data->'config'->>'name' = $1`, [name])).rowCount ?? 0) > 0);
    return (await db.query(`SELECT data->>'identity' AS identity FROM events WHERE type = 'experiment.started' AND data->'config'->>'name' = $1 LIMIT 1`, [name])).rows[0].identity as string;
  };
  const count = async (type: string, identity: string, attempt: number) =>
    Number((await db.query(`SELECT count(*) AS n FROM events WHERE type = $1 AND data->>'identity' = $2 AND data->>'attempt' = $3`, [type, identity, String(attempt)])).rows[0].n);
  /**
   * A run whose server freezes after 20 answers: its one model slot holds a call for up to the
   * 120 s timeout, so nothing else of it moves until something ends the attempt.
   */
  const startFrozenRun = async (name: string) => {
    const { path } = writeConfig(stack, name, { smoke: { enabled: false }, model: { concurrency: 1, request_timeout_s: 120 } });
    await setFaults({ okFirst: 20, hangFirst: 1_000_000 });
    const run = stack.cli(['run', path]);
    const identity = await identityOf(name);
    await until('a call hangs at the frozen server', async () => (await simStats()).hanging >= 1);
    return { path, run, identity };
  };
  /** Prompt results in an attempt's inference.completed events matching a condition on `r`. */
  const countResults = async (identity: string, attempt: number, condition: string) =>
    Number(
      (
        await db.query(
          `SELECT count(*) AS n FROM events CROSS JOIN LATERAL jsonb_array_elements(data->'results') AS r
            WHERE type = 'inference.completed' AND data->>'identity' = $1 AND data->>'attempt' = $2 AND ${condition}`,
          [identity, String(attempt)],
        )
      ).rows[0].n,
    );
  const http = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`http://127.0.0.1:${stack.httpPort}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('a model server that stops answering fails the run at inference (exit 1, count, share, threshold, errors) as soon as that is certain; a plain run starts attempt 2, which asks only for what attempt 1 did not get', async () => {
    const { path } = writeConfig(stack, 'lifecycle-dead-server', { smoke: { enabled: false }, model: { concurrency: 2 } });
    // 30 answers (between two and three entities), then every call is refused.
    await setFaults({ okFirst: 30, status4xxFirst: 1_000_000 });
    const run = await stack.cli(['run', path]);

    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/FAILED at inference: \d+ of \d+ model calls failed \(\d+\.\d%\), more than model\.max_failure_share 0\.05 \(5\.0%\) allows/);
    expect(run.stderr).toMatch(/ {2}error: .*HTTP 400: simulator fault: injected 400/);
    expect(run.stderr).not.toMatch(/completed:/);
    const identity = await identityOf('lifecycle-dead-server');
    // Failed as soon as the threshold was crossed: later batches were neither scored nor evaluated.
    const planned = (await db.query(`SELECT (data->>'batches')::int AS batches FROM events WHERE type = 'experiment.planned' AND data->>'identity' = $1`, [identity])).rows[0].batches as number;
    expect(await count('evaluation.batch.scored', identity, 1)).toBeLessThan(planned);
    expect(await count('evaluation.completed', identity, 1)).toBe(0);
    expect(await count('experiment.completed', identity, 1)).toBe(0);
    const status = await stack.cli(['status']);
    expect(status.stdout).toMatch(new RegExp(`${identity}\\s.*failed at inference`));

    // Attempt 2 asks the model only for the prompts attempt 1 has no recorded answer for.
    const answered = await countResults(identity, 1, `r->>'status' = 'ok'`);
    expect(answered).toBeGreaterThan(0);
    const prompts = (await db.query(`SELECT (data->>'prompts')::int AS n FROM events WHERE type = 'experiment.planned' AND data->>'identity' = $1`, [identity])).rows[0].n as number;
    await setFaults({});
    await fetch(sim('/sim/reset'), { method: 'POST' });
    const again = await stack.cli(['run', path]);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(new RegExp(`started ${identity} attempt 2`));
    expect(again.stderr).toMatch(/note: attempt 1 failed at inference: \d+ of \d+ model calls failed/);
    expect(again.stderr).toMatch(/completed: /);
    expect((await simStats()).requests).toBe(prompts - answered);
    expect(await countResults(identity, 2, `r->'reusedFrom'->>'attempt' = '1'`)).toBe(answered);
  });

  it('assay cancel stops a running attempt: the attached run ends saying so (exit 1), the worker cuts its calls in flight, status shows cancelled, a plain run starts attempt 2', async () => {
    const { path, run: running, identity } = await startFrozenRun('lifecycle-cancel');

    const unknown = await stack.cli(['cancel', '0123abcd_nothere']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no experiment '0123abcd_nothere'/);

    const cancel = await stack.cli(['cancel', identity, '--reason', 'e2e: wrong prompt']);
    expect(cancel.stderr).toMatch(new RegExp(`cancelled ${identity} attempt 1`));
    expect(cancel.code).toBe(0);
    const run = await running;
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`attempt 1 of ${identity} was cancelled by \\S+@\\S+: e2e: wrong prompt`));
    // The held call was aborted by the worker, not left to its 120 s timeout.
    await until('the worker dropped its call in flight', async () => (await simStats()).hanging === 0, 15_000);
    await setFaults({});

    const status = await stack.cli(['status', identity]);
    expect(status.stdout).toMatch(/status: +cancelled \(attempt 1\)/);
    expect(status.stdout).toMatch(/cancelled by \S+: e2e: wrong prompt/);
    const again = await stack.cli(['cancel', identity]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/is not running: attempt 1 is cancelled/);
    expect((await http('POST', `/api/experiments/${identity}/cancel`, { reason: 'again' })).status).toBe(409);
    expect((await http('POST', '/api/experiments/0123abcd_nothere/cancel', {})).status).toBe(404);
    expect(await count('experiment.completed', identity, 1)).toBe(0);

    const rerun = await stack.cli(['run', path]);
    expect(rerun.code).toBe(0);
    expect(rerun.stderr).toMatch(new RegExp(`started ${identity} attempt 2`));
  });

  it('--force attaches to a running attempt, but replaces one whose stream has been silent longer than --stale-after; its CLIs end saying it was abandoned', async () => {
    const { path, run: first, identity } = await startFrozenRun('lifecycle-stale');
    // With one slot held, nothing else is sent: the server may recover for the next attempt.
    await setFaults({});

    // Silent for a second or two only: --force with the default stale-after attaches.
    const attached = stack.cli(['run', path, '--force']);
    await until('the forced request attached', async () => (await count('experiment.skipped', identity, 1)) === 1);
    await until('the stream has been silent for 2 s', async () => {
      const { idle } = (await db.query(`SELECT extract(epoch FROM now() - max(recorded_at)) AS idle FROM events WHERE stream = $1`, [`experiment-${identity}`])).rows[0];
      return Number(idle) >= 2;
    });

    const forcing = stack.cli(['run', path, '--force', '--stale-after', '1']);
    for (const cli of [await first, await attached]) {
      expect(cli.code).toBe(1);
      expect(cli.stderr).toMatch(new RegExp(`attempt 1 of ${identity} was abandoned: .*started attempt 2`));
    }
    // The abandoned attempt's call was cut at once, not left to its 120 s timeout with the worker's only slot.
    await until('the worker dropped the abandoned call', async () => (await simStats()).hanging === 0, 15_000);
    const forced = await forcing;
    expect(forced.stderr).toMatch(new RegExp(`note: attempt 1 of ${identity} was abandoned: no event in its stream for \\d+ s \\(stale after 1 s\\)`));
    expect(forced.stderr).toMatch(new RegExp(`started ${identity} attempt 2`));
    expect(forced.code).toBe(0);
    expect(await count('experiment.cancelled', identity, 1)).toBe(1);
    expect(await count('experiment.completed', identity, 1)).toBe(0);
    expect(await count('experiment.completed', identity, 2)).toBe(1);
  });
});
