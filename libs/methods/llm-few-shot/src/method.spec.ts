import { promptsOf } from '@assay/methods/core';
import { parseExperimentConfig, requireModelSection } from '@assay/config';
import type { ItemDef } from '@assay/contracts';
import { entityOf, type Dataset, type Entity, type SplitFile } from '@assay/data';
import { buildEntityPrompts, loadChatTemplate } from '@assay/prompting';
import { llmFewShot } from './method';

const ITEMS: ItemDef[] = [
  { group: 'g1', item: 'q1', question: 'Do you agree?', min: 1, max: 5, kind: 'ordinal' },
  { group: 'g1', item: 'q2', question: 'Did you?', min: 0, max: 1, kind: 'binary' },
];
const entity = (id: string, age: number): Entity => entityOf(id, [['age', String(age)]]);
const ENTITIES = [entity('a', 20), entity('b', 30), entity('c', 40), entity('x', 21), entity('y', 39)];
const DATASET: Dataset = {
  featureNames: ['age'],
  entities: ENTITIES,
  observations: ENTITIES.flatMap((e, i) => ITEMS.map((it, j) => ({ entityId: e.entityId, group: it.group, item: it.item, value: (i + j) % 2, line: 2 + i * 2 + j }))),
  items: ITEMS,
  files: { profiles: 'p.csv', responses: 'r.csv', items: 'i.csv' },
};
const SPLIT: SplitFile = { train: ['a', 'b', 'c'], test: ['x', 'y'], seed: 1, test_fraction: 0.4, data_hash: 'h', created_by: 'test' };
const CONFIG = requireModelSection(parseExperimentConfig(
  {
    name: 't',
    method: 'llm_few_shot',
    llm_few_shot: { k: 2, selection: 'nearest' },
    data: { profiles: '/d/p.csv', responses: '/d/r.csv', items: '/d/i.csv', split: '/d/s.json' },
    model: { id: 'm', base_url: 'http://127.0.0.1:8000/v1' },
    output_root: '/out',
  },
  '/c/t.yaml',
));
const CHAT = loadChatTemplate('builtin:chatml');

const build = (settings: { k: number; selection: 'random' | 'nearest'; seed: number }) =>
  promptsOf(llmFewShot)({ config: CONFIG, settings, dataset: DATASET, split: SPLIT, profileView: null, chat: CHAT, entities: [ENTITIES[3], ENTITIES[4]], items: ITEMS });

describe('llm_few_shot buildPrompts', () => {
  it('given nearest selection, when built, then each test entity gets its k nearest train entities as examples, recorded with its prompts', () => {
    const built = build({ k: 2, selection: 'nearest', seed: 0 });
    expect(built.map((b) => [b.entityId, b.examples])).toEqual([
      ['x', ['a', 'b']],
      ['y', ['c', 'b']],
    ]);
  });

  it('given examples, when built, then they and the profile are in the prefix shared by every prompt of the entity, in order, with their true answers', () => {
    const [x] = build({ k: 2, selection: 'nearest', seed: 0 });
    expect(x.prefix).toContain("Example respondent 1:\nage: 20\nAnswers:\nIn study 'g1', question 'q1': 0\nIn study 'g1', question 'q2': 1\n\nExample respondent 2:\nage: 30");
    expect(x.prefix).toContain('The respondent to simulate:\nage: 21');
    expect(x.prefix.indexOf('Example respondent 2:')).toBeLessThan(x.prefix.indexOf('The respondent to simulate:'));
    for (const p of x.prompts) expect(p.suffix).not.toContain('Example respondent');
  });

  it('given the same items, when built, then the suffixes are those of zero-shot: only the part before the item differs', () => {
    const [x] = build({ k: 1, selection: 'random', seed: 3 });
    const zero = buildEntityPrompts(ENTITIES[3], ITEMS, CONFIG.prompt, CHAT);
    expect(x.prompts.map((p) => p.suffix)).toEqual(zero.prompts.map((p) => p.suffix));
    expect(x.prompts.map((p) => p.promptId)).toEqual(zero.prompts.map((p) => p.promptId));
  });

  it('given random selection and a seed, when built twice, then the examples are the same train entities, never a test entity', () => {
    const one = build({ k: 2, selection: 'random', seed: 9 });
    expect(build({ k: 2, selection: 'random', seed: 9 })).toEqual(one);
    for (const b of one) for (const id of b.examples ?? []) expect(SPLIT.train).toContain(id);
  });

  it('given k larger than the train split, when built, then the error names the key and the train size', () => {
    expect(() => build({ k: 4, selection: 'random', seed: 0 })).toThrow('llm_few_shot.k: 4 examples asked for, but the train split has only 3 entities to draw them from');
  });
});
