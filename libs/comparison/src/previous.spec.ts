import { renderReadme } from '@assay/report';
import { makeRunReport } from '../../report/src/testing/fixtures';
import { bestPreviousRun, comparedRunFromReport, differenceToPrevious, pairedSideOf } from '@assay/comparison';
import { entityIndexOf, joinRows, pairedDifference, rowMeanSums } from '@assay/evaluation';
import type { ItemDef, Prediction, Sample } from '@assay/contracts';

const items = [
  { group: 'trust', item: 'q1', kind: 'ordinal' as const, min: 1, max: 5 },
  { group: 'trust', item: 'q2', kind: 'binary' as const, min: 0, max: 1 },
  { group: 'habits', item: 'h1', kind: 'continuous' as const, min: 0, max: 10 },
];
const itemDefs: ItemDef[] = items.map((i) => ({ ...i, question: '' }));
const entities = Array.from({ length: 30 }, (_, i) => `e${i}`);
const quick = { resamples: 300, seed: 2 };

describe('bestPreviousRun', () => {
  it('given earlier runs, then the completed one with the lowest normalized_mae wins, ties by identity; none completed gives null', () => {
    const entry = (identity: string, primary: number | null, status = 'completed') => ({ identity, method: 'm', status, primary });
    expect(bestPreviousRun([entry('b', 0.2), entry('a', 0.2), entry('c', 0.1, 'failed'), entry('d', null)])?.identity).toBe('a');
    expect(bestPreviousRun([entry('x', 0.1, 'running')])).toBeNull();
  });
});

describe('differenceToPrevious', () => {
  const current = makeRunReport({ entities, items, seed: 1 });
  const run = comparedRunFromReport(current, 'completed');
  const side = (samples: Sample[], predictions: Prediction[], method: string, against?: ReturnType<typeof pairedSideOf>) => pairedSideOf(method, itemDefs, samples, predictions, against);
  const mine = side(run.samples, run.predictions, current.method);

  it('given the same predictions as the earlier run, then the difference is exactly 0 with a degenerate interval, and the README says so', () => {
    const entry = { identity: 'ffff0000_old', method: current.method, status: 'completed', primary: 0.3 };
    const best = differenceToPrevious(mine, { entry, side: side(run.samples, run.predictions, current.method, mine) }, quick);
    expect(best).toMatchObject({ identity: 'ffff0000_old', delta: 0, ci: { low: 0, high: 0 }, p: 1, entities: 30, note: null });
    const readme = renderReadme({ ...current, comparison: [entry], bestPrevious: best });
    expect(readme).toMatch(/Best earlier run on the same data and split: ffff0000_old \(.*normalized_mae 0\.3000\)/);
    expect(readme).toContain('This run minus it: +0.0000 [+0.0000, +0.0000] normalized_mae (negative = this run better), p 1.0000: no clear difference.');
  });

  it('given an earlier run over other samples, then no paired difference and the reason', () => {
    const other = comparedRunFromReport(makeRunReport({ entities: entities.slice(0, 10), items, seed: 3 }), 'completed');
    const entry = { identity: 'ffff0000_old', method: current.method, status: 'completed', primary: 0.3 };
    const best = differenceToPrevious(mine, { entry, side: side(other.samples, other.predictions, current.method, mine) }, quick);
    expect(best).toMatchObject({ delta: null, ci: null, note: expect.stringMatching(/different test samples/) });
  });

  it('given an earlier run over the same items with other truths (other labels settings), then no paired difference, and nothing thrown', () => {
    const relabelled = run.samples.map((s) => ({ ...s, actual: s.actual + 10 }));
    const entry = { identity: 'ffff0000_old', method: current.method, status: 'completed', primary: 0.3 };
    const best = differenceToPrevious(mine, { entry, side: side(relabelled, run.predictions, current.method, mine) }, quick);
    expect(best).toMatchObject({ delta: null, ci: null, note: expect.stringMatching(/different test samples/) });
  });

  it('given two runs over the same samples, when gathered a group at a time, then the difference is the one of every row at once, bit for bit', () => {
    // The same samples, other answers: every scored prediction moved by one step, kept in range.
    const earlier = {
      ...run,
      predictions: run.predictions.map((p) => {
        const item = itemDefs.find((i) => i.group === p.group && i.item === p.item)!;
        return p.predicted === null || p.outlier ? p : { ...p, predicted: p.predicted + 1 <= item.max ? p.predicted + 1 : item.min };
      }),
    };
    const entry = { identity: 'ffff0000_old', method: earlier.method, status: 'completed', primary: 0.3 };
    const best = differenceToPrevious(mine, { entry, side: side(earlier.samples, earlier.predictions, earlier.method, mine) }, quick);
    // The computation over every row at once, as the README's comparison was made before.
    const mineRows = joinRows(run.samples, run.predictions, run.items, run.method);
    const theirRows = joinRows(earlier.samples, earlier.predictions, run.items, earlier.method);
    const index = entityIndexOf(mineRows);
    const whole = pairedDifference(rowMeanSums(theirRows, 'normalized_mae', index), rowMeanSums(mineRows, 'normalized_mae', index), quick);
    expect(best.delta).not.toBe(0);
    expect([best.delta, best.ci?.low, best.ci?.high, best.p, best.entities]).toEqual([whole.delta, whole.ci?.low, whole.ci?.high, whole.p, index.size]);
  });

  it('given groups out of code-unit order, then it says so', () => {
    const side2 = pairedSideOf(current.method, itemDefs, [], []);
    side2.addGroup('trust', [], []);
    expect(() => side2.addGroup('habits', [], [])).toThrow(/group "habits" after "trust"/);
  });
});
