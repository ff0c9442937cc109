import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readParquet } from '../libs/report/src/testing/read-parquet';
import { simulatorStats, startStack, writeConfig, type Stack } from '../libs/testing/src/fixtures/stack';

jest.setTimeout(240_000);

/**
 * The stage cache through the whole stack: a second experiment that differs from a completed one
 * only in its name and where or how fast it runs has the same stage keys, so every model stage is
 * answered from the first one's log (the simulator counts no request), with the same predictions,
 * and its README says where they came from. `--force` recomputes.
 */
describe('stage reuse across experiments (end to end)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ workers: 1 });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const runOf = async (args: string[]) => {
    const before = (await simulatorStats(stack)).requests;
    const run = await stack.cli(args);
    expect(run.stderr).toMatch(/completed: normalized_mae=/);
    expect(run.code).toBe(0);
    const runDir = run.stdout.trim().split('\n').pop()!;
    const metadata = JSON.parse(readFileSync(join(runDir, 'metadata.json'), 'utf8')) as { identity: string; stagesReused: Array<{ stage: string; fromIdentity: string; prompts: number }> };
    const predictions = readParquet(join(runDir, 'predictions.parquet')).rows.map((p) => JSON.stringify([p.entity_id, p.group, p.item, p.predicted]));
    return { runDir, metadata, predictions: predictions.sort(), modelCalls: (await simulatorStats(stack)).requests - before, readme: readFileSync(join(runDir, 'README.txt'), 'utf8') };
  };

  /** The same stage parameters for every config of this test (writeConfig's default prompt names the config). */
  const SHARED = { prompt: { system: 'You are simulating the survey respondent whose profile is given below. Reply with a number only.' } };

  it('reuses every model stage of a completed experiment when only the name and where-it-runs settings differ, with the same predictions; --force calls the model again', async () => {
    const a = await runOf(['run', writeConfig(stack, 'stage-cache-a', SHARED).path]);
    expect(a.modelCalls).toBeGreaterThan(0);
    expect(a.metadata.stagesReused).toEqual([]);
    expect(a.readme).not.toMatch(/STAGES REUSED/);

    const bConfig = writeConfig(stack, 'stage-cache-b', { ...SHARED, model: { concurrency: 3, request_timeout_s: 30, max_retries: 1 } }).path;
    const b = await runOf(['run', bConfig]);
    expect(b.metadata.identity).not.toBe(a.metadata.identity);
    expect(b.modelCalls).toBe(0);
    expect(b.predictions).toEqual(a.predictions);
    expect(b.metadata.stagesReused.map((r) => [r.stage, r.fromIdentity])).toEqual([
      ['inference', a.metadata.identity],
      ['smoke_inference', a.metadata.identity],
    ]);
    expect(b.metadata.stagesReused.find((r) => r.stage === 'inference')!.prompts).toBe(a.predictions.length);
    expect(b.readme).toMatch(new RegExp(`STAGES REUSED\\n-+\\n- inference: ${a.predictions.length} answers in \\d+ entity batches reused from experiment ${a.metadata.identity}`));
    // Reused answers reached no server: they are not in the hit rate.
    expect(b.readme).toMatch(/Cached prompt tokens: 0 of 0\./);

    const forced = await runOf(['run', bConfig, '--force']);
    expect(forced.metadata.identity).toBe(b.metadata.identity);
    expect(forced.modelCalls).toBeGreaterThanOrEqual(a.predictions.length);
    expect(forced.metadata.stagesReused).toEqual([]);
    expect(forced.predictions).toEqual(a.predictions);
  });
});
