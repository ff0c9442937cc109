import { promptsOf } from '@assay/methods/core';
import { parseExperimentConfig, requireModelSection } from '@assay/config';
import type { ItemDef } from '@assay/contracts';
import { entityOf, type Dataset, type Entity, type ProfileView, type SplitFile } from '@assay/data';
import { buildEntityPrompts, loadChatTemplate } from '@assay/prompting';
import { llmZeroShot } from './method';

const ITEMS: ItemDef[] = [
  { group: 'g1', item: 'q1', question: 'Do you agree?', min: 1, max: 5, kind: 'ordinal' },
  { group: 'g2', item: 'q2', question: 'Did you?', min: 0, max: 1, kind: 'binary' },
];
const ENTITIES: Entity[] = [
  entityOf('x', [['age', '21'], ['f_017', '4']]),
  entityOf('y', [['age', '39'], ['f_017', '2']]),
];
const DATASET: Dataset = { featureNames: ['age', 'f_017'], entities: ENTITIES, observations: [], items: ITEMS, files: { profiles: 'p.csv', responses: 'r.csv', items: 'i.csv' } };
const SPLIT: SplitFile = { train: [], test: ['x', 'y'], seed: 1, test_fraction: 1, data_hash: 'h', created_by: 'test' };
const CONFIG = requireModelSection(
  parseExperimentConfig(
    { name: 't', method: 'llm_zero_shot', data: { profiles: '/d/p.csv', responses: '/d/r.csv', items: '/d/i.csv', split: '/d/s.json' }, model: { id: 'm', base_url: 'http://127.0.0.1:8000/v1' }, output_root: '/out' },
    '/c/t.yaml',
  ),
);
const CHAT = loadChatTemplate('builtin:chatml');
const build = (profileView: ProfileView | null) => promptsOf(llmZeroShot)({ config: CONFIG, settings: null, dataset: DATASET, split: SPLIT, profileView, chat: CHAT, entities: ENTITIES, items: ITEMS });

describe('llm_zero_shot buildPrompts', () => {
  it('given entities and items, when built, then each entity has one prefix (system prompt and whole profile) shared by all its prompts, each prompt exactly the rendered chat text', () => {
    const built = build(null);
    expect(built.map((b) => b.entityId)).toEqual(['x', 'y']);
    for (const [i, b] of built.entries()) {
      const exact = buildEntityPrompts(ENTITIES[i], ITEMS, CONFIG.prompt, CHAT);
      expect(b.prefix).toBe(exact.prefix);
      expect(b.prompts.map((p) => b.prefix + p.suffix)).toEqual(exact.prompts.map((p) => exact.prefix + p.suffix));
      expect(b.prefix).toContain(`age: ${ENTITIES[i].values[0]}\nf_017: ${ENTITIES[i].values[1]}`);
      for (const p of b.prompts) expect(p.suffix).not.toContain('age:');
      expect(b.examples).toBeUndefined();
    }
  });

  it('given a profile view with a codebook heading, when built, then the prefix shows "Trust in science (1-5): 4" and only the viewed columns', () => {
    const view: ProfileView = { columns: [{ name: 'f_017', index: 1, heading: 'Trust in science (1-5)' }] };
    const [x] = build(view);
    expect(x.prefix).toContain('Trust in science (1-5): 4');
    expect(x.prefix).not.toContain('age: 21');
  });
});
