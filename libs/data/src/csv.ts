/**
 * Minimal RFC 4180 writing for generated files: quote whenever a cell could be misread
 * (separator, quote, line break, or edge whitespace), so hostile ids survive a round trip.
 */
export function csvCell(value: string | number): string {
  const s = String(value);
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvLine(cells: Array<string | number>): string {
  return cells.map(csvCell).join(',') + '\n';
}
