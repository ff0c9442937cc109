import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { REPO_ROOT, simulatorStats, startStack, writeConfig, type Stack } from '../libs/testing/src/fixtures/stack';

/**
 * Methods through real processes. A toy method, registered by a module this test writes (named
 * in ASSAY_METHOD_MODULES, as a user would), runs through the planner, the workers, the evaluator
 * and the reporter with no change anywhere else; llm_few_shot runs on the simulator with its
 * examples in each entity's shared prefix, recorded in the log, and refuses a leaking split.
 */
jest.setTimeout(180_000);

type CliResult = { code: number; stdout: string; stderr: string };

/** Every per-prediction .txt under a run directory's groups/ tree (entity summaries left out). */
function itemFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return itemFiles(path);
    return name.endsWith('.txt') && name !== 'summary.txt' ? [path] : [];
  });
}

const inputOf = (text: string) => text.slice(text.indexOf('=== INPUT ==='), text.indexOf('=== OUTPUT ==='));

/** A method module as a user would write one: plain CommonJS exporting `method`. */
function toyMethodModule(): string {
  return `const { join } = require('node:path');
const repo = ${JSON.stringify(REPO_ROOT)};
const { z } = require(join(repo, 'node_modules', 'zod'));
const { promptId } = require(join(repo, 'dist', 'libs', 'prompting', 'src'));
exports.method = {
  name: 'toy_echo',
  codeVersion: 1,
  label: (settings) => 'toy echo (' + settings.preamble.length + '-character preamble)',
  description: 'A toy: a preamble from its section and the entity id, then the item.',
  section: z.strictObject({ preamble: z.string().min(1) }),
  stages: [{ name: 'predict', kind: 'prompt', description: 'one prompt per (entity, item)', reads: [] }],
  buildPrompts({ settings, entities, items }) {
    return entities.map((e) => ({
      entityId: e.entityId,
      prefix: settings.preamble + '\\nToy respondent ' + e.entityId + '.\\n',
      prompts: items.map((it) => ({
        promptId: promptId(e.entityId, it.group, it.item),
        group: it.group,
        item: it.item,
        suffix: 'Question ' + it.item + ': answer with a single number between ' + it.min + ' and ' + it.max + '.',
      })),
    }));
  },
};
`;
}

describe('methods, end to end', () => {
  let stack: Stack;
  let db: Client;
  beforeAll(async () => {
    // The module must exist before the stack starts: every service builds its catalog at start.
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const moduleFile = join(mkdtempSync(join(tmpdir(), 'assay-toy-method-')), 'toy-method.js');
    writeFileSync(moduleFile, toyMethodModule());
    stack = await startStack({ workers: 1, env: { ASSAY_METHOD_MODULES: moduleFile } });
    db = new Client({ connectionString: stack.databaseUrl });
    await db.connect();
  }, 180_000);
  afterAll(async () => {
    await db?.end();
    await stack?.stop();
  });

  const runDirOf = (r: CliResult) => r.stdout.trim().split('\n').pop()!;
  const expectOk = (r: CliResult) => {
    if (r.code !== 0) throw new Error(`assay exited ${r.code}:\n${r.stderr}`);
  };
  const batchRequests = async (identity: string) =>
    (await db.query(`SELECT data FROM events WHERE type = 'inference.batch.requested' AND data->>'identity' = $1 AND data->>'phase' = 'full' ORDER BY global_position`, [identity])).rows as Array<{
      data: { entityId: string; prefix: string; examples?: string[] };
    }>;

  it('a toy method registered by a module runs through the four services into a run directory of the usual shape', async () => {
    const { path } = writeConfig(stack, 'toy', { method: 'toy_echo', toy_echo: { preamble: 'Toy preamble.' }, sample: { max_entities: 3 } });
    const r = await stack.cli(['run', path]);
    expectOk(r);
    const runDir = runDirOf(r);
    for (const file of ['README.txt', 'metadata.json', 'config.yaml']) expect(statSync(join(runDir, file)).isFile()).toBe(true);
    const metadata = JSON.parse(readFileSync(join(runDir, 'metadata.json'), 'utf8')) as { model: { mode: string } };
    expect(metadata.model.mode).toBe('toy echo (13-character preamble)');
    expect(runDir).toContain('/toy_echo/');
    const files = itemFiles(join(runDir, 'groups'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(inputOf(readFileSync(f, 'utf8'))).toMatch(/^=== INPUT ===\nToy preamble\.\nToy respondent [^\n]+\.\nQuestion \S+: answer with a single number between -?\d+ and -?\d+\./);
    expect(readFileSync(join(runDir, 'config.yaml'), 'utf8')).toContain('toy_echo:\n  preamble: Toy preamble.');
  });

  it("a toy method's section is checked by its own schema: an unknown key is refused with its path before any model call", async () => {
    const { path } = writeConfig(stack, 'toy-bad', { method: 'toy_echo', toy_echo: { preamble: 'x', preambel: 'y' } });
    const before = (await simulatorStats(stack)).requests;
    const r = await stack.cli(['run', path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown key 'toy_echo.preambel'");
    expect((await simulatorStats(stack)).requests).toBe(before);
  });

  it('an unknown method is refused with the registered ones listed, the toy among them', async () => {
    const { path } = writeConfig(stack, 'no-such-method', { method: 'llm_one_shot' });
    const r = await stack.cli(['run', path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown method 'llm_one_shot'");
    expect(r.stderr).toMatch(/registered methods: llm_zero_shot, llm_few_shot, .*toy_echo/);
  });

  it('llm_few_shot puts train examples in each entity prefix, records them in the log, and keeps the hit rate at >= 99% of the ideal', async () => {
    const { path } = writeConfig(stack, 'few-shot', { method: 'llm_few_shot', llm_few_shot: { k: 3, selection: 'nearest' } });
    const r = await stack.cli(['run', path]);
    expectOk(r);
    const runDir = runDirOf(r);
    const identity = runDir.split('/').pop()!;
    const split = JSON.parse(readFileSync(join(REPO_ROOT, 'data', 'sample', 'split.json'), 'utf8')) as { train: string[]; test: string[] };
    const requests = await batchRequests(identity);
    expect(requests.length).toBe(split.test.length);
    for (const { data } of requests) {
      expect(data.examples).toHaveLength(3);
      for (const id of data.examples!) {
        expect(split.train).toContain(id);
        expect(data.prefix).toContain(`Example respondent ${data.examples!.indexOf(id) + 1}:`);
      }
      expect(data.prefix).toContain('The respondent to simulate:');
    }
    const [file] = itemFiles(join(runDir, 'groups'));
    expect(inputOf(readFileSync(file, 'utf8'))).toContain('Example respondent 3:');
    const metrics = JSON.parse(readFileSync(join(runDir, 'metrics.json'), 'utf8')) as { cache: { hitRate: number; idealHitRate: number } };
    expect(metrics.cache.idealHitRate).toBeGreaterThan(0.5);
    expect(metrics.cache.hitRate).toBeGreaterThanOrEqual(0.99 * metrics.cache.idealHitRate);
  });

  it('llm_few_shot with k larger than the train split fails before any model call, naming the key', async () => {
    const { path } = writeConfig(stack, 'few-shot-k', { method: 'llm_few_shot', llm_few_shot: { k: 33 } });
    const before = (await simulatorStats(stack)).requests;
    const r = await stack.cli(['run', path]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('llm_few_shot.k: 33 examples asked for, but the train split has only 32 entities to draw them from');
    expect((await simulatorStats(stack)).requests).toBe(before);
  });

  it('llm_few_shot on a planted split (a test entity also in train) fails before any model call as leakage', async () => {
    const split = JSON.parse(readFileSync(join(REPO_ROOT, 'data', 'sample', 'split.json'), 'utf8')) as { train: string[]; test: string[] };
    const planted = join(stack.logDir, 'planted-split.json');
    writeFileSync(planted, JSON.stringify({ ...split, train: [...split.train, split.test[0]] }, null, 2));
    const { path } = writeConfig(stack, 'few-shot-planted', { method: 'llm_few_shot', llm_few_shot: { k: 2 }, data: { split: planted } });
    const before = (await simulatorStats(stack)).requests;
    const r = await stack.cli(['run', path]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('leakage');
    expect(r.stderr).toContain(JSON.stringify(split.test[0]));
    expect((await simulatorStats(stack)).requests).toBe(before);
  });
});
