import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { readParquet as readParquetFile } from '../libs/report/src/testing/read-parquet';
import { holdModelCalls, modelCallHold, releaseModelCalls, simulatorStats, startStack, writeConfig, type Stack } from '../libs/testing/src/fixtures/stack';
import { until } from '../libs/testing/src/fixtures/until';

jest.setTimeout(240_000);

/** Rows of a parquet file, read by an independent reader (hyparquet). */
function readParquet(file: string): Array<Record<string, unknown>> {
  return readParquetFile(file).rows;
}

async function eventTypes(stack: Stack): Promise<Array<{ type: string; message_id: string; data: Record<string, unknown> }>> {
  const client = new Client({ connectionString: stack.databaseUrl });
  await client.connect();
  const { rows } = await client.query('SELECT type, message_id, data FROM events ORDER BY global_position');
  await client.end();
  return rows;
}

describe('assay run, end to end (four service processes, real Postgres and NATS, simulated vLLM)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ workers: 2, simulatorArgs: ['--latency', 'gpu'] });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('runs the sample experiment through every service and writes the run directory from the log', async () => {
    const { path } = writeConfig(stack, 'e2e-demo');
    const run = await stack.cli(['run', path]);
    expect(run.stderr).toMatch(/completed: normalized_mae=/);
    expect(run.code).toBe(0);
    const runDir = run.stdout.trim().split('\n').pop()!;
    expect(runDir).toMatch(/llm_zero_shot\/experiments\/[0-9a-f]{8}_/);

    for (const file of ['README.txt', 'config.json', 'config.yaml', 'metadata.json', 'metrics.json', 'predictions.parquet', 'raw_outputs.parquet', 'groups/_index.csv', 'review.txt', 'diagnostics/parse_failures.csv', 'logs/planner.attempt-1.log']) {
      expect(existsSync(join(runDir, file))).toBe(true);
    }
    // The sample data has empty values: the warning is said by the CLI and written to README.txt and review.txt.
    expect(run.stderr).toMatch(/warning: .*responses\.csv: 13 row\(s\) with an empty value skipped as missing observations/);
    expect(readFileSync(join(runDir, 'README.txt'), 'utf8')).toMatch(/WARNINGS \(read before the results\)\n-+\n(- .*\n)*- .*13 row\(s\) with an empty value skipped/);
    expect(readFileSync(join(runDir, 'review.txt'), 'utf8')).toMatch(/\[WARN\] Pre-flight warnings \(data, split, config\) — \d+ warning\(s\).*13 row\(s\) with an empty value skipped/);
    const split = JSON.parse(readFileSync(join(stack.root, 'data/sample/split.json'), 'utf8')) as { test: string[] };
    const responses = readFileSync(join(stack.root, 'data/sample/responses.csv'), 'utf8').trim().split('\n').slice(1);
    const testCells = responses.map((l) => l.split(',')).filter(([e, , , v]) => split.test.includes(e) && v !== '');
    const predictions = readParquet(join(runDir, 'predictions.parquet'));
    expect(predictions).toHaveLength(testCells.length);
    const keys = predictions.map((p) => JSON.stringify([p.entity_id, p.group, p.item]));
    expect(new Set(keys).size).toBe(keys.length);
    for (const p of predictions) expect(Object.keys(p)).toEqual(expect.arrayContaining(['entity_id', 'group', 'item', 'actual', 'predicted']));
    const raw = readParquet(join(runDir, 'raw_outputs.parquet'));
    expect(raw.every((r) => typeof r.input_text === 'string' && (r.input_text as string).includes('Profile of the respondent'))).toBe(true);
    // The request's time, from the experiment.requested event (its own stream), before the start.
    // The ideal hit rate is an upper bound: no run passes it (the sample's items start alike, which the old ideal missed).
    const { cache } = JSON.parse(readFileSync(join(runDir, 'metrics.json'), 'utf8')) as { cache: { hitRate: number; idealHitRate: number; source?: string } };
    expect(cache.source).toBeUndefined();
    expect(cache.hitRate).toBeGreaterThan(0);
    expect(cache.hitRate).toBeLessThanOrEqual(cache.idealHitRate);
    const metadata = JSON.parse(readFileSync(join(runDir, 'metadata.json'), 'utf8')) as { requestedAt: string | null; startedAt: string };
    expect(metadata.requestedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(Date.parse(metadata.requestedAt!)).toBeLessThanOrEqual(Date.parse(metadata.startedAt));
    // Each call's settings and circumstances: what a truncated answer or a slow replica is told by.
    for (const r of raw) {
      expect(r).toMatchObject({ finish_reason: expect.stringMatching(/^(stop|length)$/), model: 'sim/llm-8b', replica: stack.simulatorUrl, worker: expect.stringMatching(/^worker-\d$/) });
      expect(Date.parse(r.finished_at as string)).toBeGreaterThanOrEqual(Date.parse(r.started_at as string));
    }
    const index = readFileSync(join(runDir, 'groups/_index.csv'), 'utf8').trim().split('\n');
    const maes = index.slice(1).map((l) => Number(l.split(',')[3]));
    expect([...maes].sort((a, b) => b - a)).toEqual(maes); // worst group first

    const events = await eventTypes(stack);
    const ids = events.map((e) => e.message_id);
    expect(new Set(ids).size).toBe(ids.length);
    const count = (type: string, phase?: string) => events.filter((e) => e.type === type && (phase === undefined || e.data.phase === phase)).length;
    const batches = count('inference.batch.requested', 'full');
    expect(batches).toBe(split.test.length);
    expect(count('inference.completed', 'full')).toBe(batches);
    expect(count('evaluation.batch.scored', 'full')).toBe(batches);
    for (const type of ['experiment.requested', 'experiment.started', 'evaluation.smoke.checked', 'evaluation.completed', 'report.generated', 'experiment.completed']) {
      expect(count(type)).toBe(1);
    }
  });

  it('says an identical request already completed, and calls no model', async () => {
    const { path } = writeConfig(stack, 'e2e-demo');
    const before = (await (await fetch(stack.simulatorUrl.replace('/v1', '/sim/stats'))).json()) as { requests: number };
    const again = await stack.cli(['run', path]);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/already completed/);
    const after = (await (await fetch(stack.simulatorUrl.replace('/v1', '/sim/stats'))).json()) as { requests: number };
    expect(after.requests).toBe(before.requests);
  });

  it('survives an inference worker killed with SIGKILL mid-batch: the batches are redelivered, every prompt answered exactly once', async () => {
    const exited = (name: string) => new Promise<void>((resolve) => stack.processes.get(name)!.once('exit', () => resolve()));
    // One worker runs the batches, so the one blocked below is surely the one killed.
    const drained = exited('worker-2');
    stack.processes.get('worker-2')!.kill('SIGTERM');
    await drained;
    await fetch(stack.simulatorUrl.replace('/v1', '/sim/reset'), { method: 'POST' });
    // The first 3 model calls are answered, every later one is held: each batch has 11 or 12 prompts,
    // so the worker is then mid-batch with answers it never committed.
    const ANSWERED = 3;
    await holdModelCalls(stack, ANSWERED);
    const { path } = writeConfig(stack, 'e2e-kill', { model: { temperature: 0.1, concurrency: 2 }, smoke: { enabled: false } });
    const running = stack.cli(['run', path]);
    await until(async () => (await modelCallHold(stack)).held >= 1 && (await simulatorStats(stack)).requests === ANSWERED, 'the worker blocked mid-batch', 60_000);
    const killed = exited('worker-1');
    stack.processes.get('worker-1')!.kill('SIGKILL');
    await killed;
    // Release only once the simulator has seen the dead worker's held calls go (closed sockets), so none of them runs.
    await until(async () => (await modelCallHold(stack)).held === 0, "the killed worker's held calls closed");
    expect(await releaseModelCalls(stack)).toBe(0);
    stack.start('inference-worker', 'worker-1b');

    const run = await running;
    expect(run.code).toBe(0);
    const runDir = run.stdout.trim().split('\n').pop()!;
    const predictions = readParquet(join(runDir, 'predictions.parquet'));
    // The answers the killed worker got were asked again by the worker that took its batches over, once each.
    expect((await simulatorStats(stack)).requests).toBe(predictions.length + ANSWERED);
    const keys = predictions.map((p) => JSON.stringify([p.entity_id, p.group, p.item]));
    expect(new Set(keys).size).toBe(keys.length);
    const split = JSON.parse(readFileSync(join(stack.root, 'data/sample/split.json'), 'utf8')) as { test: string[] };
    expect(new Set(predictions.map((p) => p.entity_id)).size).toBe(split.test.length);
    const events = await eventTypes(stack);
    const completed = events.filter((e) => e.type === 'inference.completed' && e.data.identity === runDir.split('/').pop());
    expect(completed).toHaveLength(split.test.length);
    expect(new Set(completed.map((e) => e.data.batchId)).size).toBe(completed.length);
    expect(new Set(completed.map((e) => e.data.worker))).toEqual(new Set(['worker-1b']));
  });
  it('survives the evaluator killed with SIGKILL mid-run (baselines maybe scored ahead, maybe not): the evaluation equals a clean attempt\'s', async () => {
    const exited = (name: string) => new Promise<void>((resolve) => stack.processes.get(name)!.once('exit', () => resolve()));
    await fetch(stack.simulatorUrl.replace('/v1', '/sim/reset'), { method: 'POST' });
    // Enough answers for a few batches to be scored (so the evaluator has seen the whole plan), then every call held.
    const ANSWERED = 40;
    await holdModelCalls(stack, ANSWERED);
    const { path } = writeConfig(stack, 'e2e-evaluator-kill', { model: { concurrency: 2 }, smoke: { enabled: false } });
    const running = stack.cli(['run', path]);
    await until(async () => (await modelCallHold(stack)).held >= 1 && (await simulatorStats(stack)).requests === ANSWERED, 'the run held mid-inference', 60_000);
    const evaluatorName = [...stack.processes.keys()].filter((n) => n.startsWith('evaluator')).pop()!;
    const killed = exited(evaluatorName);
    stack.processes.get(evaluatorName)!.kill('SIGKILL');
    await killed;
    stack.start('evaluator', 'evaluator-b');
    await releaseModelCalls(stack);
    const run = await running;
    expect(run.code).toBe(0);
    const identity = run.stdout.trim().split('\n').pop()!.split('/').pop()!;

    // The same run again, untouched: the same answers (temperature 0), scored by the restarted evaluator from scratch.
    const again = await stack.cli(['run', path, '--force']);
    expect(again.code).toBe(0);
    const evaluations = (await eventTypes(stack)).filter((e) => e.type === 'evaluation.completed' && e.data.identity === identity);
    expect(evaluations.map((e) => e.data.attempt)).toEqual([1, 2]);
    expect(JSON.stringify(evaluations[0].data.result)).toBe(JSON.stringify(evaluations[1].data.result));
  });
});
