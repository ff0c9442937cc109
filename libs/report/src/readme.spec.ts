import type { MetricDefinition, ReviewLine } from '../../evaluation/src/types';
import { renderReview } from './layout';
import { betterColumn, renderReadme } from './readme';
import { hostileReport, makeRunReport } from './testing/fixtures';
import type { CacheStats } from './types';

describe('betterColumn', () => {
  const defs: MetricDefinition[] = [
    { name: 'accuracy', kinds: ['binary'], higherIsBetter: true, description: '' },
    { name: 'mae', kinds: ['ordinal'], higherIsBetter: false, description: '' },
    { name: 'actual_positive_rate', kinds: ['binary'], higherIsBetter: null, description: '' },
  ];

  it('given metrics with a direction, then higher or lower', () => {
    expect(betterColumn(defs, 'binary.accuracy')).toBe('higher');
    expect(betterColumn(defs, 'ordinal.mae')).toBe('lower');
  });

  it('given a descriptive metric (no better direction), then a dash, not "lower"', () => {
    expect(betterColumn(defs, 'binary.actual_positive_rate')).toBe('—');
  });

  it('given no definition, then lower for the primary metric and ? otherwise', () => {
    expect(betterColumn([], 'normalized_mae')).toBe('lower');
    expect(betterColumn([], 'binary.unknown')).toBe('?');
  });
});

describe('renderReview', () => {
  const check = (status: ReviewLine['status'], name = `check ${status}`): ReviewLine => ({ check: name, status, detail: 'd' });

  it('given to-dos among the checks, when rendered, then they follow the verdict apart and do not count in it', () => {
    expect(renderReview([check('pass', 'a'), check('todo', 'Spot-check'), check('warn', 'b'), check('todo', 'Notes')])).toBe(
      [
        '[PASS] a — d',
        '[WARN] b — d',
        'OVERALL: WARN — 0 fail, 1 warn, 1 pass of 2 checks',
        '',
        'FOR YOU TO DO (not checks: no code can judge these, so they are not part of the verdict):',
        '[TODO] Spot-check — d',
        '[TODO] Notes — d',
        '',
      ].join('\n'),
    );
  });

  it('given only passes and to-dos, when rendered, then the verdict is PASS', () => {
    expect(renderReview([check('pass'), check('todo')]).split('\n')[1]).toBe('OVERALL: PASS — 0 fail, 0 warn, 1 pass of 1 checks');
  });

  it('given no checks at all, when rendered, then it warns that none were produced', () => {
    expect(renderReview([check('todo')]).split('\n')[0]).toBe('OVERALL: WARN — no review checks were produced');
    expect(renderReview([])).toBe('OVERALL: WARN — no review checks were produced\n');
  });
});

describe('README prefix-cache section', () => {
  const report = makeRunReport({ entities: ['e1', 'e2'], items: [{ group: 'g', item: 'q1', kind: 'ordinal', min: 1, max: 5 }] });
  const cacheText = (cache: CacheStats) => {
    const text = renderReadme({ ...report, cache });
    return text.slice(text.indexOf('Prefix-cache hit rate'), text.indexOf('Prefix-cache hit rate') + 600);
  };

  it('given no cached_tokens and no counters, when rendered, then the hit rate is unknown (not 0%) and no dispatch-order advice is given', () => {
    const text = cacheText({ hitRate: null, idealHitRate: 0.9, promptTokens: 1000, cachedTokens: 0, source: 'unknown' });
    expect(text).toMatch(/^Prefix-cache hit rate: unknown \(ideal for this prompt order: 90\.00%\)/);
    expect(text).not.toMatch(/hit rate: 0\.00%|dispatch order/);
  });

  it('given the servers’ counters, when rendered, then the rate says where it comes from, and when the servers were shared', () => {
    const text = cacheText({ hitRate: 0.96, idealHitRate: 0.97, promptTokens: 1000, cachedTokens: 0, source: 'server-counters', shared: true });
    expect(text).toMatch(/^Prefix-cache hit rate: 96\.00%/);
    expect(text).toMatch(/vllm:prefix_cache_hits_total .*server-wide/s);
    expect(text).toMatch(/other clients did use them/);
  });
});

describe('README of a run without a model (a baseline fitted on the train split)', () => {
  const report = { ...hostileReport(), method: 'baseline_knn', methodLabel: 'baseline: kNN (k=10)', model: null };
  const readme = renderReadme(report);

  it('given no model, then the model section says so and there is no prefix-cache section, hit rate or advice', () => {
    expect(readme).toContain('None: baseline_knn (baseline: kNN (k=10)) is fitted on the train split (no model calls).');
    expect(readme).not.toContain('PREFIX CACHE');
    expect(readme).not.toMatch(/hit rate|enable-prefix-caching/i);
  });

  it('given no model, then the navigation describes item files as METADATA and what the method used', () => {
    expect(readme).toContain('<item>.txt    METADATA of one prediction and what the method used');
    expect(readme).not.toContain('full INPUT / OUTPUT / METADATA of one call');
  });
});
