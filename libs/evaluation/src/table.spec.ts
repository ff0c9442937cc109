import type { ItemDef, Prediction, Sample } from '@assay/contracts';
import { answerTable, featureTableOf, runBaseline } from './baseline-fit';
import { knnFitter, standardBaselineRuns, standardTableBaselines, TRAIN_MEAN_METHOD } from './baselines';
import { buildEvaluation, buildTableEvaluation, scoreBaselines, scoreTableBaselines, tableInputsDigest, baselineInputsDigest } from './build';
import { evaluate, evaluateEntities, evaluateRows, evaluateTable, joinRows, tableOf } from './evaluate';
import { answerFactsOf } from './review';
import { addFailure, ANSWER_INFERENCE_FAILURE, ANSWER_MISSING, ANSWER_OK, ANSWER_PARSE_FAILURE, noFailures, TableBuilder } from './table';

const items: ItemDef[] = [
  { group: 'g2', item: 'c', question: '', min: 0, max: 10, kind: 'continuous' },
  { group: 'g1', item: 'o', question: '', min: 1, max: 5, kind: 'ordinal' },
  { group: 'g1', item: 'b', question: '', min: 0, max: 1, kind: 'binary' },
];

function s(entityId: string, group: string, item: string, actual: number): Sample {
  return { entityId, group, item, actual };
}

function ok(entityId: string, group: string, item: string, predicted: number, outlier = false): Prediction {
  return { entityId, group, item, method: 'm', predicted, parseStatus: 'ok', outlier, metadata: {} };
}

function failed(entityId: string, group: string, item: string, status: 'parse_failure' | 'inference_failure', why = 'x'): Prediction {
  return { entityId, group, item, method: 'm', predicted: null, parseStatus: status, parseError: why, outlier: false, metadata: {} };
}

const entities = ['e10', 'e2', 'e3', 'e4', 'e5', 'e6'];
const samples: Sample[] = entities.flatMap((e, i) => [s(e, 'g2', 'c', (i * 3) % 11), s(e, 'g1', 'o', 1 + (i % 5)), s(e, 'g1', 'b', i % 2)]);
const predictions: Prediction[] = [
  ...entities.map((e, i) => ok(e, 'g2', 'c', i === 4 ? 12 : (i * 7) % 11, i === 4)),
  ...entities.slice(0, 5).map((e, i) => (i === 2 ? failed(e, 'g1', 'o', 'parse_failure', 'no number') : ok(e, 'g1', 'o', 1 + ((i * 2) % 5)))),
  ...entities.slice(1).map((e, i) => (i === 0 ? failed(e, 'g1', 'b', 'inference_failure', 'timeout') : ok(e, 'g1', 'b', (i + 1) % 2))),
];

describe('TableBuilder', () => {
  const { table, answers } = tableOf([...samples].reverse(), predictions, items, 'm');

  it('given samples in any order, then rows are sorted by group, item, entity id (code units) with entities indexed in id order', () => {
    expect(table.items.map((i) => `${i.group}/${i.item}`)).toEqual(['g1/b', 'g1/o', 'g2/c']);
    expect(table.entityIds).toEqual(['e10', 'e2', 'e3', 'e4', 'e5', 'e6']);
    expect(Array.from(table.item)).toEqual([0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2]);
    expect(Array.from(table.entity.subarray(0, 6))).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('given failures and a missing prediction, then each row has its status, a NaN where there is no value, and the failures with their reasons', () => {
    expect(Array.from(answers.answers.status.subarray(0, 6))).toEqual([ANSWER_MISSING, ANSWER_INFERENCE_FAILURE, ANSWER_OK, ANSWER_OK, ANSWER_OK, ANSWER_OK]);
    expect(answers.answers.status[8]).toBe(ANSWER_PARSE_FAILURE);
    expect(Number.isNaN(answers.answers.predicted[8])).toBe(true);
    expect(answers.parseFailures).toEqual({ count: 1, first: [{ key: '["e3","g1","o"]', error: 'no number' }] });
    expect(answers.inferenceFailures).toEqual({ count: 1, first: [{ key: '["e2","g1","b"]', error: 'timeout' }] });
  });

  it('given a duplicate sample, a duplicate prediction or a prediction without a sample, then the error names the cell', () => {
    expect(() => tableOf([s('a', 'g1', 'b', 1), s('a', 'g1', 'b', 0)], [], items)).toThrow('duplicate sample ["a","g1","b"]');
    expect(() => tableOf([s('a', 'g1', 'b', 1)], [ok('a', 'g1', 'b', 1), ok('a', 'g1', 'b', 0)], items)).toThrow('duplicate prediction for ["a","g1","b"]');
    expect(() => tableOf([s('a', 'g1', 'b', 1)], [ok('z', 'g1', 'b', 1)], items)).toThrow('prediction without a sample: ["z","g1","b"]');
    expect(() => tableOf([s('a', 'g9', 'b', 1)], [], items)).toThrow('no item definition for ["g9","b"]');
    expect(() => new TableBuilder(items).addSample(s('a', 'g1', 'b', Number.NaN))).toThrow('sample ["a","g1","b"] has a non-finite actual value NaN');
  });
});

describe('addFailure', () => {
  it('given more failures than are shown, then the count is all of them and the examples the smallest keys, in order', () => {
    const failures = noFailures();
    for (const key of ['d', 'b', 'e', 'a', 'c']) addFailure(failures, key, `why ${key}`);
    expect(failures).toEqual({ count: 5, first: [{ key: 'a', error: 'why a' }, { key: 'b', error: 'why b' }, { key: 'c', error: 'why c' }] });
  });
});

describe('evaluateTable', () => {
  it('given the same samples and predictions, then exactly what the row-by-row join (joinRows, evaluateRows) scores', () => {
    const { table, answers } = tableOf(samples, predictions, items, 'm');
    const viaTable = evaluateTable('m', table, answers.answers, { resamples: 200, seed: 3 });
    expect(evaluateRows('m', joinRows(samples, predictions, items, 'm'), { resamples: 200, seed: 3 })).toEqual(viaTable);
    expect(evaluate({ method: 'm', samples, predictions, items, bootstrap: { resamples: 200, seed: 3 } })).toEqual(viaTable);
    expect(viaTable.byEntity.map((e) => `${e.group}/${e.entityId}`).sort()).toHaveLength(12);
  });
});

describe('evaluateEntities', () => {
  it('given samples with failures, an outlier and a missing prediction, then exactly the byEntity of evaluate, in its order', () => {
    const byEntity = evaluateEntities({ method: 'm', samples: [...samples].reverse(), predictions, items });
    expect(byEntity).toEqual(evaluate({ method: 'm', samples, predictions, items, bootstrap: { resamples: 1, seed: 1 } }).byEntity);
    expect(byEntity.map((e) => `${e.group}/${e.entityId}`)).toHaveLength(12);
  });

  it("given one group's samples, then the same entity scores as that group's part of the whole evaluation", () => {
    const g1 = (x: { group: string }) => x.group === 'g1';
    const whole = evaluate({ method: 'm', samples, predictions, items, bootstrap: { resamples: 1, seed: 1 } }).byEntity.filter(g1);
    expect(evaluateEntities({ method: 'm', samples: samples.filter(g1), predictions: predictions.filter(g1), items })).toEqual(whole);
  });

  it('given no samples, or a prediction of another method, then the errors evaluate gives', () => {
    expect(() => evaluateEntities({ method: 'm', samples: [], predictions: [], items })).toThrow('evaluate(m): no samples');
    expect(() => evaluateEntities({ method: 'x', samples, predictions, items })).toThrow('is from method "m", expected "x"');
  });
});

describe('baselines into columns', () => {
  const train = ['t1', 't2', 't3', 't4'].flatMap((e, i) => [s(e, 'g2', 'c', i * 2), s(e, 'g1', 'o', 1 + i), s(e, 'g1', 'b', i % 2)]);
  const features = featureTableOf([...['t1', 't2', 't3', 't4'], ...entities].map((e, i): [string, Array<[string, string]>] => [e, [['age', String(20 + ((i * 7) % 13))]]]));
  const { table } = tableOf(samples, [], items);

  it('given a fitted baseline, when it answers a table, then the values, outlier flags and failures of runBaseline, row by row', () => {
    const listed = runBaseline('baseline_knn', knnFitter(2), { trainSamples: train, testSamples: samples, items, features });
    const columns = answerTable('baseline_knn', knnFitter(2)({ trainSamples: train, items, features }), table);
    expect(Array.from(columns.predicted)).toEqual(listed.map((p) => p.predicted));
    expect(Array.from(columns.outlier)).toEqual(listed.map((p) => (p.outlier ? 1 : 0)));
  });

  it('given the standard baselines, when scored on a table, then the scores and digest scoreBaselines gives for the same samples', async () => {
    const onTable = await scoreTableBaselines({ method: 'm', table, items, baselines: standardTableBaselines({ trainSamples: train, items, features }) });
    const listed = standardBaselineRuns({ trainSamples: train, testSamples: samples, items, features });
    const onSamples = await scoreBaselines({ method: 'm', samples, items, baselines: listed });
    expect(onTable).toEqual(onSamples);
    expect(tableInputsDigest(table, items)).toBe(baselineInputsDigest(samples, items));
  });
});

describe('buildTableEvaluation', () => {
  it('given columns, then exactly the evaluation buildEvaluation makes from the lists', async () => {
    const { table, answers } = tableOf(samples, predictions, items, 'm');
    const baselines = await scoreBaselines({ method: 'm', samples, items, baselines: [{ method: TRAIN_MEAN_METHOD, predict: () => samples.map((x) => ({ ...ok(x.entityId, x.group, x.item, 0.5 + (x.group === 'g1' && x.item === 'o' ? 1 : 0)), method: TRAIN_MEAN_METHOD })) }] });
    const viaLists = buildEvaluation({ method: 'm', samples, predictions, items, baselines, spotCheckPaths: ['a.txt'] });
    expect(buildTableEvaluation({ method: 'm', table, answers, items, baselines, spotCheckPaths: ['a.txt'] })).toEqual(viaLists);
    expect(answerFactsOf(predictions)).toMatchObject({ usable: 14, outliers: 1, outliersByItem: [{ group: 'g2', item: 'c', count: 1 }] });
  });
});
