import type { ItemDef, Sample } from '@assay/contracts';
import { featureTableOf } from './baseline-fit';
import {
  fitLinear,
  LINEAR_METHOD,
  linearBaseline,
  MAJORITY_METHOD,
  majorityBaseline,
  RIDGE_LAMBDA,
  runBaseline,
  standardBaselines,
  standardBaselineRuns,
  TRAIN_MEAN_METHOD,
  KNN_METHOD,
} from './baselines';

const ORDINAL: ItemDef = { group: 'g', item: 'o', question: '', min: 1, max: 5, kind: 'ordinal' };
const BINARY: ItemDef = { group: 'g', item: 'b', question: '', min: 0, max: 1, kind: 'binary' };
const CONTINUOUS: ItemDef = { group: 'g', item: 'c', question: '', min: 0, max: 100, kind: 'continuous' };
const ITEMS = [ORDINAL, BINARY, CONTINUOUS];

const s = (entityId: string, item: string, actual: number): Sample => ({ entityId, group: 'g', item, actual });
const ids = Array.from({ length: 40 }, (_, i) => `t${String(i).padStart(2, '0')}`);
const ageOf = (i: number) => 20 + i;
const features = featureTableOf([
  ...ids.map((id, i): [string, Array<[string, string]>] => [id, [['age', String(ageOf(i))]]]),
  ['x', [['age', '30']]],
  ['old', [['age', '300']]],
]);

describe('majorityBaseline', () => {
  it('given train answers, when fitted, then each item predicts its most frequent answer (ties to the smaller), whatever the kind', () => {
    const train = [s('a', 'o', 2), s('b', 'o', 5), s('c', 'o', 2), s('d', 'o', 5), s('e', 'o', 4), s('a', 'c', 10.5), s('b', 'c', 10.5), s('c', 'c', 3)];
    const preds = majorityBaseline({ trainSamples: train, testSamples: [s('x', 'o', 1), s('x', 'c', 1), s('x', 'b', 1)], items: ITEMS });
    expect(preds.map((p) => [p.method, p.item, p.predicted, p.metadata])).toEqual([
      [MAJORITY_METHOD, 'b', null, {}],
      [MAJORITY_METHOD, 'c', 10.5, { nTrain: 3, votes: 2 }],
      [MAJORITY_METHOD, 'o', 2, { nTrain: 5, votes: 2 }],
    ]);
    expect(preds[0].parseError).toBe('no train samples for item "b" in group "g"');
  });
});

describe('linearBaseline (ridge for ordinal/continuous, logistic for binary)', () => {
  // Population z-score of age over the 40 train entities: mean 39.5, std sqrt((40^2 - 1) / 12).
  const mu = 39.5;
  const sigma = Math.sqrt((40 * 40 - 1) / 12);
  const z = (age: number) => (age - mu) / sigma;

  it('given a linear relation, when fitted, then the prediction is the ridge solution (intercept unpenalised), computed independently', () => {
    const train = ids.map((id, i) => s(id, 'c', 10 + 0.8 * ageOf(i)));
    const [pred] = linearBaseline({ trainSamples: train, testSamples: [s('x', 'c', 0)], items: ITEMS, features });
    // One z-scored feature: intercept = mean(y), slope = sum(z*y) / (sum(z^2) + lambda) = sum(z*y) / (n + lambda).
    const ys = train.map((t) => t.actual);
    const meanY = ys.reduce((a, b) => a + b, 0) / ys.length;
    const slope = ids.reduce((acc, _, i) => acc + z(ageOf(i)) * ys[i], 0) / (ids.length + RIDGE_LAMBDA);
    expect(pred.method).toBe(LINEAR_METHOD);
    expect(pred.predicted).toBeCloseTo(meanY + slope * z(30), 9);
    expect(pred.metadata).toEqual({ model: 'ridge', lambda: RIDGE_LAMBDA, nTrain: 40, dimensions: 1 });
  });

  it('given a test entity far outside the train range, when predicted, then the value is clipped to the item range and the raw score kept', () => {
    const train = ids.map((id, i) => s(id, 'o', 1 + (4 * i) / 39));
    const [pred] = linearBaseline({ trainSamples: train, testSamples: [s('old', 'o', 5)], items: ITEMS, features });
    expect(pred.predicted).toBe(5);
    expect(pred.outlier).toBe(false);
    expect(pred.metadata.clippedFrom as number).toBeGreaterThan(5);
  });

  it('given a binary item, when fitted, then the probability of yes is the penalised logistic optimum (checked against an independent Newton fit)', () => {
    // Noisy: yes mostly among the older, with exceptions, so the optimum is interior.
    const yes = (i: number) => (i >= 20 ? i % 7 !== 0 : i % 5 === 0);
    const train = ids.map((id, i) => s(id, 'b', yes(i) ? 1 : 0));
    const [pred] = linearBaseline({ trainSamples: train, testSamples: [s('x', 'b', 0)], items: ITEMS, features });
    // Newton's method on (b0, b1) for -loglik + lambda/2 * b1^2.
    let b0 = 0;
    let b1 = 0;
    for (let step = 0; step < 100; step++) {
      let g0 = 0, g1 = -RIDGE_LAMBDA * b1, h00 = 0, h01 = 0, h11 = RIDGE_LAMBDA;
      ids.forEach((_, i) => {
        const zi = z(ageOf(i));
        const p = 1 / (1 + Math.exp(-(b0 + b1 * zi)));
        const y = yes(i) ? 1 : 0;
        g0 += y - p;
        g1 += (y - p) * zi;
        const w = p * (1 - p);
        h00 += w;
        h01 += w * zi;
        h11 += w * zi * zi;
      });
      const det = h00 * h11 - h01 * h01;
      b0 += (h11 * g0 - h01 * g1) / det;
      b1 += (h00 * g1 - h01 * g0) / det;
    }
    expect(pred.predicted).toBeCloseTo(1 / (1 + Math.exp(-(b0 + b1 * z(30)))), 6);
    expect(pred.predicted!).toBeLessThan(0.5);
    expect(pred.metadata).toMatchObject({ model: 'logistic', lambda: RIDGE_LAMBDA, nTrain: 40, dimensions: 1 });
  });

  it('given perfectly separable binary answers, when fitted, then the weights stay finite (the penalty) and the side is right', () => {
    const train = ids.map((id, i) => s(id, 'b', i >= 20 ? 1 : 0));
    const preds = linearBaseline({ trainSamples: train, testSamples: [s('x', 'b', 0), s('old', 'b', 1)], items: ITEMS, features });
    const byEntity = new Map(preds.map((p) => [p.entityId, p.predicted!]));
    expect(byEntity.get('x')!).toBeLessThan(0.5);
    expect(byEntity.get('old')!).toBeGreaterThan(0.5);
    expect(byEntity.get('old')!).toBeLessThanOrEqual(1);
  });

  it('given one class only among the train answers, when fitted, then that class is predicted with no fit', () => {
    const train = ids.map((id) => s(id, 'b', 1));
    const [pred] = linearBaseline({ trainSamples: train, testSamples: [s('x', 'b', 0)], items: ITEMS, features });
    expect(pred.predicted).toBe(1);
    expect(pred.metadata).toMatchObject({ model: 'logistic', constant: 1 });
  });

  it('given the same train data in another order, when fitted, then every prediction is identical (deterministic)', () => {
    const train = ids.flatMap((id, i) => [s(id, 'o', 1 + (i % 5)), s(id, 'b', i % 3 === 0 ? 1 : 0), s(id, 'c', (i * 37) % 100)]);
    const test = [s('x', 'o', 1), s('x', 'b', 1), s('x', 'c', 1), s('old', 'o', 1)];
    const a = linearBaseline({ trainSamples: train, testSamples: test, items: ITEMS, features });
    const b = linearBaseline({ trainSamples: [...train].reverse(), testSamples: [...test].reverse(), items: ITEMS, features });
    expect(b).toEqual(a);
  });

  it('given the fitter alone, when run under another method name, then it is the same predictor (a method of its own later)', () => {
    const train = ids.map((id, i) => s(id, 'o', 1 + (i % 5)));
    const mine = runBaseline('my_linear', fitLinear, { trainSamples: train, testSamples: [s('x', 'o', 1)], items: ITEMS, features });
    expect(mine[0]).toEqual({ ...linearBaseline({ trainSamples: train, testSamples: [s('x', 'o', 1)], items: ITEMS, features })[0], method: 'my_linear' });
  });
});

describe('standardBaselines', () => {
  it('given train and test samples, when run, then train mean, majority and kNN come back in that order, each for every test sample', () => {
    const train = ids.map((id, i) => s(id, 'o', 1 + (i % 5)));
    const test = [s('x', 'o', 3), s('old', 'o', 2)];
    const all = standardBaselines({ trainSamples: train, testSamples: test, items: ITEMS, features });
    expect(all.map((preds) => [preds[0].method, preds.length])).toEqual([
      [TRAIN_MEAN_METHOD, 2],
      [MAJORITY_METHOD, 2],
      [KNN_METHOD, 2],
    ]);
  });

  it('given a test entity among the train entities, when run, then it throws (split hygiene) before fitting', () => {
    expect(() => standardBaselines({ trainSamples: [s('t00', 'o', 1)], testSamples: [s('t00', 'o', 1)], items: ITEMS, features })).toThrow('entities in both train and test samples: "t00"');
  });

  it('given the same samples, when run one at a time (standardBaselineRuns), then the same baselines by name, in the same order, with the same predictions', () => {
    const train = ids.map((id, i) => s(id, 'o', 1 + (i % 5)));
    const args = { trainSamples: train, testSamples: [s('x', 'o', 3), s('old', 'o', 2)], items: ITEMS, features };
    const runs = standardBaselineRuns(args);
    expect(runs.map((r) => r.method)).toEqual([TRAIN_MEAN_METHOD, MAJORITY_METHOD, KNN_METHOD]);
    expect(runs.map((r) => r.predict())).toEqual(standardBaselines(args));
  });
});
