import { parseExperimentConfig, requireModelSection, type ExperimentConfig } from '@assay/config';
import { minimalRaw } from '../../../config/src/test-helpers';
import { startSimulator, type RunningSimulator } from '../../../testing/src/simulator';
import { longestPrompt } from './plan-pages';
import { checkLongestPrompt, checkModelServer, countTokens } from './preflight';
import type { PlannedBatch } from './prepare';

/** Pre-flight over a list of replicas: every one answers and serves the same model with the same max_model_len. */

const MODEL = 'sim/llm-8b';
const sims: RunningSimulator[] = [];
afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

async function sim(id = MODEL, maxModelLen = 8192): Promise<RunningSimulator> {
  const s = await startSimulator({ port: 0, models: [{ id, maxModelLen }] });
  sims.push(s);
  return s;
}

function config(baseUrl: string | string[]): ExperimentConfig {
  const raw = minimalRaw();
  return requireModelSection(parseExperimentConfig({ ...raw, model: { id: MODEL, base_url: baseUrl } }, 'test.yaml'));
}

describe('checkModelServer over replicas', () => {
  it('given three replicas of one model, when checked, then their common max_model_len', async () => {
    const urls = [(await sim()).url, (await sim()).url, (await sim()).url];
    await expect(checkModelServer(config(urls))).resolves.toEqual({ served: [MODEL], maxModelLen: 8192 });
  });

  it('given a replica serving another model, when checked, then an error naming that replica', async () => {
    const good = await sim();
    const odd = await sim('other/model');
    await expect(checkModelServer(config([good.url, odd.url]))).rejects.toThrow(`model.id: '${MODEL}' is not served by model.base_url replica 2 of 2 (${odd.url}); it serves: other/model`);
  });

  it('given replicas with different max_model_len, when checked, then an error listing what each says', async () => {
    const a = await sim(MODEL, 8192);
    const b = await sim(MODEL, 4096);
    await expect(checkModelServer(config([a.url, b.url]))).rejects.toThrow(
      `model.base_url: the replicas do not serve the same max_model_len: model.base_url replica 1 of 2 (${a.url}) says 8192; model.base_url replica 2 of 2 (${b.url}) says 4096`,
    );
  });

  it('given an unreachable replica, when checked, then an error naming it before any call', async () => {
    const good = await sim();
    const gone = await startSimulator({ port: 0, models: [{ id: MODEL, maxModelLen: 8192 }] });
    await gone.close();
    await expect(checkModelServer(config([good.url, gone.url]))).rejects.toThrow(
      new RegExp(`^model\\.base_url replica 2 of 2 \\(${gone.url.replace(/[.]/g, '\\.')}\\): ${gone.url.replace(/[.]/g, '\\.')}/models does not answer \\(ECONNREFUSED\\)`),
    );
    expect(good.stats().requests).toBe(0);
  });

  it('given the same replica listed twice, when the config is parsed, then a config error', () => {
    expect(() => config(['http://a:1/v1', 'http://a:1/v1/'])).toThrow('lists the same replica twice');
  });
});

describe('countTokens (pre-flight)', () => {
  it('given a replica, when counting, then the count by the server tokenizer', async () => {
    const s = await sim();
    await expect(countTokens(config(s.url), 'hello world')).resolves.toBeGreaterThan(0);
  });
});

describe('checkLongestPrompt (pre-flight, e.g. few-shot examples in the prefix)', () => {
  const batch = (entityId: string, prefix: string): PlannedBatch => ({
    batchId: `b-${entityId}`,
    entityId,
    prefix,
    prompts: [{ promptId: `p-${entityId}`, group: 'g', item: 'q1', suffix: 'Question q1: answer 1-5.', actual: 3 }],
  });
  // One entity's prefix carries k worked examples (profiles and answers): it is the longest prompt.
  const examples = Array.from({ length: 4 }, (_, i) => `Example ${i + 1}:\n${Array.from({ length: 40 }, (__, f) => `f_${f}: ${f % 5}`).join('\n')}\nAnswers: q1=3`).join('\n\n');
  const batches = [batch('short', 'Profile:\nage: 30\n'), batch('with-examples', `${examples}\n\nProfile:\nage: 41\n`)];

  it('given a server whose max_model_len the longest prompt exceeds, when checked, then the run is refused before any call, naming the entity, the item and the token counts', async () => {
    const s = await sim(MODEL, 256);
    const c = config(s.url);
    await expect(checkLongestPrompt(c, await checkModelServer(c), longestPrompt(batches)!)).rejects.toThrow(/the longest prompt \(entity "with-examples", item "q1"\) has \d+ tokens; with model.max_tokens \d+ it exceeds max_model_len 256/);
  });

  it('given a server whose context holds the longest prompt, when checked, then it passes without a warning', async () => {
    const s = await sim(MODEL, 32768);
    const c = config(s.url);
    await expect(checkLongestPrompt(c, await checkModelServer(c), longestPrompt(batches)!)).resolves.toEqual([]);
  });
});
