import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { startStack, writeConfig, type Stack } from '../libs/testing/src/fixtures/stack';

/**
 * Two methods through the whole stack (zero-shot with two different system prompts), then
 * `assay compare` on them: a comparison directory under the output root with the paired
 * difference, the config diff and the files for code; bad input writes nothing.
 */
jest.setTimeout(180_000);

type CliResult = { code: number; stdout: string; stderr: string };

describe('assay compare, end to end', () => {
  let stack: Stack;
  let db: Client;
  let outputRoot: string;
  let first: string;
  let second: string;
  let compared: CliResult;

  const lastLine = (r: CliResult) => r.stdout.trim().split('\n').pop()!;
  const expectOk = (r: CliResult) => {
    if (r.code !== 0) throw new Error(`assay exited ${r.code}:\n${r.stderr}`);
  };
  const comparisons = () => (existsSync(join(outputRoot, 'comparisons')) ? readdirSync(join(outputRoot, 'comparisons')).sort() : []);

  beforeAll(async () => {
    stack = await startStack({ workers: 1 });
    db = new Client({ connectionString: stack.databaseUrl });
    await db.connect();
    const plain = writeConfig(stack, 'compare-plain');
    outputRoot = plain.outputRoot;
    const terse = writeConfig(stack, 'compare-terse', {
      prompt: { system: 'Answer as the respondent profiled below would, with one number and nothing else.' },
    });
    const a = await stack.cli(['run', plain.path]);
    expectOk(a);
    const b = await stack.cli(['run', terse.path]);
    expectOk(b);
    first = lastLine(a).split('/').pop()!;
    second = lastLine(b).split('/').pop()!;
    // Prefixes work as in every other command.
    compared = await stack.cli(['compare', first.slice(0, 8), second.slice(0, 8)]);
  }, 300_000);
  afterAll(async () => {
    await db?.end();
    await stack?.stop();
  });

  it('exits 0, prints the paired difference per pair on stderr and the comparison directory last', () => {
    expectOk(compared);
    const dir = lastLine(compared);
    expect(dir.startsWith(join(outputRoot, 'comparisons') + '/')).toBe(true);
    expect(compared.stderr).toMatch(new RegExp(`${second} - ${first}: normalized_mae [+-]\\d\\.\\d{4} \\[-?\\d\\.\\d{4}, -?\\d\\.\\d{4}\\], p \\d\\.\\d{4}, Holm \\d\\.\\d{4}`));
    expect(readdirSync(dir).sort()).toEqual([
      'README.txt', 'by_entity.csv', 'by_entity.parquet', 'by_group.csv', 'by_group.parquet', 'by_item.csv', 'by_item.parquet',
      'comparison.json', 'methods.csv', 'methods.parquet', 'plots',
    ]);
    expect(readFileSync(join(dir, 'plots', 'paired_deltas_by_group.svg'), 'utf8')).toMatch(/^<svg/);
  });

  it('the README names both runs, shows the prompt as the config difference, ranks them and gives the paired difference', () => {
    const readme = readFileSync(join(lastLine(compared), 'README.txt'), 'utf8');
    expect(readme).not.toContain('NOT PAIRED');
    expect(readme).toContain(first);
    expect(readme).toContain(second);
    expect(readme).toMatch(/CONFIG DIFFERENCES[\s\S]*prompt\.system\s+You are simulating/);
    expect(readme).toMatch(/RANKING on normalized_mae[\s\S]*1\s+\S+\s+llm_zero_shot/);
    expect(readme).toMatch(new RegExp(`PAIRED DIFFERENCES[\\s\\S]*${first}\\s+${second}\\s+[+-]\\d\\.\\d{4} \\[`));
    const json = JSON.parse(readFileSync(join(lastLine(compared), 'comparison.json'), 'utf8')) as { paired: boolean; sharedEntities: number; pairs: unknown[] };
    expect(json.paired).toBe(true);
    expect(json.pairs).toHaveLength(1);
    expect(json.sharedEntities).toBeGreaterThan(0);
  });

  it('comparing the same runs again gives the same directory, byte for byte', async () => {
    const dir = lastLine(compared);
    const before = readFileSync(join(dir, 'README.txt'));
    const again = await stack.cli(['compare', first, second]);
    expectOk(again);
    expect(lastLine(again)).toBe(dir);
    expect(readFileSync(join(dir, 'README.txt'))).toEqual(before);
  });

  it('bad input: one identity, an unknown one, or the same run twice fails with a clear error and writes nothing', async () => {
    const before = comparisons();
    const single = await stack.cli(['compare', first]);
    expect(single.code).toBe(2);
    expect(single.stderr).toMatch(/at least two identities, got 1/);
    const unknown = await stack.cli(['compare', first, 'ffffffff']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no experiment 'ffffffff'/);
    const twice = await stack.cli(['compare', first, first]);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/named twice/);
    expect(comparisons()).toEqual(before);
  });

  it('over HTTP: the same comparison, and 400 for a single identity', async () => {
    const url = `http://127.0.0.1:${stack.httpPort}/api/comparisons`;
    const post = (body: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const ok = await post({ identities: [first, second] });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { dir: string }).dir).toBe(lastLine(compared));
    const bad = await post({ identities: [first] });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/at least two runs, got 1/);
  });

  it('each run still replays byte for byte (the new metrics and intervals are seeded)', async () => {
    for (const identity of [first, second]) {
      const replay = await stack.cli(['replay', identity]);
      expectOk(replay);
      const { rows } = await db.query(`SELECT data FROM events WHERE type = 'report.generated' AND data->>'identity' = $1 ORDER BY global_position DESC LIMIT 1`, [identity]);
      expect(replay.stderr).toContain(`tree ${String((rows[0] as { data: { treeHash: string } }).data.treeHash)}`);
    }
  });
});
