import { ExperimentConfig } from '@assay/config';
import type { ItemDef } from '@assay/contracts';
import { entityOf, type Dataset } from '@assay/data';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyLabels, binarize, LabelError, median, medianSplits } from './labels';
import { planBatches, prepareExperiment, StageError } from './prepare';

const item = (name: string, kind: ItemDef['kind'], min: number, max: number): ItemDef => ({ group: 'g', item: name, question: `Question ${name}?`, min, max, kind });

/** Observations as [entity, item, value]; entities t* are train, x* test. */
function dataset(items: ItemDef[], rows: Array<[string, string, number]>): Dataset {
  const ids = [...new Set(rows.map(([e]) => e))];
  return {
    featureNames: ['age'],
    entities: ids.map((entityId) => entityOf(entityId, [['age', '40']])),
    observations: rows.map(([entityId, name, value], i) => ({ entityId, group: 'g', item: name, value, line: i + 2 })),
    items,
    files: { profiles: 'p.csv', responses: 'r.csv', items: 'i.csv' },
  };
}
const split = { train: ['t1', 't2', 't3', 't4', 't5'] };
const valuesOf = (d: Dataset, name: string) => Object.fromEntries([...d.observations].filter((o) => o.item === name).map((o) => [o.entityId, o.value]));

describe('median', () => {
  it('is the middle value of an odd count and the mean of the two middle values of an even count', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 2, 5])).toBe(3);
    expect(median([10, 20])).toBe(15);
    expect(() => median([])).toThrow();
  });
});

describe('binarize (labels.mode binary: median split on the train split)', () => {
  // ord (1..5): train 1,2,4,5 → median (2+4)/2 = 3; test 3 (tie) → 0, test 4 → 1.
  // cont (0..100): train 10,20,30 → median 20; train 20 (tie) → 0; test 25 → 1, test 20 → 0.
  // ties (1..7): train 2,3,3,3,4 → median 3: only the 4 is above it.
  // bin (0/1): train 1,1,1,0 → already binary, kept.
  const items = [item('ord', 'ordinal', 1, 5), item('cont', 'continuous', 0, 100), item('ties', 'ordinal', 1, 7), item('bin', 'binary', 0, 1)];
  const rows: Array<[string, string, number]> = [
    ['t1', 'ord', 1], ['t2', 'ord', 2], ['t3', 'ord', 4], ['t4', 'ord', 5], ['x1', 'ord', 3], ['x2', 'ord', 4],
    ['t1', 'cont', 10], ['t2', 'cont', 20], ['t3', 'cont', 30], ['x1', 'cont', 25], ['x2', 'cont', 20],
    ['t1', 'ties', 2], ['t2', 'ties', 3], ['t3', 'ties', 3], ['t4', 'ties', 3], ['t5', 'ties', 4], ['x1', 'ties', 3], ['x2', 'ties', 7],
    ['t1', 'bin', 1], ['t2', 'bin', 1], ['t3', 'bin', 1], ['t4', 'bin', 0], ['x1', 'bin', 0], ['x2', 'bin', 1],
  ];

  it('computes each item\'s median from train entities only', () => {
    expect(medianSplits(dataset(items, rows), split)).toEqual([
      { group: 'g', item: 'ord', median: 3, nTrain: 4, positivesTrain: 2 },
      { group: 'g', item: 'cont', median: 20, nTrain: 3, positivesTrain: 1 },
      { group: 'g', item: 'ties', median: 3, nTrain: 5, positivesTrain: 1 },
      { group: 'g', item: 'bin', median: null, nTrain: 4, positivesTrain: 3 },
    ]);
  });

  it('labels value > median as 1 and everything else (ties included) as 0, train and test alike', () => {
    const b = binarize(dataset(items, rows), split);
    expect(valuesOf(b, 'ord')).toEqual({ t1: 0, t2: 0, t3: 1, t4: 1, x1: 0, x2: 1 });
    expect(valuesOf(b, 'cont')).toEqual({ t1: 0, t2: 0, t3: 1, x1: 1, x2: 0 });
    expect(valuesOf(b, 'ties')).toEqual({ t1: 0, t2: 0, t3: 0, t4: 0, t5: 1, x1: 0, x2: 1 });
    expect(valuesOf(b, 'bin')).toEqual({ t1: 1, t2: 1, t3: 1, t4: 0, x1: 0, x2: 1 });
  });

  it('makes every item binary 0..1 and keeps its question, entities and observation order', () => {
    const d = dataset(items, rows);
    const b = binarize(d, split);
    expect(b.items).toEqual(items.map((i) => ({ group: 'g', item: i.item, question: i.question, min: 0, max: 1, kind: 'binary' })));
    expect(b.entities).toBe(d.entities);
    expect([...b.observations].map((o) => [o.entityId, o.item, o.line])).toEqual([...d.observations].map((o) => [o.entityId, o.item, o.line]));
  });

  it('is pure: the input dataset is not modified', () => {
    const d = dataset(items, rows);
    const before = JSON.stringify(d);
    binarize(d, split);
    expect(JSON.stringify(d)).toBe(before);
  });

  it('test values never move the threshold (no leakage from the test split)', () => {
    const extreme = rows.map(([e, i, v]): [string, string, number] => [e, i, e.startsWith('x') && i === 'ord' ? 5 : v]);
    expect(medianSplits(dataset(items, extreme), split)[0].median).toBe(3);
  });

  it('refuses an item whose train values are constant, naming it', () => {
    const d = dataset([item('flat', 'ordinal', 1, 5)], [['t1', 'flat', 4], ['t2', 'flat', 4], ['t3', 'flat', 4], ['x1', 'flat', 2]]);
    expect(() => binarize(d, split)).toThrow(LabelError);
    expect(() => binarize(d, split)).toThrow(/item "flat" of group "g": every train value is 4/);
  });

  it('refuses an item whose median is its largest train value (every label would be 0), naming it', () => {
    const d = dataset([item('top', 'ordinal', 1, 5)], [['t1', 'top', 1], ['t2', 'top', 5], ['t3', 'top', 5]]);
    expect(() => binarize(d, split)).toThrow(/item "top" of group "g": the train median is 5, the largest train value/);
  });

  it('refuses an item without train observations, naming it', () => {
    const d = dataset([item('ord', 'ordinal', 1, 5), item('testonly', 'ordinal', 1, 5)], [['t1', 'ord', 1], ['t2', 'ord', 3], ['x1', 'testonly', 2]]);
    expect(() => binarize(d, split)).toThrow(/item "testonly" of group "g" has no train observations/);
  });
});

describe('applyLabels', () => {
  it('raw keeps the dataset as it is; binary median-splits it', () => {
    const d = dataset([item('ord', 'ordinal', 1, 5)], [['t1', 'ord', 1], ['t2', 'ord', 5], ['x1', 'ord', 4]]);
    expect(applyLabels('raw', d, split)).toBe(d);
    expect(valuesOf(applyLabels('binary', d, split), 'ord')).toEqual({ t1: 0, t2: 1, x1: 1 });
  });
});

describe('prepareExperiment with labels.mode binary (the sample dataset)', () => {
  const root = join(__dirname, '..', '..', '..', '..');
  const data = join(root, 'data', 'sample');
  const config = (mode: 'raw' | 'binary') =>
    ExperimentConfig.parse({
      name: 'labels-test',
      method: 'llm_zero_shot',
      data: { profiles: join(data, 'profiles.csv'), responses: join(data, 'responses.csv'), items: join(data, 'items.csv'), split: join(data, 'split.json') },
      model: { id: 'sim/llm-8b', base_url: 'http://127.0.0.1:9/v1' },
      labels: { mode },
      output_root: '/tmp/unused',
    });

  it('asks 0/1 questions and carries 0/1 ground truth: above the train median is 1', async () => {
    const raw = await prepareExperiment(config('raw'), 'test');
    const binary = await prepareExperiment(config('binary'), 'test');
    expect(binary.identity.identity).not.toBe(raw.identity.identity);
    expect(binary.dataset.items.every((i) => i.kind === 'binary' && i.min === 0 && i.max === 1)).toBe(true);

    // Hand-computed from data/sample: the train values of study_1/q2 (1..5) have median 3.
    const split = JSON.parse(readFileSync(join(data, 'split.json'), 'utf8')) as { train: string[]; test: string[] };
    const rows = readFileSync(join(data, 'responses.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
    const q2 = rows.filter(([e, g, i, v]) => split.train.includes(e) && g === 'study_1' && i === 'q2' && v !== '').map(([, , , v]) => Number(v));
    expect(median(q2)).toBe(3);

    const rawTruth = new Map(planBatches(raw).flatMap((b) => b.prompts.map((p) => [`${b.entityId}|${p.group}|${p.item}`, p.actual])));
    const batches = planBatches(binary);
    const prompts = batches.flatMap((b) => b.prompts.map((p) => ({ ...p, entityId: b.entityId, text: b.prefix + p.suffix })));
    expect(prompts.length).toBe(rawTruth.size);
    expect(new Set(prompts.map((p) => p.actual))).toEqual(new Set([0, 1]));
    for (const p of prompts.filter((x) => x.group === 'study_1' && x.item === 'q2')) {
      expect(p.actual).toBe(rawTruth.get(`${p.entityId}|study_1|q2`)! > 3 ? 1 : 0);
      expect(p.text).toMatch(/between 0 and 1/);
    }
  });

  it('an item that cannot be split is a preflight failure naming the item, before any model call', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'assay-labels-'));
    const ids = Array.from({ length: 10 }, (_, i) => `e${i}`);
    writeFileSync(join(dir, 'profiles.csv'), `entity_id,age\n${ids.map((e, i) => `${e},${20 + i}`).join('\n')}\n`);
    writeFileSync(join(dir, 'items.csv'), 'group,item,question,min,max,kind\ns,varied,How much?,1,5,ordinal\ns,flat,How often?,1,5,ordinal\n');
    writeFileSync(join(dir, 'responses.csv'), `entity_id,group,item,value\n${ids.map((e, i) => `${e},s,varied,${1 + (i % 5)}\n${e},s,flat,3`).join('\n')}\n`);
    const c = ExperimentConfig.parse({
      ...config('binary'),
      data: { profiles: join(dir, 'profiles.csv'), responses: join(dir, 'responses.csv'), items: join(dir, 'items.csv'), split: join(dir, 'split.json') },
    });
    const error = await prepareExperiment(c, 'test').then(
      () => null,
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(StageError);
    expect(error).toMatchObject({ stage: 'preflight', message: 'labels.mode binary: item "flat" of group "s": every train value is 3 (8 train observations), so a median split cannot separate anyone' });
    // The same data in raw mode is fine.
    await expect(prepareExperiment({ ...c, labels: { mode: 'raw' } }, 'test')).resolves.toBeDefined();
  });
});
