import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { holdModelCalls, modelCallHold, releaseModelCalls, simulatorStats, startStack, writeConfig, type Stack } from '../libs/testing/src/fixtures/stack';
import { until } from '../libs/testing/src/fixtures/until';

/**
 * The two-stage persona method through real processes: a summary per entity (its own call and
 * INPUT/OUTPUT file), each entity's predictions asked from its summary (the summary in every
 * prompt's shared prefix), predictions starting while other summaries are still out (made
 * certain by holding the simulator's calls after the first one), and an empty summary failing
 * the run with the entity named.
 */
jest.setTimeout(120_000);

type CliResult = { code: number; stdout: string; stderr: string };

/**
 * The simulator answers with a number inside the last range a prompt names ("between A and B"),
 * so the summary template names one: each entity's summary is a number that differs by profile.
 */
const SUMMARY_TEMPLATE = { system: 'You write persona summaries.', user: 'Profile:\n{profile}\n\nWrite a persona code between 1000 and 9999.' };

describe('llm_persona_two_stage, end to end', () => {
  let stack: Stack;
  let db: Client;
  beforeAll(async () => {
    stack = await startStack({ workers: 1 });
    db = new Client({ connectionString: stack.databaseUrl });
    await db.connect();
  }, 180_000);
  afterAll(async () => {
    await releaseModelCalls(stack).catch(() => 0);
    await db?.end();
    await stack?.stop();
  });

  const eventsOf = async (identity: string, type: string) =>
    (await db.query(`SELECT data FROM events WHERE type = $1 AND data->>'identity' = $2 ORDER BY global_position`, [type, identity])).rows.map((r) => r.data as Record<string, unknown>);
  const identityByName = async (name: string): Promise<string | undefined> =>
    (await db.query(`SELECT data->>'identity' AS identity FROM events WHERE type = 'experiment.started' AND data->'config'->>'name' = $1`, [name])).rows[0]?.identity as string | undefined;
  const expectOk = (r: CliResult) => {
    if (r.code !== 0) throw new Error(`assay exited ${r.code}:\n${r.stderr}`);
  };

  it('summaries come first, each entity\'s predictions start once its own summary exists (before the last one arrives), and every call has its INPUT/OUTPUT file', async () => {
    const { path } = writeConfig(stack, 'persona-stream', { method: 'llm_persona_two_stage', llm_persona_two_stage: { template: SUMMARY_TEMPLATE, max_tokens: 32 }, sample: { max_entities: 3 } });
    // One call through (necessarily a summary: nothing else is requested before one is answered), then everything waits.
    await holdModelCalls(stack, 1);
    const run = stack.cliLive(['run', path]);
    let identity: string | undefined;
    await until(async () => (identity = await identityByName('persona-stream')) !== undefined, 'the run started');
    await until(async () => (await eventsOf(identity!, 'inference.batch.requested')).some((e) => e.phase === 'full'), 'a prediction batch requested');
    const summaryAnswers = (await eventsOf(identity!, 'inference.completed')).filter((e) => e.phase === 'summary');
    const summaryBatches = (await eventsOf(identity!, 'inference.batch.requested')).filter((e) => e.phase === 'summary');
    // A prediction batch is out while summaries are still held: nothing waited for the whole stage.
    expect(summaryBatches).toHaveLength(3);
    expect(summaryAnswers.length).toBeLessThan(summaryBatches.length);
    expect((await modelCallHold(stack)).held).toBeGreaterThanOrEqual(1);
    await releaseModelCalls(stack);
    const result = await run.done;
    expectOk(result);
    const runDir = result.stdout.trim().split('\n').pop()!;

    const requested = await eventsOf(identity!, 'inference.batch.requested');
    const answers = await eventsOf(identity!, 'inference.completed');
    const summaryOf = new Map(
      answers.filter((e) => e.phase === 'summary').map((e) => [e.entityId as string, ((e.results as Array<{ outputText: string }>)[0].outputText).trim()]),
    );
    expect(summaryOf.size).toBe(3);
    for (const batch of requested.filter((e) => e.phase === 'full')) {
      const summary = summaryOf.get(batch.entityId as string)!;
      expect(summary).toMatch(/^\d{4}$/);
      // The summary is the entity's shared prefix: in the prefix once, in no suffix, and the raw profile is gone.
      expect(batch.prefix).toContain(`Profile of the respondent:\n${summary}\n`);
      expect(batch.prefix).not.toContain('age:');
    }

    // Run directory: the summary call's INPUT/OUTPUT under each entity folder, item files as for any method.
    const group = readdirSync(join(runDir, 'groups'), { withFileTypes: true }).find((d) => d.isDirectory())!.name;
    const entities = readdirSync(join(runDir, 'groups', group, 'entities'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    expect(entities).toHaveLength(3);
    for (const entity of entities) {
      const dir = join(runDir, 'groups', group, 'entities', entity);
      const summaryFile = readFileSync(join(dir, 'persona_summary.txt'), 'utf8');
      expect(summaryFile).toMatch(/^=== INPUT ===\n[\s\S]*Write a persona code between 1000 and 9999\.[\s\S]*=== OUTPUT ===\n\d{4}\n[\s\S]*stage: summary/);
      const itemFile = readdirSync(dir).find((f) => f !== 'persona_summary.txt' && f !== 'summary.txt')!;
      expect(readFileSync(join(dir, itemFile), 'utf8')).toContain(`Profile of the respondent:\n${summaryOf.get(entity)}\n`);
    }
    expect(existsSync(join(runDir, 'README.txt'))).toBe(true);
  });

  it('a summary that comes back empty fails the run at inference, naming the entity, and no prediction prompt is sent for it', async () => {
    // The simulator answers with digits only: stopping at any digit makes every summary empty.
    const digits = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
    const { path } = writeConfig(stack, 'persona-empty', { method: 'llm_persona_two_stage', llm_persona_two_stage: { sampling: { stop: digits } }, sample: { max_entities: 2 } });
    const result = await stack.cli(['run', path]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/stage 'summary' of entity "[^"]+" \(batch summary:[^)]+\) returned an empty output/);
    const identity = (await identityByName('persona-empty'))!;
    const failed = await eventsOf(identity, 'experiment.failed');
    expect(failed[0]).toMatchObject({ stage: 'inference' });
    expect((await eventsOf(identity, 'inference.batch.requested')).filter((e) => e.phase === 'full')).toEqual([]);
  });

  it('changing only the prediction templates reuses every summary of the earlier run (stage 1): no summary call reaches the simulator', async () => {
    // Its own summary settings (max_tokens), so no other test's summaries share these stage keys.
    const persona = { method: 'llm_persona_two_stage', llm_persona_two_stage: { template: SUMMARY_TEMPLATE, max_tokens: 24 }, sample: { max_entities: 4 } };
    // writeConfig's prompt.system names the config: each run's stage 2 differs, its stage 1 does not.
    const runOf = async (name: string) => {
      const before = (await simulatorStats(stack)).requests;
      const result = await stack.cli(['run', writeConfig(stack, name, persona).path]);
      expectOk(result);
      const runDir = result.stdout.trim().split('\n').pop()!;
      const metadata = JSON.parse(readFileSync(join(runDir, 'metadata.json'), 'utf8')) as { identity: string; stagesReused: Array<{ stage: string; fromIdentity: string; prompts: number }> };
      return { runDir, metadata, modelCalls: (await simulatorStats(stack)).requests - before };
    };
    const a = await runOf('persona-reuse-a');
    const summaries = (await eventsOf(a.metadata.identity, 'inference.completed')).filter((e) => e.phase === 'summary').length;
    expect(summaries).toBeGreaterThan(0);
    expect(a.metadata.stagesReused).toEqual([]);

    const b = await runOf('persona-reuse-b');
    expect(b.metadata.identity).not.toBe(a.metadata.identity);
    // Every stage-2 prompt was asked again (its template changed); not one summary was.
    expect(b.modelCalls).toBe(a.modelCalls - summaries);
    expect(b.metadata.stagesReused.map((r) => [r.stage, r.fromIdentity, r.prompts])).toEqual([['summary', a.metadata.identity, summaries]]);
    // The reused summaries are the entity inputs of B's prompts, with their files as in A.
    const summaryFiles = (dir: string) => readdirSync(join(dir, 'groups'), { recursive: true }).map(String).filter((f) => f.endsWith('persona_summary.txt')).sort();
    expect(summaryFiles(b.runDir)).toEqual(summaryFiles(a.runDir));
    for (const f of summaryFiles(a.runDir)) {
      const outputOf = (dir: string) => readFileSync(join(dir, 'groups', f), 'utf8').split('=== OUTPUT ===')[1].split('=== METADATA ===')[0];
      expect(outputOf(b.runDir)).toBe(outputOf(a.runDir));
    }
  });
});
