import { entityOf, type Entity, type ProfileView } from '@assay/data';
import { assertExamplesFromTrain, ExampleSelectionError, FewShotSection, selectExamples } from './index';

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(2, '0')}`);
const TRAIN = ids('t', 30);
const TEST = ids('x', 8);
// age spreads the entities along a line; region is noise the view can hide.
const entity = (id: string, age: number, region: string): Entity => entityOf(id, [['age', String(age)], ['region', region]]);
const ENTITIES: Entity[] = [
  ...TRAIN.map((id, i) => entity(id, 20 + 2 * i, i % 2 === 0 ? 'north' : 'south')),
  ...TEST.map((id, i) => entity(id, 21 + 7 * i, i % 2 === 0 ? 'south' : 'north')),
];
const AGE_ONLY: ProfileView = { columns: [{ name: 'age', index: 0, heading: 'Age' }] };

describe('selectExamples', () => {
  it.each(['random', 'nearest'] as const)('given %s selection, when selected, then every entity gets k distinct train examples and never a test entity', (selection) => {
    const chosen = selectExamples({ testIds: TEST, trainIds: TRAIN, entities: ENTITIES, view: null, settings: { k: 4, selection, seed: 1 } });
    expect([...chosen.keys()]).toEqual(TEST);
    for (const examples of chosen.values()) {
      expect(examples).toHaveLength(4);
      expect(new Set(examples).size).toBe(4);
      for (const id of examples) expect(TRAIN).toContain(id);
    }
  });

  it('given random selection, when selected twice with one seed, then the examples are the same; another seed gives others', () => {
    const run = (seed: number, testIds = TEST) => selectExamples({ testIds, trainIds: [...TRAIN].reverse(), entities: ENTITIES, view: null, settings: { k: 5, selection: 'random', seed } });
    expect(run(7)).toEqual(run(7));
    expect(run(8)).not.toEqual(run(7));
    // An entity's examples do not depend on which other entities are planned.
    expect(run(7, [TEST[3]]).get(TEST[3])).toEqual(run(7).get(TEST[3]));
    // Different entities get different draws.
    expect(new Set([...run(7).values()].map((e) => e.join(','))).size).toBeGreaterThan(1);
  });

  it('given nearest selection over an age-only view, when selected, then the examples are the train entities of closest age, ties to the smaller id', () => {
    // x00 has age 21: train ages 20 (t00) and 22 (t01) are both 1 away, then 24 (t02), 26 (t03).
    const chosen = selectExamples({ testIds: ['x00'], trainIds: TRAIN, entities: ENTITIES, view: AGE_ONLY, settings: { k: 3, selection: 'nearest', seed: 0 } });
    expect(chosen.get('x00')).toEqual(['t00', 't01', 't02']);
  });

  it('given k larger than the train split, when selected, then the error names llm_few_shot.k and the train size', () => {
    expect(() => selectExamples({ testIds: TEST, trainIds: TRAIN.slice(0, 3), entities: ENTITIES, view: null, settings: { k: 4, selection: 'random', seed: 0 } })).toThrow(
      'llm_few_shot.k: 4 examples asked for, but the train split has only 3 entities to draw them from',
    );
  });

  it('given a planted split with a test entity also listed as train, when selected, then it is refused before any example is drawn', () => {
    expect(() => selectExamples({ testIds: TEST, trainIds: [...TRAIN, TEST[2]], entities: ENTITIES, view: null, settings: { k: 2, selection: 'random', seed: 0 } })).toThrow(
      `1 test entit(y/ies) are also in the train split, so they could be their own example: "${TEST[2]}"`,
    );
  });
});

describe('assertExamplesFromTrain (the run-time leakage check)', () => {
  const split = { train: ['t1', 't2', 't3'], test: ['x1', 'x2'] };

  it('given examples from the train split only, when checked, then it passes', () => {
    expect(() => assertExamplesFromTrain(new Map([['x1', ['t1', 't3']], ['x2', ['t2']]]), split)).not.toThrow();
  });

  it.each([
    ['a test entity', ['t1', 'x2'], 'example "x2" for entity "x1" is a test entity'],
    ['the entity itself', ['x1'], 'example "x1" for entity "x1" is the entity itself'],
    ['an id outside both splits', ['t9'], 'example "t9" for entity "x1" is not in the train split'],
    ['an example twice', ['t1', 't1'], 'example "t1" for entity "x1" is given twice'],
  ])('given %s as an example, when checked, then it fails naming the entity and the example', (_name, examples, expected) => {
    const check = () => assertExamplesFromTrain(new Map([['x1', examples]]), split);
    expect(check).toThrow(ExampleSelectionError);
    expect(check).toThrow(`few-shot leakage check: ${expected}`);
  });
});

describe('FewShotSection (the llm_few_shot config section)', () => {
  it('given k only, when parsed, then selection random and seed 0 are the defaults; unknown keys and k < 1 are refused with their path', () => {
    expect(FewShotSection.parse({ k: 4 })).toEqual({ k: 4, selection: 'random', seed: 0 });
    const unknown = FewShotSection.safeParse({ k: 4, selektion: 'nearest' });
    expect(unknown.success).toBe(false);
    expect(JSON.stringify(unknown.error?.issues)).toContain('selektion');
    const zero = FewShotSection.safeParse({ k: 0 });
    expect(zero.error?.issues[0].path).toEqual(['k']);
  });
});
