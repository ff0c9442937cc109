import { compareCodeUnits, type ItemDef, type Sample } from '@assay/contracts';
import { mulberry32 } from '@assay/data';
import { mean } from 'simple-statistics';
import { KNN_METHOD, MAX_CATEGORIES, TRAIN_MEAN_METHOD, knnFitter, learnEncoding, nearestNeighbourBaseline, neighbourRanking, trainMeanBaseline, type KnnMetric } from './baselines';
import { encodedEntities, featureTableOf, trainEntityIds } from './baseline-fit';

const items: ItemDef[] = [
  { group: 'g', item: 'o', question: '', min: 1, max: 5, kind: 'ordinal' },
  { group: 'g', item: 'b', question: '', min: 0, max: 1, kind: 'binary' },
  { group: 'g', item: 'z', question: '', min: 1, max: 5, kind: 'ordinal' },
];

function s(entityId: string, item: string, actual: number): Sample {
  return { entityId, group: 'g', item, actual };
}

const train = [s('t1', 'o', 1), s('t2', 'o', 2), s('t3', 'o', 4), s('t4', 'o', 5), s('t1', 'b', 1), s('t2', 'b', 0), s('t3', 'b', 1)];
const test = [s('x', 'z', 3), s('x', 'o', 3), s('x', 'b', 1)];

describe('trainMeanBaseline', () => {
  const preds = trainMeanBaseline({ trainSamples: train, testSamples: test, items });

  it('given train data, then ordinal items get the mean and binary items the majority class, sorted by item', () => {
    expect(preds.map((p) => [p.item, p.predicted, p.parseStatus, p.method])).toEqual([
      ['b', 1, 'ok', TRAIN_MEAN_METHOD], // 1, 0, 1 -> majority 1
      ['o', 3, 'ok', TRAIN_MEAN_METHOD], // (1 + 2 + 4 + 5) / 4 = 3
      ['z', null, 'inference_failure', TRAIN_MEAN_METHOD],
    ]);
    expect(preds[1].metadata).toEqual({ nTrain: 4, statistic: 'mean' });
  });

  it('given an item without train data, then the failure says why', () => {
    expect(preds[2].parseError).toBe('no train samples for item "z" in group "g"');
  });

  it('given a binary tie, then the smaller class wins', () => {
    const r = trainMeanBaseline({ trainSamples: [s('t1', 'b', 1), s('t2', 'b', 0)], testSamples: [s('x', 'b', 1)], items });
    expect(r[0].predicted).toBe(0);
  });

  it('given an entity in both splits, then it throws', () => {
    expect(() => trainMeanBaseline({ trainSamples: train, testSamples: [s('t1', 'z', 1)], items })).toThrow(/entities in both train and test samples: "t1"/);
  });
});

describe('nearestNeighbourBaseline', () => {
  const features = featureTableOf([
    ['t1', [['age', '20'], ['sex', 'f']]],
    ['t2', [['age', '30'], ['sex', 'm']]],
    ['t3', [['age', '40'], ['sex', 'f']]],
    ['t4', [['age', '50'], ['sex', 'm']]],
    ['x', [['age', '31'], ['sex', 'm']]],
  ]);
  // z-scores on train: age mean 35, population std sqrt((225+25+25+225)/4) = sqrt(125) ~ 11.18;
  // sex=f and sex=m dummies: mean 0.5, std 0.5 -> +-1.
  // x: age -0.358, f -1, m +1. Distances: t2 0.089, t4 1.699, t3 sqrt(0.805^2 + 8) 2.941, t1 sqrt(0.984^2 + 8) 2.995

  it('given k=2, then the prediction is the mean of the 2 nearest that answered the item', () => {
    const r = nearestNeighbourBaseline({ trainSamples: train, testSamples: test, items, features, k: 2 });
    const o = r.find((p) => p.item === 'o');
    expect(o).toMatchObject({ method: KNN_METHOD, predicted: 3.5, parseStatus: 'ok' }); // t2 = 2, t4 = 5
    expect(o?.metadata).toEqual({ k: 2, metric: 'euclidean', neighbours: ['t2', 't4'], neighbourAnswers: [2, 5], dimensions: 3 });
  });

  it('given fewer answers than k, then all candidates are used', () => {
    // only t1, t2, t3 answered b; by distance t2 (b=0), t3 (1), t1 (1) -> mean 2/3
    const r = nearestNeighbourBaseline({ trainSamples: train, testSamples: test, items, features, k: 5 });
    const b = r.find((p) => p.item === 'b');
    expect(b?.predicted).toBeCloseTo(2 / 3, 12);
    expect(b?.metadata.neighbours).toEqual(['t2', 't3', 't1']);
  });

  it('given an item no train entity answered, then it is an inference failure with a reason', () => {
    const r = nearestNeighbourBaseline({ trainSamples: train, testSamples: test, items, features });
    expect(r.find((p) => p.item === 'z')).toMatchObject({ parseStatus: 'inference_failure', parseError: 'no train entity answered item "z" in group "g"' });
  });

  it('given equal distances, then the smaller entity id wins', () => {
    const f = featureTableOf([['b', [['age', '40']]], ['a', [['age', '30']]], ['x', [['age', '35']]]]);
    const r = nearestNeighbourBaseline({ trainSamples: [s('b', 'o', 5), s('a', 'o', 1)], testSamples: [s('x', 'o', 3)], items, features: f, k: 1 });
    expect([r[0].predicted, r[0].metadata.neighbours]).toEqual([1, ['a']]);
  });

  it('given "NA" for a numeric feature, then it is imputed with the train mean', () => {
    // t1 age NA -> train mean (10 + 30) / 2 = 20, exactly x's age: t1 is at distance 0
    const f = featureTableOf([['t1', [['age', 'NA']]], ['t2', [['age', '10']]], ['t3', [['age', ' 30 ']]], ['x', [['age', '20']]]]);
    const r = nearestNeighbourBaseline({ trainSamples: [s('t1', 'o', 5), s('t2', 'o', 1), s('t3', 'o', 2)], testSamples: [s('x', 'o', 3)], items, features: f, k: 1 });
    expect([r[0].predicted, r[0].metadata.neighbours]).toEqual([5, ['t1']]);
  });

  it('given an entity without features, then it throws naming it', () => {
    expect(() => nearestNeighbourBaseline({ trainSamples: train, testSamples: [s('nobody', 'o', 3)], items, features })).toThrow('no features for entity "nobody"');
  });

  it('given only constant features, then it throws', () => {
    const f = featureTableOf([['t1', [['c', '1']]], ['t2', [['c', '1']]], ['x', [['c', '1']]]]);
    expect(() => nearestNeighbourBaseline({ trainSamples: [s('t1', 'o', 1), s('t2', 'o', 2)], testSamples: [s('x', 'o', 1)], items, features: f })).toThrow(/no usable feature/);
  });
});

describe('learnEncoding', () => {
  const m = (pairs: Array<[string, string]>) => new Map(pairs);

  it('given a missing numeric value, then it is imputed with the train mean', () => {
    // age: 10, 30, missing -> mean 20 fills the gap; values 10 30 20 -> mean 20, std sqrt(200/3)
    const dims = learnEncoding([m([['age', '10']]), m([['age', '30']]), m([])]);
    expect(dims.map((d) => [d.name, d.mu])).toEqual([['age', 20]]);
    expect(dims[0].sigma).toBeCloseTo(Math.sqrt(200 / 3), 12);
  });

  it('given a text column with more than MAX_CATEGORIES values, then it is ignored; with few, one-hot', () => {
    const rows = Array.from({ length: MAX_CATEGORIES + 1 }, (_, i) => m([['name', `person${i}`], ['city', i % 2 === 0 ? 'A' : 'B']]));
    expect(learnEncoding(rows).map((d) => d.name)).toEqual(['city=A', 'city=B']);
  });
});

describe('kNN rankings (computed once per test entity, the nearest few first)', () => {
  // Few distinct values, so many distances tie and the tie-break by id decides.
  const rand = mulberry32(11);
  const trainIds = Array.from({ length: 40 }, (_, i) => `t${String(i).padStart(2, '0')}`);
  const testIds = Array.from({ length: 12 }, (_, i) => `x${i}`);
  const features = featureTableOf([...trainIds, ...testIds].map((id): [string, Array<[string, string]>] => [id, ['a', 'b', 'c', 'd', 'e'].map((f) => [f, String(Math.floor(rand() * 3))])]));
  const sparseItems: ItemDef[] = [
    { group: 'g', item: 'dense', question: '', min: 1, max: 5, kind: 'ordinal' },
    { group: 'g', item: 'sparse', question: '', min: 0, max: 1, kind: 'binary' },
  ];
  // Everyone answers "dense"; a few far-apart train entities answer "sparse", so its walks run past the first few.
  const trainSamples = trainIds.flatMap((id, i) => [
    { entityId: id, group: 'g', item: 'dense', actual: 1 + Math.floor(rand() * 5) },
    ...(i % 9 === 0 ? [{ entityId: id, group: 'g', item: 'sparse', actual: i % 2 }] : []),
  ]);

  /** The ranking as kNN first made it: every train entity sorted by distance, ties by id. */
  function naivePredictions(k: number, metric: KnnMetric): unknown[] {
    const ids = trainEntityIds(trainSamples);
    const { vectorOf } = encodedEntities(features, ids, 'naive');
    const distance = (a: number[], b: number[]): number =>
      metric === 'euclidean' ? Math.sqrt(a.reduce((s, x, i) => s + (x - b[i]) ** 2, 0)) : a.reduce((s, x, i) => s + Math.abs(x - b[i]), 0);
    return testIds.flatMap((x) =>
      sparseItems.map((item) => {
        const answered = new Map(trainSamples.filter((t) => t.item === item.item).map((t) => [t.entityId, t.actual]));
        const neighbours = ids
          .map((id) => ({ id, d: distance(vectorOf(x), vectorOf(id)) }))
          .sort((a, b) => a.d - b.d || compareCodeUnits(a.id, b.id))
          .filter((c) => answered.has(c.id))
          .slice(0, k)
          .map((c) => c.id);
        const answers = neighbours.map((id) => answered.get(id) as number);
        return { value: mean([...answers].sort((a, b) => a - b)), neighbours };
      }),
    );
  }

  it.each([
    [1, 'euclidean'],
    [3, 'euclidean'],
    [5, 'manhattan'],
  ] as Array<[number, KnnMetric]>)('given k=%d (%s), when every test entity is asked every item twice, then the answers of the full sorted ranking, both times', (k, metric) => {
    const predictor = knnFitter(k, metric)({ trainSamples, items: sparseItems, features });
    const ask = (): unknown[] =>
      testIds.flatMap((x) =>
        sparseItems.map((item) => {
          const answer = predictor.predict(x, item);
          if ('error' in answer) throw new Error(answer.error);
          return { value: answer.value, neighbours: answer.metadata.neighbours };
        }),
      );
    const expected = naivePredictions(k, metric);
    expect(ask()).toEqual(expected);
    // Again, from the cached rankings (some now complete after the sparse item's walk).
    expect(ask()).toEqual(expected);
  });

  it('given a count below the number of train vectors, then the first of the full ranking, ties by position', () => {
    const train = [[0, 0], [1, 0], [0, 1], [1, 1], [0, 0], [2, 2], [1, 0]];
    for (const metric of ['euclidean', 'manhattan'] as const) {
      const nearest = neighbourRanking(train, metric);
      const full = Array.from(nearest([0, 0], train.length));
      expect(full).toEqual([0, 4, 1, 2, 6, 3, 5]);
      for (let count = 1; count < train.length; count++) expect(Array.from(nearest([0, 0], count))).toEqual(full.slice(0, count));
    }
  });
});
