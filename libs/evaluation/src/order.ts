// Total orders used everywhere in this lib, so output never depends on input order or locale;
// strings compare with compareCodeUnits from @assay/contracts.

/** Worst first for a lower-is-better score: null (nothing to judge) first, then descending. */
export function compareWorstFirst(a: number | null, b: number | null): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  return b - a;
}

/** Deterministic, locale-free rendering of numbers in human-readable text. */
export function fmt(x: number | null, digits = 4): string {
  return x === null ? 'n/a' : x.toFixed(digits);
}

export function pct(part: number, whole: number): string {
  return whole === 0 ? 'n/a' : `${((100 * part) / whole).toFixed(2)}%`;
}
