import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { holdModelCalls, modelCallHold, releaseModelCalls, startStack, writeConfig, type Stack } from '../libs/testing/src/fixtures/stack';
import { until } from '../libs/testing/src/fixtures/until';

/**
 * Re-evaluation without re-inference through real processes: `assay reevaluate` scores
 * the logged inference results again as round 2, calls no model, rewrites the run directory from
 * the new round (replayable byte for byte), and refuses unknown or running identities.
 */
jest.setTimeout(120_000);

type CliResult = { code: number; stdout: string; stderr: string };

describe('assay reevaluate, end to end', () => {
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
  const simRequests = async () => ((await (await fetch(sim('/sim/stats'))).json()) as { requests: number }).requests;
  const runDirOf = (r: CliResult) => r.stdout.trim().split('\n').pop()!;
  const expectOk = (r: CliResult) => {
    if (r.code !== 0) throw new Error(`assay exited ${r.code}:\n${r.stderr}`);
  };
  const eventsOf = async (identity: string, type: string) =>
    (await db.query(`SELECT data FROM events WHERE type = $1 AND data->>'identity' = $2 ORDER BY global_position`, [type, identity])).rows as Array<{ data: Record<string, unknown> }>;
  const countOf = async (identity: string, type: string) => (await eventsOf(identity, type)).length;

  describe('given a completed experiment', () => {
    let runDir: string;
    let identity: string;
    let reevaluated: CliResult;
    let requestsBefore: number;
    let inferenceEventsBefore: number;

    beforeAll(async () => {
      const run = await stack.cli(['run', writeConfig(stack, 'reeval-completed').path]);
      expectOk(run);
      runDir = runDirOf(run);
      identity = runDir.split('/').pop()!;
      requestsBefore = await simRequests();
      inferenceEventsBefore = (await countOf(identity, 'inference.completed')) + (await countOf(identity, 'inference.failed'));
      reevaluated = await stack.cli(['reevaluate', identity, '--reason', 'e2e: parser check']);
    });

    it('exits 0, prints the run directory last and the headline numbers of round 1 vs round 2', () => {
      expectOk(reevaluated);
      expect(runDirOf(reevaluated)).toBe(runDir);
      expect(reevaluated.stderr).toMatch(/no model will be called/);
      expect(reevaluated.stderr).toMatch(/round 1\s+round 2\s+change/);
      expect(reevaluated.stderr).toMatch(/normalized_mae\s+\d/);
    });

    it('calls no model and adds no inference event', async () => {
      expect(await simRequests()).toBe(requestsBefore);
      expect((await countOf(identity, 'inference.completed')) + (await countOf(identity, 'inference.failed'))).toBe(inferenceEventsBefore);
      expect(await countOf(identity, 'inference.batch.requested')).toBeGreaterThan(0);
    });

    it('logs round 2: every full batch scored again, its evaluation with who asked and why, and its report', async () => {
      const fullBatches = (await eventsOf(identity, 'inference.batch.requested')).filter((e) => e.data.phase === 'full').length;
      const scored = (await eventsOf(identity, 'evaluation.batch.scored')).filter((e) => e.data.phase === 'full');
      expect(scored.filter((e) => e.data.round === 1)).toHaveLength(fullBatches);
      expect(scored.filter((e) => e.data.round === 2)).toHaveLength(fullBatches);
      const evaluations = await eventsOf(identity, 'evaluation.completed');
      expect(evaluations.map((e) => e.data.round)).toEqual([1, 2]);
      expect(evaluations[1].data.reevaluation).toMatchObject({ reason: 'e2e: parser check' });
      const reports = await eventsOf(identity, 'report.generated');
      expect(reports.map((e) => e.data.round)).toEqual([1, 2]);
      // The registry shows the latest round, still completed.
      const status = await stack.cli(['status', identity]);
      expectOk(status);
      expect(status.stdout).toMatch(/status:\s+completed \(attempt 1\)/);
      expect(status.stdout).toMatch(/evaluation_round: 2/);
    });

    it('rewrites the run directory from round 2: README and metadata.json say so, logs/ kept', () => {
      const readme = readFileSync(join(runDir, 'README.txt'), 'utf8');
      expect(readme).toMatch(/Evaluation round 2: re-scored the logged inference results of attempt 1 without model calls/);
      expect(readme).toContain('reason: e2e: parser check');
      const metadata = JSON.parse(readFileSync(join(runDir, 'metadata.json'), 'utf8')) as { evaluationRound: number; evaluationRounds: Array<{ round: number; modelCalls: boolean }> };
      expect(metadata.evaluationRound).toBe(2);
      expect(metadata.evaluationRounds.map((r) => [r.round, r.modelCalls])).toEqual([
        [1, true],
        [2, false],
      ]);
      expect(readFileSync(join(runDir, 'logs', 'evaluator.attempt-1.log'), 'utf8')).toMatch(/evaluation round 2 of attempt 1 .*no model calls/);
    });

    it('replay afterwards rebuilds the same tree, byte for byte', async () => {
      const replay = await stack.cli(['replay', identity]);
      expectOk(replay);
      const [latest] = (await eventsOf(identity, 'report.generated')).slice(-1);
      expect(replay.stderr).toContain(`tree ${String(latest.data.treeHash)}`);
    });

    it('a second reevaluate makes round 3', async () => {
      const again = await stack.cli(['reevaluate', identity]);
      expectOk(again);
      expect(again.stderr).toMatch(/round 2\s+round 3/);
      expect((await eventsOf(identity, 'evaluation.completed')).map((e) => e.data.round)).toEqual([1, 2, 3]);
      expect(await simRequests()).toBe(requestsBefore);
    });

    it('given a latest round scored by another evaluator version, replay refuses and says to reevaluate; reevaluate fixes it', async () => {
      // What an upgrade looks like from the log's side: the latest round was scored by other rules.
      await db.query(
        `INSERT INTO events (stream, stream_position, message_id, type, schema_version, data, metadata, occurred_at)
         SELECT stream, (SELECT max(stream_position) + 1 FROM events WHERE stream = e.stream), gen_random_uuid(), type, schema_version,
                jsonb_set(jsonb_set(data, '{round}', '4'), '{evaluatorVersion}', '"eval/v0"'), metadata, now()
           FROM events e WHERE type = 'evaluation.completed' AND data->>'identity' = $1 ORDER BY global_position DESC LIMIT 1`,
        [identity],
      );
      const refused = await stack.cli(['replay', identity]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`evaluated by eval/v0`);
      expect(refused.stderr).toContain(`run 'assay reevaluate ${identity}'`);
      const fixed = await stack.cli(['reevaluate', identity]);
      expectOk(fixed);
      expect(fixed.stderr).toMatch(/round 4\s+round 5/);
      expectOk(await stack.cli(['replay', identity]));
      expect(readFileSync(join(runDir, 'README.txt'), 'utf8')).toMatch(/Evaluation round 5: re-scored/);
    });
  });

  it('refuses an unknown identity with a clear message, exit 1', async () => {
    const r = await stack.cli(['reevaluate', 'ffffffff_0000000']);
    expect(r.code).toBe(1);
    // The CLI resolves the identity (or a prefix of it) against the log before asking the evaluator.
    expect(r.stderr).toContain("no experiment 'ffffffff_0000000' in the registry");
  });

  it('refuses a running identity, saying it is still running; the run then ends normally', async () => {
    // Every model call is held until the refusal is in: the run is surely still going.
    await holdModelCalls(stack, 0);
    try {
      const { path } = writeConfig(stack, 'reeval-running');
      const owner = stack.cli(['run', path]);
      const startedIdentity = async () =>
        ((await db.query(`SELECT data->>'identity' AS identity FROM events WHERE type = 'experiment.started' AND data->'config'->>'name' = 'reeval-running'`)).rows as Array<{ identity: string }>)[0]?.identity;
      await until(async () => (await modelCallHold(stack)).held >= 1 && (await startedIdentity()) !== undefined, 'the run started, a model call held');
      const identity = (await startedIdentity())!;
      const refused = await stack.cli(['reevaluate', identity]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(new RegExp(`refused: attempt 1 of ${identity} is still running`));
      await releaseModelCalls(stack);
      expectOk(await owner);
      // The refusal is in the log (the request's stream), not a silent drop.
      const rejected = (await db.query(`SELECT stream FROM events WHERE type = 'evaluation.rejected' AND data->>'identity' = $1`, [identity])).rows as Array<{ stream: string }>;
      expect(rejected.map((r) => r.stream.split('-')[0])).toEqual(['request']);
    } finally {
      await releaseModelCalls(stack);
    }
  });
});
