import { distributionPoints } from './distribution-plot';
import type { PredictionRow } from './types';

function row(entityId: string, item: string, kind: PredictionRow['kind'], min: number, max: number, actual: number, predicted: number | null): PredictionRow {
  return { entityId, group: 'g', item, kind, min, max, actual, predicted } as PredictionRow;
}

describe('distributionPoints', () => {
  it('given an ordinal item, then shares per scale point over scored rows only, every level present, predictions rounded and clamped', () => {
    const points = distributionPoints([
      row('a', 'q', 'ordinal', 1, 3, 1, 1.4),
      row('b', 'q', 'ordinal', 1, 3, 3, 7), // an outlier counts at the top of the scale
      row('c', 'q', 'ordinal', 1, 3, 3, null), // unscored: in neither distribution
    ]);
    expect(points).toEqual([
      { group: 'g', item: 'q', level: 1, source: 'actual', share: 0.5 },
      { group: 'g', item: 'q', level: 2, source: 'actual', share: 0 },
      { group: 'g', item: 'q', level: 3, source: 'actual', share: 0.5 },
      { group: 'g', item: 'q', level: 1, source: 'predicted', share: 0.5 },
      { group: 'g', item: 'q', level: 2, source: 'predicted', share: 0 },
      { group: 'g', item: 'q', level: 3, source: 'predicted', share: 0.5 },
    ]);
  });

  it('given a continuous item, then ten bins of its range, the maximum in the last bin', () => {
    const points = distributionPoints([row('a', 'c', 'continuous', 0, 10, 10, 0.5)]);
    expect(points.filter((p) => p.source === 'actual').map((p) => p.level)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(points.find((p) => p.source === 'actual' && p.share === 1)?.level).toBe(9);
    expect(points.find((p) => p.source === 'predicted' && p.share === 1)?.level).toBe(0);
  });
});
