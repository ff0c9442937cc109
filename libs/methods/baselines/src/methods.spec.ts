import type { ItemDef, Sample } from '@assay/contracts';
import { featureTableOf, linearBaseline, predictAll, type BaselinePredictor, type FeatureTable } from '@assay/evaluation';
import { checkMethod, methodUsesModel } from '@assay/methods/core';
import { baselineKnn, baselineLinear, baselineMajority, baselineTrainMean, KnnSection } from './methods';

const items: ItemDef[] = [
  { group: 'g', item: 'o', question: '', min: 1, max: 5, kind: 'ordinal' },
  { group: 'g', item: 'b', question: '', min: 0, max: 1, kind: 'binary' },
];
const s = (entityId: string, item: string, actual: number): Sample => ({ entityId, group: 'g', item, actual });
const train = [s('t1', 'o', 1), s('t2', 'o', 2), s('t3', 'o', 2), s('t4', 'o', 5), s('t1', 'b', 1), s('t2', 'b', 0), s('t3', 'b', 1), s('t4', 'b', 0)];
const test = [s('x', 'o', 3), s('x', 'b', 1)];
const features: FeatureTable = featureTableOf([
  ['t1', [['age', '20'], ['region', 'n']]],
  ['t2', [['age', '30'], ['region', 's']]],
  ['t3', [['age', '40'], ['region', 'n']]],
  ['t4', [['age', '60'], ['region', 's']]],
  ['x', [['age', '35'], ['region', 'n']]],
]);
const data = { trainSamples: train, items, features };

async function predict(predictor: BaselinePredictor | Promise<BaselinePredictor>, method: string) {
  return predictAll(method, await predictor, test, items);
}

describe('baseline methods', () => {
  it('given the four baselines, then each is a valid fitted method with one fit stage and no model', () => {
    for (const m of [baselineTrainMean, baselineMajority, baselineKnn, baselineLinear]) {
      expect(() => checkMethod(m, 'spec')).not.toThrow();
      expect(methodUsesModel(m)).toBe(false);
      expect(m.stages.map((st) => st.kind)).toEqual(['fit']);
      expect(m.buildPrompts).toBeUndefined();
    }
  });

  it('given train answers, when baseline_train_mean fits, then it predicts the item mean (binary: majority, a tie to the smaller) with n', async () => {
    const [b, o] = await predict(baselineTrainMean.fit!({ settings: null, ...data }), 'baseline_train_mean');
    expect(o).toMatchObject({ item: 'o', predicted: 2.5, metadata: { nTrain: 4, statistic: 'mean' } });
    expect(b).toMatchObject({ item: 'b', predicted: 0, metadata: { nTrain: 4, statistic: 'majority' } });
  });

  it('given train answers with a tie, when baseline_majority fits, then the most frequent answer wins and a tie goes to the smaller value, whatever the order', async () => {
    const [, o] = await predict(baselineMajority.fit!({ settings: null, ...data }), 'baseline_majority');
    expect(o).toMatchObject({ predicted: 2, metadata: { nTrain: 4, votes: 2 } });
    const tie = [s('t1', 'o', 4), s('t2', 'o', 3), s('t3', 'o', 3), s('t4', 'o', 4)];
    for (const order of [tie, [...tie].reverse()]) {
      const [, again] = await predict(baselineMajority.fit!({ settings: null, trainSamples: [...order, ...train.filter((t) => t.item === 'b')], items, features }), 'baseline_majority');
      expect(again).toMatchObject({ predicted: 3, metadata: { votes: 2 } });
    }
  });

  it('given k=2, when baseline_knn fits, then it predicts the mean of the 2 nearest train entities and records their ids and answers', async () => {
    const settings = KnnSection.parse({ k: 2 });
    expect(settings).toEqual({ k: 2, metric: 'euclidean' });
    const [, o] = await predict(baselineKnn.fit!({ settings, ...data }), 'baseline_knn');
    // x (35, n): t3 (40, n) is nearest, then t2 (30, s) or t1 (20, n) by the encoded distance.
    expect(o.metadata).toMatchObject({ k: 2, metric: 'euclidean' });
    const { neighbours, neighbourAnswers } = o.metadata as { neighbours: string[]; neighbourAnswers: number[] };
    expect(neighbours).toHaveLength(2);
    expect(neighbours[0]).toBe('t3');
    expect(neighbourAnswers).toEqual(neighbours.map((id) => train.find((t) => t.entityId === id && t.item === 'o')!.actual));
    expect(o.predicted).toBeCloseTo((neighbourAnswers[0] + neighbourAnswers[1]) / 2, 12);
  });

  it('given a bad kNN section, then the error names the key', () => {
    expect(KnnSection.safeParse({ k: 0 }).success).toBe(false);
    expect(KnnSection.safeParse({ metric: 'cosine' }).success).toBe(false);
    expect(KnnSection.safeParse({ k: 3, neighbours: 3 }).success).toBe(false);
  });

  it('given train answers, when baseline_linear fits (yielding between items), then it predicts what the synchronous linear baseline predicts', async () => {
    const fitted = await predict(baselineLinear.fit!({ settings: null, ...data }), 'baseline_linear');
    const direct = linearBaseline({ trainSamples: train, testSamples: test, items, features });
    expect(fitted).toEqual(direct);
    expect(fitted.find((p) => p.item === 'o')!.metadata).toMatchObject({ model: 'ridge', nTrain: 4 });
    expect(fitted.find((p) => p.item === 'b')!.metadata).toMatchObject({ model: 'logistic', nTrain: 4 });
  });
});
