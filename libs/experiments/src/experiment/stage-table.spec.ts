import { METHOD_SECTION, stagesOf, stageTableOf, type StartedFacts } from './stages';

const FACTS: StartedFacts = {
  method: 'llm_zero_shot',
  config: { method: 'llm_zero_shot', model: { id: 'm' }, prompt: { system: 's', user: 'u {profile}' }, labels: { mode: 'raw' }, sample: {}, split: {}, smoke: { enabled: true } },
  dataHashes: { profiles: 'p', responses: 'r', items: 'i', split: 's' },
  codeVersion: 'abc',
  smokeOnly: false,
};
const fewShot = (section: Record<string, unknown>): StartedFacts => ({ ...FACTS, method: 'llm_few_shot', config: { ...FACTS.config, method: 'llm_few_shot', llm_few_shot: section } });
const keyOf = (facts: StartedFacts, name: string) => stagesOf(facts).find((s) => s.name === name)!.key;

describe('stage tables from the registered methods', () => {
  it("given llm_zero_shot, when its table is made, then its model stages depend on the shared sections and the method's own (none for zero-shot)", () => {
    expect(stageTableOf('llm_zero_shot').find((s) => s.name === 'inference')!.params).toEqual(['model', 'prompt', 'profile', 'labels', 'sample', 'split', METHOD_SECTION]);
  });

  it("given llm_few_shot, when its section changes, then its model stages' keys change and scoring's reads change with them", () => {
    const a = fewShot({ k: 2, selection: 'random', seed: 0 });
    const b = fewShot({ k: 3, selection: 'random', seed: 0 });
    expect(keyOf(a, 'inference')).not.toBe(keyOf(b, 'inference'));
    expect(keyOf(a, 'smoke_inference')).not.toBe(keyOf(b, 'smoke_inference'));
    expect(keyOf(a, 'scoring')).not.toBe(keyOf(b, 'scoring'));
  });

  it('given an unregistered method, when its table is asked for, then the error lists the registered ones', () => {
    expect(() => stageTableOf('llm_one_shot')).toThrow("unknown method 'llm_one_shot'; registered methods: llm_zero_shot, llm_few_shot");
  });
});
