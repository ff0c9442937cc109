import { renderReadme } from '@assay/report';
import { makeRunReport } from '../../report/src/testing/fixtures';
import { bestPreviousRun, comparedRunFromReport, differenceToPrevious } from '@assay/comparison';

const items = [
  { group: 'trust', item: 'q1', kind: 'ordinal' as const, min: 1, max: 5 },
  { group: 'trust', item: 'q2', kind: 'binary' as const, min: 0, max: 1 },
];
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

  it('given the same predictions as the earlier run, then the difference is exactly 0 with a degenerate interval, and the README says so', () => {
    const same = comparedRunFromReport(current, 'completed');
    const entry = { identity: 'ffff0000_old', method: current.method, status: 'completed', primary: 0.3 };
    const best = differenceToPrevious(current, { entry, samples: same.samples, predictions: same.predictions }, quick);
    expect(best).toMatchObject({ identity: 'ffff0000_old', delta: 0, ci: { low: 0, high: 0 }, p: 1, entities: 30, note: null });
    const readme = renderReadme({ ...current, comparison: [entry], bestPrevious: best });
    expect(readme).toMatch(/Best earlier run on the same data and split: ffff0000_old \(.*normalized_mae 0\.3000\)/);
    expect(readme).toContain('This run minus it: +0.0000 [+0.0000, +0.0000] normalized_mae (negative = this run better), p 1.0000: no clear difference.');
  });

  it('given an earlier run over other samples, then no paired difference and the reason', () => {
    const other = comparedRunFromReport(makeRunReport({ entities: entities.slice(0, 10), items, seed: 3 }), 'completed');
    const entry = { identity: 'ffff0000_old', method: current.method, status: 'completed', primary: 0.3 };
    const best = differenceToPrevious(current, { entry, samples: other.samples, predictions: other.predictions }, quick);
    expect(best).toMatchObject({ delta: null, ci: null, note: expect.stringMatching(/different test samples/) });
  });

  it('given an earlier run over the same items with other truths (other labels settings), then no paired difference, and nothing thrown', () => {
    const same = comparedRunFromReport(current, 'completed');
    const relabelled = same.samples.map((s) => ({ ...s, actual: s.actual + 10 }));
    const entry = { identity: 'ffff0000_old', method: current.method, status: 'completed', primary: 0.3 };
    const best = differenceToPrevious(current, { entry, samples: relabelled, predictions: same.predictions }, quick);
    expect(best).toMatchObject({ delta: null, ci: null, note: expect.stringMatching(/different test samples/) });
  });
});
