import type { ItemDef, Sample } from '@assay/contracts';
import { trainMeanBaseline } from './baselines';
import { baselineInputsDigest, buildEvaluation, scoreBaselines, type ScoredBaselines } from './build';
import { valueRanges } from './diagnostics';
import { toPrediction } from './parse';
import { EVALUATOR_VERSION } from './version';

const items: ItemDef[] = [
  { group: 'g1', item: 'o', question: '', min: 1, max: 5, kind: 'ordinal' },
  { group: 'g2', item: 'c', question: '', min: 0, max: 10, kind: 'continuous' },
];
const train: Sample[] = [
  { entityId: 't1', group: 'g1', item: 'o', actual: 2 },
  { entityId: 't2', group: 'g1', item: 'o', actual: 4 },
  { entityId: 't1', group: 'g2', item: 'c', actual: 5 },
];
const test: Sample[] = [
  { entityId: 'a', group: 'g1', item: 'o', actual: 1 },
  { entityId: 'b', group: 'g1', item: 'o', actual: 5 },
  { entityId: 'a', group: 'g2', item: 'c', actual: 2 },
  { entityId: 'b', group: 'g2', item: 'c', actual: 8 },
];
const raws: Record<string, string> = { 'a/o': '1', 'b/o': 'Answer: 4 out of 5', 'a/c': '{"answer": 3}', 'b/c': '12' };
const item = (s: Sample) => items.find((i) => i.group === s.group && i.item === s.item) as ItemDef;
const predictions = test.map((s) => toPrediction({ sample: s, item: item(s), method: 'llm', raw: raws[`${s.entityId}/${s.item}`] }));

describe('valueRanges', () => {
  it('given two groups, then actual and predicted ranges per group, sorted by group', () => {
    // g2 predicted 3 and 12: mean 7.5, population std 4.5
    expect(valueRanges(test, predictions, items)).toEqual([
      { group: 'g1', itemMin: 1, itemMax: 5, actual: { min: 1, max: 5, mean: 3, std: 2, n: 2 }, predicted: { min: 1, max: 4, mean: 2.5, std: 1.5, n: 2 } },
      { group: 'g2', itemMin: 0, itemMax: 10, actual: { min: 2, max: 8, mean: 5, std: 3, n: 2 }, predicted: { min: 3, max: 12, mean: 7.5, std: 4.5, n: 2 } },
    ]);
  });
});

describe('buildEvaluation', () => {
  const baseline = trainMeanBaseline({ trainSamples: train, testSamples: test, items });
  let baselines: ScoredBaselines;
  let result: ReturnType<typeof buildEvaluation>;
  beforeAll(async () => {
    baselines = await scoreBaselines({ method: 'llm', samples: test, items, baselines: [{ method: 'baseline_train_mean', predict: () => baseline }] });
    result = buildEvaluation({ method: 'llm', samples: test, predictions, items, baselines, spotCheckPaths: ['x.txt'] });
  });

  it('given an LLM method and the train-mean baseline, then both are scored by the same evaluate()', () => {
    // llm: g1 errors 0, 1 -> /4 -> 0, 0.25; g2 errors 1, 4 -> /10 -> 0.1, 0.4 (12 is an outlier, unclipped)
    //   overall (0 + 0.25 + 0.1 + 0.4) / 4 = 0.1875
    // baseline: g1 mean 3: errors 2, 2 -> 0.5, 0.5; g2 mean 5: errors 3, 3 -> 0.3, 0.3; overall 1.6 / 4 = 0.4
    expect(result.evaluatorVersion).toBe(EVALUATOR_VERSION);
    expect(result.method.overall.primary.value).toBeCloseTo(0.1875, 12);
    expect(result.method.overall.outliers).toBe(1);
    expect(result.baselines.map((b) => [b.method, b.overall.primary.value])).toEqual([['baseline_train_mean', expect.closeTo(0.4, 12)]]);
    expect(result.definitions.length).toBe(16);
  });

  it('given those scores, then the review has 8 lines with ranking pass', () => {
    expect(result.review.map((l) => l.status)).toEqual(['pass', 'pass', 'warn', 'pass', 'fail', 'todo', 'pass', 'todo']);
    // predicted 1 4 3 12: mean 5, deviations -4 -1 -2 7 -> std sqrt(70/4); actual 1 5 2 8: mean 4, std sqrt(30/4)
    // g2 bias (7.5 - 5) / 10 = +0.25, g1 (2.5 - 3) / 4 = -0.125: both beyond 0.1 of range -> warn, largest first
    expect(result.review[2].detail).toBe(
      'predicted mean 5.0000 (std 4.1833) vs actual mean 4.0000 (std 2.7386); 2 group(s) with |pred mean - actual mean| > 10% of range: g2 (+0.25 of range), g1 (-0.13 of range)',
    );
    // 1 outlier of 4 scored = 25% > 5% -> fail; too few to call systematic
    expect(result.review[4].detail).toBe('1 of 4 scored predictions (25.00%) outside the item\'s range; too few to tell systematic from random (< 3)');
  });

  it('given a baseline with the method\'s own name, no predictions, twice, or predicting under another name, then scoring the baselines throws', async () => {
    await expect(scoreBaselines({ method: 'baseline_train_mean', samples: test, items, baselines: [{ method: 'baseline_train_mean', predict: () => baseline }] })).rejects.toThrow(/own name/);
    await expect(scoreBaselines({ method: 'llm', samples: test, items, baselines: [{ method: 'baseline_x', predict: () => [] }] })).rejects.toThrow(/no predictions/);
    await expect(scoreBaselines({ method: 'llm', samples: test, items, baselines: [{ method: 'baseline_train_mean', predict: () => baseline }, { method: 'baseline_train_mean', predict: () => baseline }] })).rejects.toThrow(/given twice/);
    await expect(scoreBaselines({ method: 'llm', samples: test, items, baselines: [{ method: 'baseline_knn', predict: () => baseline }] })).rejects.toThrow(/predicted as "baseline_train_mean"/);
  });

  it('given baselines scored with the method\'s own name, then building the evaluation throws', () => {
    expect(() => buildEvaluation({ method: 'baseline_train_mean', samples: test, predictions: baseline, items, baselines, spotCheckPaths: [] })).toThrow(/own name/);
  });

  it('given baselines scored on other samples, then building the evaluation throws rather than show them', () => {
    const fewer = test.slice(1);
    expect(() => buildEvaluation({ method: 'llm', samples: fewer, predictions: predictions.slice(1), items, baselines, spotCheckPaths: [] })).toThrow(/other samples or items/);
  });

  it('given baselines scored while the answers came in (samples in another order), then the evaluation is the one built from the answers at the end', async () => {
    const early = await scoreBaselines({ method: 'llm', samples: [...test].reverse(), items, baselines: [{ method: 'baseline_train_mean', predict: () => baseline }] });
    expect(buildEvaluation({ method: 'llm', samples: test, predictions, items, baselines: early, spotCheckPaths: ['x.txt'] })).toEqual(result);
  });
});

describe('baselineInputsDigest', () => {
  it('given the same samples in another order, then the digest is the same', () => {
    expect(baselineInputsDigest([...test].reverse(), items)).toBe(baselineInputsDigest(test, items));
  });

  it('given one actual value, one sample or one item changed, then the digest differs', () => {
    const digest = baselineInputsDigest(test, items);
    expect(baselineInputsDigest(test.map((s, i) => (i === 0 ? { ...s, actual: 2 } : s)), items)).not.toBe(digest);
    expect(baselineInputsDigest(test.slice(1), items)).not.toBe(digest);
    expect(baselineInputsDigest(test, [items[0], { ...items[1], max: 11 }])).not.toBe(digest);
  });
});
