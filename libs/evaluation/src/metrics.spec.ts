import type { ItemDef } from '@assay/contracts';
import {
  METRIC_DEFINITIONS,
  binaryMetrics,
  exactAccuracy,
  mae,
  normalizedMae,
  pearson,
  rmse,
  spearman,
  toScalePoint,
  withinOneAccuracy,
  type Point,
} from './metrics';
import type { MetricName } from './types';

const binary: ItemDef = { group: 'g', item: 'b', question: '', min: 0, max: 1, kind: 'binary' };
const ordinal: ItemDef = { group: 'g', item: 'o', question: '', min: 1, max: 5, kind: 'ordinal' };
const continuous: ItemDef = { group: 'g', item: 'c', question: '', min: 0, max: 10, kind: 'continuous' };

function pts(item: ItemDef, predicted: number[], actual: number[]): Point[] {
  return predicted.map((p, i) => ({ predicted: p, actual: actual[i], item }));
}

describe('binary metrics', () => {
  // predicted 0.9 0.2 0.6 0.1 1 -> classes (>= 0.5) 1 0 1 0 1; actual 1 1 0 0 1
  // TP = 2 (#1, #5), FN = 1 (#2), FP = 1 (#3), TN = 1 (#4)
  const points = pts(binary, [0.9, 0.2, 0.6, 0.1, 1], [1, 1, 0, 0, 1]);

  it('given a mixed confusion matrix, then every metric matches the hand computation', () => {
    const m = binaryMetrics(points);
    expect(m.accuracy).toEqual({ value: 3 / 5, n: 5 }); // (TP + TN) / n = 3/5
    expect(m.balanced_accuracy.value).toBeCloseTo((2 / 3 + 1 / 2) / 2, 12); // (TPR 2/3 + TNR 1/2) / 2 = 7/12
    expect(m.f1.value).toBeCloseTo(2 / 3, 12); // 2TP / (2TP + FP + FN) = 4/6
    expect(m.predicted_positive_rate).toEqual({ value: 3 / 5, n: 5 }); // (TP + FP) / n
    expect(m.actual_positive_rate).toEqual({ value: 3 / 5, n: 5 }); // (TP + FN) / n
  });

  it('given a prediction exactly at 0.5, then it counts as positive', () => {
    expect(binaryMetrics(pts(binary, [0.5], [1])).accuracy.value).toBe(1);
  });

  it('given no actual positives, then F1 and balanced accuracy are null with a note', () => {
    const m = binaryMetrics(pts(binary, [1, 0], [0, 0]));
    expect(m.f1).toEqual({ value: null, n: 2, note: 'no actual positives: F1 undefined' });
    expect(m.balanced_accuracy.value).toBeNull();
    expect(m.balanced_accuracy.note).toMatch(/only one actual class present \(0 positive, 2 negative\)/);
    expect(m.accuracy.value).toBe(0.5);
  });

  it('given no points, then every metric is null with "no scored points"', () => {
    expect(binaryMetrics([]).accuracy).toEqual({ value: null, n: 0, note: 'no scored points' });
  });
});

describe('ordinal metrics (scale 1..5)', () => {
  // predicted 1.4 2.6 3 5 2 vs actual 1 2 3 4 5: errors 0.4 0.6 0 1 3
  const points = pts(ordinal, [1.4, 2.6, 3, 5, 2], [1, 2, 3, 4, 5]);

  it('given errors 0.4 0.6 0 1 3, then MAE = 5/5 = 1 and RMSE = sqrt((0.16+0.36+0+1+9)/5) = sqrt(2.104)', () => {
    expect(mae(points).value).toBeCloseTo(1, 12);
    expect(rmse(points).value).toBeCloseTo(Math.sqrt(2.104), 12);
  });

  it('given those points, then normalized MAE = 1 / (5 - 1) = 0.25', () => {
    expect(normalizedMae(points).value).toBeCloseTo(0.25, 12);
  });

  it('given rounding 1.4->1 (hit) 2.6->3 3->3 (hit) 5 2, then exact accuracy = 2/5', () => {
    expect(exactAccuracy(points)).toEqual({ value: 0.4, n: 5 });
  });

  it('given unrounded errors 0.4 0.6 0 1 3, then within-one accuracy = 4/5', () => {
    expect(withinOneAccuracy(points)).toEqual({ value: 0.8, n: 5 });
  });

  it('given no ties, then spearman = 1 - 6*sum(d^2)/(n(n^2-1)) = 1 - 6*12/120 = 0.4', () => {
    // ranks of predicted: 1.4->1 2.6->3 3->4 5->5 2->2; d = 0 1 1 1 -3; sum d^2 = 12
    expect(spearman(points).value).toBeCloseTo(0.4, 12);
  });

  it('given ties, then spearman is Pearson on average ranks', () => {
    // predicted 1 1 2 3 -> ranks 1.5 1.5 3 4; actual 1 2 2 3 -> ranks 1 2.5 2.5 4
    // deviations -1 -1 0.5 1.5 and -1.5 0 0 1.5: cov 3.75, ss 4.5 and 4.5 -> r = 3.75/4.5
    expect(spearman(pts(ordinal, [1, 1, 2, 3], [1, 2, 2, 3])).value).toBeCloseTo(3.75 / 4.5, 12);
  });

  it('given out-of-scale predictions, then exact accuracy clamps but MAE does not', () => {
    // 7 -> clamped to 5 (hit); 0.4 -> 1 - 1 + round(-0.6) = 0 -> clamped to 1 (hit)
    const points2 = pts(ordinal, [7, 0.4], [5, 1]);
    expect(exactAccuracy(points2).value).toBe(1);
    expect(mae(points2).value).toBeCloseTo((2 + 0.6) / 2, 12);
  });

  it('given a half, then it rounds up to the next scale point', () => {
    expect(toScalePoint(2.5, ordinal)).toBe(3);
    expect(toScalePoint(1.49, ordinal)).toBe(1);
  });
});

describe('continuous metrics (0..10)', () => {
  // predicted 3 3 7 9 vs actual 2 4 6 8: every error is 1
  const points = pts(continuous, [3, 3, 7, 9], [2, 4, 6, 8]);

  it('given errors all 1, then MAE = RMSE = 1 and normalized MAE = 1/10', () => {
    expect(mae(points).value).toBe(1);
    expect(rmse(points).value).toBe(1);
    expect(normalizedMae(points).value).toBeCloseTo(0.1, 12);
  });

  it('given those points, then pearson = 22 / sqrt(27 * 20)', () => {
    // pred mean 5.5, deviations -2.5 -2.5 1.5 3.5; actual mean 5, deviations -3 -1 1 3
    // cov sum 7.5 + 2.5 + 1.5 + 10.5 = 22; ss 27 and 20
    expect(pearson(points).value).toBeCloseTo(22 / Math.sqrt(540), 12);
  });

  it('given fewer than 3 points, then correlation is null with a note', () => {
    expect(pearson(pts(continuous, [1, 2], [1, 2]))).toEqual({ value: null, n: 2, note: 'too few points for a correlation (n=2 < 3)' });
  });

  it('given constant predictions or actuals, then correlation is null with a note', () => {
    expect(pearson(pts(continuous, [3, 3, 3], [1, 2, 3])).note).toBe('predictions are constant: correlation undefined');
    expect(spearman(pts(ordinal, [1, 2, 3], [4, 4, 4])).note).toBe('actual values are constant: correlation undefined');
  });

  it('given no points, then MAE is null with "no scored points"', () => {
    expect(mae([])).toEqual({ value: null, n: 0, note: 'no scored points' });
    expect(rmse([]).value).toBeNull();
  });
});

describe('METRIC_DEFINITIONS', () => {
  it('defines every MetricName exactly once, with a description', () => {
    const all: Record<MetricName, true> = {
      normalized_mae: true, accuracy: true, balanced_accuracy: true, f1: true, predicted_positive_rate: true,
      actual_positive_rate: true, mae: true, rmse: true, exact_accuracy: true, within_one_accuracy: true, spearman: true, pearson: true,
      wasserstein: true, variance_ratio: true, under_dispersed_share: true, respondent_correlation: true,
    };
    expect(METRIC_DEFINITIONS.map((d) => d.name).sort()).toEqual(Object.keys(all).sort());
    for (const d of METRIC_DEFINITIONS) expect(d.description.length).toBeGreaterThan(20);
  });
});
