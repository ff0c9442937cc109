import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { simulatorStats, startStack, writeConfig, type Stack } from '../libs/testing/src/fixtures/stack';

/**
 * Profile views and SFT runs through real processes: a codebook-labelled profile in every
 * prompt a run sends (its INPUT files), a bad codebook refused before any model call, and a run
 * on a LoRA adapter (the simulator serves it as vLLM's --lora-modules does) reported as SFT.
 */
jest.setTimeout(120_000);

type CliResult = { code: number; stdout: string; stderr: string };

/** Every per-prediction .txt under a run directory's groups/ tree. */
function itemFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return itemFiles(path);
    return name.endsWith('.txt') ? [path] : [];
  });
}

describe('profile views and SFT mode, end to end', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ workers: 1, simulatorArgs: ['--lora-modules', 'survey-lora=/adapters/survey-lora'] });
  }, 180_000);
  afterAll(async () => {
    await stack?.stop();
  });

  const runDirOf = (r: CliResult) => r.stdout.trim().split('\n').pop()!;
  const expectOk = (r: CliResult) => {
    if (r.code !== 0) throw new Error(`assay exited ${r.code}:\n${r.stderr}`);
  };

  it('a codebook and a feature filter shape the profile every prompt of the run shows (INPUT files)', async () => {
    const codebook = join(stack.logDir, 'codebook.csv');
    writeFileSync(codebook, 'column,label,scale\ntrust_in_science,Trust in science,1-5\nage,Age,years\n');
    const { path } = writeConfig(stack, 'views-codebook', {
      profile: { features: { include: ['age', 'gender', 'trust_*'] }, codebook },
      sample: { max_entities: 2 },
    });
    const r = await stack.cli(['run', path]);
    expectOk(r);
    const runDir = runDirOf(r);
    const inputs = itemFiles(join(runDir, 'groups')).filter((f) => !f.endsWith('/summary.txt')).map((f) => readFileSync(f, 'utf8'));
    expect(inputs.length).toBeGreaterThan(0);
    for (const text of inputs) {
      const input = text.slice(text.indexOf('=== INPUT ==='), text.indexOf('=== OUTPUT ==='));
      expect(input).toMatch(/Profile of the respondent:\nAge \(years\): \d+\ngender: \w+\nTrust in science \(1-5\): \d\n\n/);
      expect(input).not.toContain('trust_in_science:');
      expect(input).not.toContain('region:');
    }
    expect(readFileSync(join(runDir, 'config.yaml'), 'utf8')).toContain('trust_*');
  });

  it('a codebook row for a column that does not exist fails the run before any model call, naming the file and line', async () => {
    const codebook = join(stack.logDir, 'bad-codebook.csv');
    writeFileSync(codebook, 'column,label,scale\nage,Age,years\ntrust_in_sciense,Trust in science,1-5\n');
    const { path } = writeConfig(stack, 'views-bad-codebook', { profile: { codebook } });
    const before = (await simulatorStats(stack)).requests;
    const r = await stack.cli(['run', path]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${codebook}:3: column "trust_in_sciense" is not a feature column of`);
    expect(r.stderr).toContain('closest: "trust_in_science"');
    expect((await simulatorStats(stack)).requests).toBe(before);
  });

  it('a run on a LoRA adapter is reported as SFT with the adapter named in README.txt and metadata.json, and asks the server for the adapter', async () => {
    const { path } = writeConfig(stack, 'views-sft', { model: { lora_adapter: 'survey-lora' }, sample: { max_entities: 2 } });
    const r = await stack.cli(['run', path]);
    expectOk(r);
    const runDir = runDirOf(r);
    const readme = readFileSync(join(runDir, 'README.txt'), 'utf8');
    expect(readme).toContain('Mode:          zero-shot, SFT adapter survey-lora\n');
    expect(readme).toContain('Adapter:       survey-lora\n');
    const metadata = JSON.parse(readFileSync(join(runDir, 'metadata.json'), 'utf8')) as { model: unknown };
    expect(metadata.model).toEqual({ id: 'sim/llm-8b', mode: 'zero-shot, SFT adapter survey-lora', adapter: 'survey-lora' });
    const [item] = itemFiles(join(runDir, 'groups')).filter((f) => !f.endsWith('/summary.txt'));
    expect(readFileSync(item, 'utf8')).toContain('(LoRA adapter survey-lora)');
    // The server counted the run's prompts under the adapter's own model name.
    const metrics = await (await fetch(stack.simulatorUrl.replace(/\/v1$/, '/metrics'))).text();
    const line = metrics.split('\n').find((l) => l.startsWith('vllm:prompt_tokens_total{model_name="survey-lora"}'));
    expect(Number(line?.split(' ').pop())).toBeGreaterThan(0);
  });
});
