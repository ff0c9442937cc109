import type { Prediction } from '@assay/contracts';
import { TRAIN_MEAN_METHOD } from './baselines';
import { distributionLine, groupLine, inferenceFailureLine, outlierLine, parseFailureLine, preflightWarningsLine, rankingLine, reviewChecklist, spotCheckLine, upcastReviewLine } from './review';
import type { MethodScores, ScoreSummary, ValueRange } from './types';

function summary(primary: number | null, over: Partial<ScoreSummary> = {}): ScoreSummary {
  return { n: 100, nScored: 100, parseFailures: 0, inferenceFailures: 0, outliers: 0, primary: { name: 'normalized_mae', value: primary, higherIsBetter: false }, metrics: {}, ...over };
}

function scores(method: string, overall: number | null, groups: Array<[string, number | null]> = [], over: Partial<ScoreSummary> = {}): MethodScores {
  return { method, overall: summary(overall, over), byGroup: groups.map(([group, v]) => ({ group, summary: summary(v) })), byItem: [], byEntity: [] };
}

function pred(entityId: string, group: string, item: string, predicted: number | null, outlier = false): Prediction {
  return predicted === null
    ? { entityId, group, item, method: 'm', predicted: null, parseStatus: 'parse_failure', parseError: 'no number in output', outlier: false, metadata: {} }
    : { entityId, group, item, method: 'm', predicted, parseStatus: 'ok', outlier, metadata: {} };
}

function range(group: string, actualMean: number, predMean: number, predStd = 1): ValueRange {
  return {
    group, itemMin: 1, itemMax: 5,
    actual: { min: 1, max: 5, mean: actualMean, std: 1, n: 10 },
    predicted: { min: 1, max: 5, mean: predMean, std: predStd, n: 10 },
  };
}

describe('parse failure rate', () => {
  it.each([
    [5, 'pass', '5 of 1000 outputs failed to parse (0.50%; pass < 1%, fail > 5%)'],
    [10, 'warn', '10 of 1000 outputs failed to parse (1.00%; pass < 1%, fail > 5%)'],
    [30, 'warn', '30 of 1000 outputs failed to parse (3.00%; pass < 1%, fail > 5%)'],
    [50, 'warn', '50 of 1000 outputs failed to parse (5.00%; pass < 1%, fail > 5%)'],
    [100, 'fail', '100 of 1000 outputs failed to parse (10.00%; pass < 1%, fail > 5%)'],
  ])('given %d of 1000 parse failures, then the status is %s', (failures, status, detail) => {
    expect(parseFailureLine(scores('m', 0.1, [], { n: 1000, parseFailures: failures }), [])).toEqual({ check: 'Parse failure rate', status, detail });
  });

  it('given inference failures, then they are not in the denominator and examples are shown sorted', () => {
    // 1 parse failure among 100 - 90 = 10 outputs -> 10%
    const line = parseFailureLine(scores('m', 0.1, [], { n: 100, parseFailures: 1, inferenceFailures: 90 }), [pred('b', 'g', 'q', null), pred('a', 'g', 'q', null)]);
    expect(line.status).toBe('fail');
    expect(line.detail).toBe('1 of 10 outputs failed to parse (10.00%; pass < 1%, fail > 5%); e.g. ["a","g","q"]: no number in output; ["b","g","q"]: no number in output');
  });
});

describe('inference failures', () => {
  it.each([
    [0, 'pass'],
    [3, 'warn'],
    [100, 'fail'],
  ])('given %d of 100, then %s', (count, status) => {
    expect(inferenceFailureLine(scores('m', 0.1, [], { inferenceFailures: count }), []).status).toBe(status);
  });
});

describe('prediction vs actual distribution', () => {
  const preds = [pred('a', 'g', 'q', 2), pred('b', 'g', 'q', 3)];

  it('given means within 10% of the range, then pass with pooled means', () => {
    // g1 actual 3 pred 3.2, g2 actual 2 pred 2.2: bias 0.2 / 4 = 0.05 <= 0.1; pooled pred mean (3.2 + 2.2) / 2 = 2.7
    const line = distributionLine([range('g1', 3, 3.2), range('g2', 2, 2.2)], preds);
    expect(line.status).toBe('pass');
    expect(line.detail).toMatch(/^predicted mean 2.7000 .* vs actual mean 2.5000/);
  });

  it('given a group off by more than 10% of its range, then warn naming it', () => {
    // g2: (3 - 2) / 4 = +0.25 of range
    const line = distributionLine([range('g1', 3, 3.2), range('g2', 2, 3)], preds);
    expect(line.status).toBe('warn');
    expect(line.detail).toMatch(/1 group\(s\) with \|pred mean - actual mean\| > 10% of range: g2 \(\+0.25 of range\)$/);
  });

  it('given all predictions identical, then fail', () => {
    const line = distributionLine([range('g1', 3, 3, 0)], [pred('a', 'g', 'q', 3), pred('b', 'g', 'q', 3)]);
    expect(line.status).toBe('fail');
    expect(line.detail).toMatch(/^all predictions identical \(2 x 3\)/);
  });
});

describe('per-group spread and catastrophic groups', () => {
  const baseline = scores(TRAIN_MEAN_METHOD, 0.2, [['g1', 0.2], ['g2', 0.2], ['g3', 0.25]]);

  it('given no group worse than the train-mean baseline, then pass with the spread', () => {
    const line = groupLine(scores('m', 0.1, [['g3', 0.2], ['g1', 0.15], ['g2', 0.1]]), [baseline]);
    expect(line).toEqual({
      check: 'Per-group spread and catastrophic groups',
      status: 'pass',
      detail: 'normalized MAE worst g3 0.2000, best g2 0.1000 over 3 group(s); no group worse than baseline_train_mean',
    });
  });

  it('given one of three groups worse, then warn; two of three, then fail', () => {
    expect(groupLine(scores('m', 0.1, [['g1', 0.3], ['g3', 0.2], ['g2', 0.1]]), [baseline]).status).toBe('warn');
    const line = groupLine(scores('m', 0.1, [['g1', 0.3], ['g2', 0.25], ['g3', 0.2]]), [baseline]);
    expect(line.status).toBe('fail');
    expect(line.detail).toMatch(/2 catastrophic group\(s\) worse than baseline_train_mean: g1 0.3000 vs 0.2000, g2 0.2500 vs 0.2000$/);
  });

  it('given no train-mean baseline, then warn', () => {
    expect(groupLine(scores('m', 0.1, [['g1', 0.1]]), []).status).toBe('warn');
  });
});

describe('outliers', () => {
  const inRange = Array.from({ length: 96 }, (_, i) => pred(`e${i}`, 'g2', 'q', 3));

  it('given none, then pass', () => {
    expect(outlierLine(inRange).status).toBe('pass');
  });

  it('given 4 of 100 with 3 in one item, then warn and systematic', () => {
    const preds = [...inRange, pred('a', 'g1', 'q', 9, true), pred('b', 'g1', 'q', 9, true), pred('c', 'g1', 'q', 7, true), pred('d', 'g2', 'q', 0, true)];
    expect(outlierLine(preds)).toEqual({
      check: 'Outliers',
      status: 'warn',
      detail: '4 of 100 scored predictions (4.00%) outside the item\'s range; systematic: 3 of 4 in item g1/q',
    });
  });

  it('given outliers spread over groups and items, then random', () => {
    const preds = [...inRange, pred('a', 'g1', 'q', 9, true), pred('b', 'g2', 'r', 9, true), pred('c', 'g3', 'q', 7, true), pred('d', 'g4', 'q', 0, true)];
    expect(outlierLine(preds).detail).toMatch(/random: no group or item holds more than half \(largest: group g1 with 1\)$/);
  });

  it('given more than 5% outliers, then fail', () => {
    const preds = [...inRange.slice(0, 90), ...Array.from({ length: 10 }, (_, i) => pred(`o${i}`, `g${i}`, 'q', 9, true))];
    expect(outlierLine(preds).status).toBe('fail');
  });
});

describe('spot-check', () => {
  it('given paths, then a to-do listing them for the researcher, not a pass', () => {
    expect(spotCheckLine(['a.txt', 'b.txt'])).toEqual({
      check: 'Spot-check LLM input/output files',
      status: 'todo',
      detail: 'read these and check the prompt says what you meant and the answer was parsed right: a.txt, b.txt',
    });
  });

  it('given no paths, then a warning: there is nothing to spot-check', () => {
    expect(spotCheckLine([]).status).toBe('warn');
  });
});

describe('upcastReviewLine (review lines of evaluators from before to-dos)', () => {
  it('given the logged spot-check pass and notes warn, when read, then both are to-dos with their details kept', () => {
    expect(upcastReviewLine({ check: 'Spot-check LLM input/output files', status: 'pass', detail: 'for a human to read: a.txt' })).toEqual({
      check: 'Spot-check LLM input/output files',
      status: 'todo',
      detail: 'for a human to read: a.txt',
    });
    expect(upcastReviewLine({ check: 'Update experiment notes with findings', status: 'warn', detail: 'a human must record findings' }).status).toBe('todo');
  });

  it('given any other line, or a spot-check warning (no files), when read, then it is kept as logged', () => {
    const lines = [
      { check: 'Parse failure rate', status: 'fail' as const, detail: 'x' },
      { check: 'Spot-check LLM input/output files', status: 'warn' as const, detail: 'no files given to spot-check' },
      { check: 'Outliers', status: 'pass' as const, detail: 'y' },
    ];
    for (const l of lines) expect(upcastReviewLine(l)).toBe(l);
  });
});

describe('ranking vs baselines', () => {
  const base = [scores(TRAIN_MEAN_METHOD, 0.2), scores('baseline_knn', 0.15)];

  it.each([
    [0.1, 'pass'],
    [0.17, 'warn'],
    [0.3, 'fail'],
  ])('given normalized MAE %d vs baselines 0.2 and 0.15, then %s', (value, status) => {
    expect(rankingLine(scores('m', value), base).status).toBe(status);
  });

  it('given a ranking, then the detail lists methods best first with coverage', () => {
    expect(rankingLine(scores('m', 0.1), base).detail).toBe(
      'normalized MAE, lower is better: m 0.1000 (scored 100/100) < baseline_knn 0.1500 (scored 100/100) < baseline_train_mean 0.2000 (scored 100/100)',
    );
  });

  it('given the method has no score, then fail', () => {
    expect(rankingLine(scores('m', null), base).status).toBe('fail');
  });
});

describe('reviewChecklist', () => {
  it('given everything, then 8 lines in a fixed order ending with the notes reminder', () => {
    const lines = reviewChecklist({
      scores: scores('m', 0.1, [['g', 0.1]]),
      baselines: [scores(TRAIN_MEAN_METHOD, 0.2, [['g', 0.2]])],
      ranges: [range('g', 3, 3)],
      predictions: [pred('a', 'g', 'q', 2), pred('b', 'g', 'q', 4)],
      spotCheckPaths: ['1', '2', '3', '4', '5'],
    });
    expect(lines.map((l) => [l.check, l.status])).toEqual([
      ['Parse failure rate', 'pass'],
      ['Inference failures', 'pass'],
      ['Prediction vs actual distribution', 'pass'],
      ['Per-group spread and catastrophic groups', 'pass'],
      ['Outliers', 'pass'],
      ['Spot-check LLM input/output files', 'todo'],
      ['Ranking vs baselines', 'pass'],
      ['Update experiment notes with findings', 'todo'],
    ]);
    expect(lines[7].detail).toBe('write down what this run showed (and what to try next) in the experiment notes');
  });
});

describe('pre-flight warnings', () => {
  it('given data warnings, then one warn line numbering each of them', () => {
    expect(preflightWarningsLine(['a.csv: 1 value(s) outside', 'p.csv: 2 entit(y/ies) have no observation'])).toEqual({
      check: 'Pre-flight warnings (data, split, config)',
      status: 'warn',
      detail: '2 warning(s), read them before trusting the numbers: (1) a.csv: 1 value(s) outside (2) p.csv: 2 entit(y/ies) have no observation',
    });
  });
});
