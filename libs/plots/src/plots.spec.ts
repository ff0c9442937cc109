import { distributionByGroupChart, pairedDeltaChart, renderSvg, type DistributionPoint } from '@assay/plots';

const points: DistributionPoint[] = [
  { group: 'trust', item: 'q1', level: 1, source: 'actual', share: 0.25 },
  { group: 'trust', item: 'q1', level: 2, source: 'actual', share: 0.75 },
  { group: 'trust', item: 'q1', level: 1, source: 'predicted', share: 0.5 },
  { group: 'trust', item: 'q1', level: 2, source: 'predicted', share: 0.5 },
  { group: 'values', item: 'q2', level: 1, source: 'actual', share: 1 },
  { group: 'values', item: 'q2', level: 1, source: 'predicted', share: 1 },
];

describe('renderSvg', () => {
  it('given a distribution chart, when rendered, then it is an SVG document naming the groups, items and sources', async () => {
    const svg = await renderSvg(distributionByGroupChart(points, 'predicted vs actual'));
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    for (const text of ['predicted vs actual', 'trust', 'values', 'q1', 'q2', 'predicted', 'actual']) expect(svg).toContain(`>${text}<`);
    // One bar per point, each with a visible width (a facet whose offset scale is shared draws them 0.25 px wide).
    const predictedBars = svg.match(/aria-roledescription="bar" d="M[\d.]+,[\d.]+h([\d.]+)[^"]*" fill="#f58518"/g) ?? [];
    expect(predictedBars).toHaveLength(3);
    for (const bar of predictedBars) expect(Number(/h([\d.]+)/.exec(bar)![1])).toBeGreaterThan(5);
  });

  it('given the same spec, when rendered twice (also concurrently with another chart), then the bytes are identical', async () => {
    const deltas = pairedDeltaChart([{ label: 'trust', series: 'b vs a', delta: -0.1, low: -0.2, high: 0.01 }], 'deltas', 'accuracy difference');
    const first = await renderSvg(deltas);
    const [again, other, third] = await Promise.all([renderSvg(deltas), renderSvg(distributionByGroupChart(points, 'x')), renderSvg(deltas)]);
    expect(again).toBe(first);
    expect(third).toBe(first);
    expect(other).not.toBe(first);
  });

  it('given paired deltas, when rendered, then each row label and the axis title appear', async () => {
    const svg = await renderSvg(
      pairedDeltaChart(
        [
          { label: 'trust', series: 'b vs a', delta: -0.1, low: -0.2, high: 0.01 },
          { label: 'values', series: 'b vs a', delta: 0.05, low: 0.01, high: 0.09 },
        ],
        'paired differences',
        'accuracy difference (b - a)',
      ),
    );
    for (const text of ['trust', 'values', 'accuracy difference (b - a)', 'paired differences']) expect(svg).toContain(`>${text}<`);
  });

  it('given a spec whose data names a URL, when rendered, then it is refused instead of fetched', async () => {
    await expect(renderSvg({ data: { url: 'http://127.0.0.1:9/data.json' }, mark: 'bar' })).rejects.toThrow(/inline/);
  });

  it('given a failing render, when another chart is rendered next, then the queue still works', async () => {
    await expect(renderSvg({ data: { url: 'file:///nope.json' }, mark: 'bar' })).rejects.toThrow();
    await expect(renderSvg(distributionByGroupChart(points, 'ok'))).resolves.toContain('<svg');
  });
});
