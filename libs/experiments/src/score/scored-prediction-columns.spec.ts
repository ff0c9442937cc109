import type { ItemDef } from '@assay/contracts';
import { TableBuilder } from '@assay/evaluation';
import { ScoredPredictionColumnsBuilder, scoredPredictionColumns, SpotCheckPicker, type ScoredPrediction } from './scoring';

const ITEMS: ItemDef[] = [
  { group: 'g1', item: 'q2', question: 'q2?', min: 0, max: 1, kind: 'binary' },
  { group: 'g0', item: 'q0', question: 'q0?', min: 1, max: 5, kind: 'ordinal' },
  { group: 'g0', item: 'q1', question: 'q1?', min: 1, max: 5, kind: 'ordinal' },
  { group: 'g1', item: 'q0', question: 'q0?', min: 1, max: 5, kind: 'ordinal' },
];

/** A run's predictions in log order (entity batch after entity batch): answers, outliers, parse and inference failures. */
function runPredictions(): ScoredPrediction[] {
  const predictions: ScoredPrediction[] = [];
  for (let e = 0; e < 7; e++) {
    ITEMS.forEach((it, j) => {
      const i = e * ITEMS.length + j;
      const base = { promptId: `full:e${(e * 3) % 7}:${it.group}:${it.item}`, entityId: `e${(e * 3) % 7}`, group: it.group, item: it.item, method: 'llm', metadata: {}, actual: it.min + (i % 2) };
      if (i % 11 === 3) predictions.push({ ...base, predicted: null, parseStatus: 'inference_failure', parseError: `HTTP 503 (${i})`, outlier: false });
      else if (i % 7 === 2) predictions.push({ ...base, predicted: null, parseStatus: 'parse_failure', parseError: `no number in answer ${i}`, outlier: false });
      else if (i % 9 === 5) predictions.push({ ...base, predicted: it.max + 1, parseStatus: 'ok', outlier: true });
      else predictions.push({ ...base, predicted: it.min + (i % 3) * (it.max - it.min) / 2, parseStatus: 'ok', outlier: false });
    });
  }
  return predictions;
}

/** The columns as the evaluator built them before pages: one loop over the whole run's array. */
function reference(predictions: ScoredPrediction[]) {
  const builder = new TableBuilder(ITEMS, 'llm');
  const spotChecks = new SpotCheckPicker();
  for (const p of predictions) {
    builder.addSample(p);
    builder.addPrediction(p);
    spotChecks.add(p);
  }
  return { ...builder.build(), spotCheckPaths: spotChecks.paths() };
}

/** The predictions cut into pages of `size` (the last one shorter), with an empty page between each. */
function pagesOf(predictions: ScoredPrediction[], size: number): ScoredPrediction[][] {
  const pages: ScoredPrediction[][] = [];
  for (let start = 0; start < predictions.length; start += size) pages.push(predictions.slice(start, start + size), []);
  return pages;
}

describe('ScoredPredictionColumnsBuilder', () => {
  it.each([1, 3, ITEMS.length, 10, 1000])('given a run read in pages of %i predictions, when added page by page, then the table, answers and spot checks of the whole-array build', (size) => {
    const predictions = runPredictions();
    const builder = new ScoredPredictionColumnsBuilder(ITEMS, 'llm');
    for (const page of pagesOf(predictions, size)) builder.add(page);
    expect(builder.count).toBe(predictions.length);
    const columns = builder.finish();
    expect(columns).toEqual(reference(predictions));
    expect(columns.answers.parseFailures.count + columns.answers.inferenceFailures.count).toBeGreaterThan(0);
    expect(columns.spotCheckPaths).toHaveLength(5);
  });

  it('given the earlier batches a page at a time and then the last batch, when finished, then what scoredPredictionColumns makes of the run in one array', () => {
    const predictions = runPredictions();
    const last = predictions.slice(-ITEMS.length);
    const builder = new ScoredPredictionColumnsBuilder(ITEMS, 'llm');
    for (const page of pagesOf(predictions.slice(0, -ITEMS.length), 5)) builder.add(page);
    builder.add(last);
    expect(builder.finish()).toEqual(scoredPredictionColumns(ITEMS, 'llm', predictions));
  });

  it('given a builder finished, when more predictions are added, then it refuses (they would be left out of the evaluation)', () => {
    const builder = new ScoredPredictionColumnsBuilder(ITEMS, 'llm');
    builder.add(runPredictions());
    builder.finish();
    expect(() => builder.add(runPredictions())).toThrow('after the evaluation columns were finished');
  });
});
