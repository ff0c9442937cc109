export type Summary = Record<string, number | string | null>;

/** The headline numbers shown side by side, in this order (baselines do not change between rounds). */
const HEADLINE = ['normalized_mae', 'scored', 'parse_failures', 'inference_failures', 'outliers'];

const cell = (v: number | string | null | undefined) => (typeof v === 'number' ? String(Number(v.toFixed(4))) : (v ?? '-'));

/**
 * Previous round vs the new one, one metric a line, with the change when both are numbers. With
 * no previous round (the run's own evaluation never completed), just the new numbers.
 */
export function roundComparison(before: { round: number; summary: Summary } | null, after: { round: number; summary: Summary }): string[] {
  const header = before ? ['', `round ${before.round}`, `round ${after.round}`, 'change'] : ['', `round ${after.round}`];
  const rows = HEADLINE.map((key) => {
    const now = after.summary[key];
    if (!before) return [key, cell(now)];
    const then = before.summary[key];
    const change = typeof now === 'number' && typeof then === 'number' ? now - then : null;
    return [key, cell(then), cell(now), change === null ? '-' : change === 0 ? '0' : `${change > 0 ? '+' : ''}${Number(change.toFixed(4))}`];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
}
