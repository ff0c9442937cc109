import { roundComparison } from './reevaluate-view';

describe('round comparison', () => {
  const round1 = { normalized_mae: 0.25, scored: 36, parse_failures: 4, inference_failures: 0, outliers: 1 };
  const round2 = { normalized_mae: 0.2, scored: 40, parse_failures: 0, inference_failures: 0, outliers: 1 };

  it('given two rounds, shows each headline metric before and after with the change', () => {
    expect(roundComparison({ round: 1, summary: round1 }, { round: 2, summary: round2 })).toEqual([
      '                    round 1  round 2  change',
      'normalized_mae      0.25     0.2      -0.05',
      'scored              36       40       +4',
      'parse_failures      4        0        -4',
      'inference_failures  0        0        0',
      'outliers            1        1        0',
    ]);
  });

  it('given no previous round (the run never finished evaluating), shows the new numbers alone', () => {
    expect(roundComparison(null, { round: 2, summary: { ...round2, normalized_mae: null } })).toEqual([
      '                    round 2',
      'normalized_mae      -',
      'scored              40',
      'parse_failures      0',
      'inference_failures  0',
      'outliers            1',
    ]);
  });
});
