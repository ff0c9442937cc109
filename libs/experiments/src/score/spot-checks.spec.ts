import { entityDir, itemFileName } from '@assay/report';
import { SpotCheckPicker, spotCheckPaths, type ScoredPrediction } from './scoring';

/** The picks as first written, over whole prediction objects: the reference the picker must match. */
function reference(predictions: ScoredPrediction[]): string[] {
  const byId = [...predictions].sort((a, b) => (a.promptId < b.promptId ? -1 : a.promptId > b.promptId ? 1 : 0));
  const picks: ScoredPrediction[] = [];
  const worst = [...byId].filter((p) => p.predicted !== null).sort((a, b) => Math.abs(b.predicted! - b.actual) - Math.abs(a.predicted! - a.actual))[0];
  if (worst) picks.push(worst);
  const failure = byId.find((p) => p.parseStatus !== 'ok');
  if (failure) picks.push(failure);
  for (let i = 0; picks.length < 5 && i < 5; i++) {
    const p = byId[Math.floor((i * byId.length) / 5)];
    if (p && !picks.includes(p)) picks.push(p);
  }
  return picks.map((p) => `${entityDir(p.group, p.entityId)}/${itemFileName(p.item)}`);
}

function prediction(i: number, predicted: number | null, actual: number): ScoredPrediction {
  return {
    promptId: `p${(i * 7) % 23}`,
    entityId: `e${i % 5}`,
    group: `g${i % 2}`,
    item: `q${i % 3}`,
    method: 'm',
    predicted,
    parseStatus: predicted === null ? 'parse_failure' : 'ok',
    outlier: false,
    metadata: {},
    actual,
  };
}

describe('SpotCheckPicker', () => {
  it('given predictions with equal errors and a failure, when added one at a time in any order, then the picks of the whole-list rule', () => {
    const predictions = Array.from({ length: 23 }, (_, i) => prediction(i, i === 9 ? null : i % 4, (i * 5) % 4));
    const picker = new SpotCheckPicker();
    for (const p of [...predictions].reverse()) picker.add(p);
    expect(picker.paths()).toEqual(reference([...predictions].reverse()));
    expect(spotCheckPaths(predictions)).toEqual(reference(predictions));
    expect(spotCheckPaths(predictions)).toHaveLength(5);
  });

  it('given no prediction, then no file to check', () => {
    expect(new SpotCheckPicker().paths()).toEqual([]);
  });
});
