import { BUILTIN_METHODS } from '@assay/methods/registry';
import { recordsAfterEditing } from '../../../methods/core/src/test-helpers';
import { stagesOf, type StartedFacts } from './stages';

const CONFIG = {
  name: 'a',
  method: 'llm_zero_shot',
  purpose: 'first try',
  data: { profiles: '/data/p.csv', responses: '/data/r.csv', items: '/data/i.csv', split: '/data/split.json' },
  split: { seed: 42, test_fraction: 0.2 },
  sample: { max_entities: null, groups: null },
  labels: { mode: 'raw' },
  model: {
    id: 'qwen',
    base_url: 'http://gpu-1:8000/v1',
    api_key_env: null,
    chat_template: 'builtin:chatml',
    max_model_len: null,
    temperature: 0,
    max_tokens: 16,
    seed: 0,
    stop: [],
    guided_json: false,
    lora_adapter: null,
    request_timeout_s: 60,
    max_retries: 4,
    concurrency: 16,
    max_failure_share: 0.05,
  },
  prompt: { system: 'You answer surveys.', user: '{profile}\n{question}' },
  smoke: { enabled: true, examples: 4 },
  output_root: '/out',
};

const START: StartedFacts = {
  method: 'llm_zero_shot',
  config: CONFIG,
  dataHashes: { profiles: 'p', responses: 'r', items: 'i', split: 's' },
  codeVersion: 'abc1234',
  smokeOnly: false,
};

type Change = (s: StartedFacts) => StartedFacts;
const withConfig = (patch: Record<string, unknown>): Change => (s) => ({ ...s, config: { ...s.config, ...patch } });
const withModel = (patch: Record<string, unknown>): Change => (s) => ({ ...s, config: { ...s.config, model: { ...CONFIG.model, ...patch } } });
const keyOf = (started: StartedFacts, stage: string) => stagesOf(started).find((s) => s.name === stage)!.key;

describe('stage keys', () => {
  describe('given a zero-shot experiment, when only where or as what it runs changes, then no stage key changes', () => {
    const same: Array<[string, Change]> = [
      ['the model server', withModel({ base_url: ['http://gpu-2:8000/v1', 'http://gpu-3:8000/v1'] })],
      ['the API key variable', withModel({ api_key_env: 'VLLM_KEY' })],
      ['concurrency', withModel({ concurrency: 64 })],
      ['timeouts and retries', withModel({ request_timeout_s: 5, max_retries: 0 })],
      ['the failure share', withModel({ max_failure_share: 0.5 })],
      ['the name and purpose', withConfig({ name: 'b', purpose: 'same thing, elsewhere' })],
      ['the output root and data paths', withConfig({ output_root: '/elsewhere', data: { ...CONFIG.data, profiles: '/moved/p.csv' } })],
      ['the repository commit', (s) => ({ ...s, codeVersion: 'def5678-dirty' })],
    ];
    it.each(same)('%s', (_what, change) => {
      const before = stagesOf(START).map((s) => s.key);
      expect(stagesOf(change(START)).map((s) => s.key)).toEqual(before);
    });
  });

  describe('given a zero-shot experiment, when what the model is asked or how it answers changes, then the inference keys change', () => {
    const differ: Array<[string, Change]> = [
      ['the model', withModel({ id: 'llama' })],
      ['the LoRA adapter', withModel({ lora_adapter: 'survey-sft' })],
      ['sampling', withModel({ temperature: 0.7 })],
      ['max_tokens', withModel({ max_tokens: 32 })],
      ['the sampling seed', withModel({ seed: 1 })],
      ['the chat template', withModel({ chat_template: 'builtin:llama3' })],
      ['the user template', withConfig({ prompt: { ...CONFIG.prompt, user: '{profile}\nQ: {question}' } })],
      ['the profile view', withConfig({ profile: { features: { include: ['age', 'gender'] } } })],
      ['the labels', withConfig({ labels: { mode: 'binary' } })],
      ['the sample', withConfig({ sample: { max_entities: 10, groups: null } })],
      ['a data file', (s) => ({ ...s, dataHashes: { ...s.dataHashes, responses: 'r2' } })],
      ['the split file', (s) => ({ ...s, dataHashes: { ...s.dataHashes, split: 's2' } })],
      ['the method', (s) => ({ ...s, method: 'llm_few_shot' })],
    ];
    it.each(differ)('%s', (_what, change) => {
      const changed = change(START);
      const started = changed.method === START.method ? changed : { ...START, method: changed.method };
      expect(keyOf(started, 'inference')).not.toBe(keyOf(START, 'inference'));
      expect(keyOf(started, 'smoke_inference')).not.toBe(keyOf(START, 'smoke_inference'));
    });
  });

  it('given a change of the inference stage, then the stages that read it (scoring, report) change key too', () => {
    const changed = withModel({ temperature: 1 })(START);
    expect(keyOf(changed, 'scoring')).not.toBe(keyOf(START, 'scoring'));
    expect(keyOf(changed, 'report')).not.toBe(keyOf(START, 'report'));
  });

  it('given a change of the smoke settings only, then the full inference key stays and the smoke key changes', () => {
    const changed = withConfig({ smoke: { enabled: true, examples: 8 } })(START);
    expect(keyOf(changed, 'inference')).toBe(keyOf(START, 'inference'));
    expect(keyOf(changed, 'smoke_inference')).not.toBe(keyOf(START, 'smoke_inference'));
  });

  it('given the method\'s own section, then it is part of the key', () => {
    const withSection = withConfig({ llm_zero_shot: { note: 'x' } })(START);
    expect(keyOf(withSection, 'inference')).not.toBe(keyOf(START, 'inference'));
  });

  describe('given an edit of one method\'s code (re-recorded in a scratch copy of the sources)', () => {
    const fewShotStart: StartedFacts = { ...START, method: 'llm_few_shot', config: { ...CONFIG, method: 'llm_few_shot', llm_few_shot: { k: 2, selection: 'random', seed: 0 } } };
    const after = recordsAfterEditing('libs/methods/llm-few-shot/src/layout.ts');

    it('then a zero-shot experiment keeps every stage key', () => {
      expect(stagesOf(START, after).map((s) => s.key)).toEqual(stagesOf(START).map((s) => s.key));
    });

    it('then a few-shot experiment gets new keys for its model stages and the stages reading them', () => {
      const before = stagesOf(fewShotStart);
      const moved = stagesOf(fewShotStart, after).filter((s, i) => s.key !== before[i].key).map((s) => s.name);
      expect(moved).toEqual(['smoke_inference', 'inference', 'scoring', 'report']);
    });
  });

  it('given every built-in method, then each of its stages has a key (its code version is recorded)', () => {
    for (const method of BUILTIN_METHODS) {
      const { model: _model, ...noModel } = CONFIG;
      const config = method.buildPrompts ? { ...CONFIG, method: method.name } : { ...noModel, method: method.name };
      expect(stagesOf({ ...START, method: method.name, config }).length).toBeGreaterThan(0);
    }
  });
});
