import { appendFileSync, cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { holdModelCalls, modelCallHold, releaseModelCalls, REPO_ROOT, startStack, writeConfig, type Stack } from '../libs/testing/src/fixtures/stack';
import { until } from '../libs/testing/src/fixtures/until';

/**
 * A service that gives up on a message of a running experiment fails the run at its stage instead
 * of leaving it "running" forever: here the evaluator finds a data file changed under a run (its
 * baselines would train on other data), dead-letters the batch at once, and `assay run` ends with
 * "failed at evaluation". Restoring the file and `assay reevaluate` then evaluates the logged
 * inference results without calling the model again.
 */
jest.setTimeout(120_000);

describe('a run whose evaluation is given up on, end to end', () => {
  let stack: Stack;
  let db: Client;

  beforeAll(async () => {
    // GPU-like latency: the full run takes seconds, time to change a file under it.
    stack = await startStack({ workers: 1, simulatorArgs: ['--latency', 'gpu'] });
    db = new Client({ connectionString: stack.databaseUrl });
    await db.connect();
  }, 180_000);
  afterAll(async () => {
    await db?.end();
    await stack?.stop();
  });

  const simRequests = async () => ((await (await fetch(stack.simulatorUrl.replace(/\/v1$/, '/sim/stats'))).json()) as { requests: number }).requests;

  it('fails at evaluation with the reason, keeps the dead letter, and re-evaluates after the fix without model calls', async () => {
    const data = mkdtempSync(join(tmpdir(), 'assay-give-up-'));
    cpSync(join(REPO_ROOT, 'data', 'sample'), data, { recursive: true });
    const responses = join(data, 'responses.csv');
    const original = readFileSync(responses);
    // No smoke test: its model calls would pass the hold below before the full run is planned.
    const { path } = writeConfig(stack, 'give-up', {
      data: { profiles: join(data, 'profiles.csv'), responses, items: join(data, 'items.csv'), split: join(data, 'split.json') },
      smoke: { enabled: false },
    });

    // Every model call is held, so no batch can be inferred (and scored) before the data changes.
    await holdModelCalls(stack, 0);
    const run = stack.cli(['run', path]);
    // Once the full run is planned (the planner's own data check has passed), change a data file.
    const planned = async () => (await db.query(`SELECT 1 FROM events WHERE type = 'experiment.planned' AND data->>'phase' = 'full'`)).rowCount === 1;
    await until(async () => (await planned()) && (await modelCallHold(stack)).held >= 1, 'the full run planned, a model call held');
    appendFileSync(responses, '\n');
    await releaseModelCalls(stack);
    const failed = await run;

    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/FAILED at evaluation/);
    expect(failed.stderr).toMatch(/evaluator gave up on inference\.(completed|failed) [0-9a-f-]+: .*data\.responses/);
    const stored = (await db.query(`SELECT data FROM events WHERE type = 'experiment.failed'`)).rows as Array<{ data: { stage: string; identity: string } }>;
    expect(stored.map((r) => r.data.stage)).toEqual(['evaluation']);
    const identity = stored[0].data.identity;
    const letters = (await db.query(`SELECT consumer, reason FROM dead_letters`)).rows as Array<{ consumer: string; reason: string }>;
    expect(letters).toHaveLength(1);
    expect(letters[0].consumer).toMatch(/^evaluator/);
    expect(letters[0].reason).toContain('data.responses');

    const status = await stack.cli(['status', identity]);
    expect(status.stdout + status.stderr).toMatch(/failed/);

    // The fix: the file as the run started. No model call is needed to evaluate what was inferred.
    writeFileSync(responses, original);
    const requestsBefore = await simRequests();
    const reevaluated = await stack.cli(['reevaluate', identity, '--reason', 'responses.csv restored']);
    if (reevaluated.code !== 0) throw new Error(`assay reevaluate exited ${reevaluated.code}:\n${reevaluated.stderr}`);
    expect(await simRequests()).toBe(requestsBefore);
    const runDir = reevaluated.stdout.trim().split('\n').pop()!;
    expect(readFileSync(join(runDir, 'README.txt'), 'utf8')).toMatch(/round 2/);
  });
});
