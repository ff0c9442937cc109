/**
 * CSV as RFC 4180 except the line break: LF ('\n'), not CRLF, because these files are read with
 * cat/head/diff far more than with Excel, and every CSV reader (pandas, DuckDB, Excel) accepts LF.
 * UTF-8 without a BOM; a header row; the last record ends with '\n'. A cell is quoted when it
 * contains a comma, a double quote, CR or LF (quotes doubled). null is an empty cell. Numbers are
 * written with String() (shortest round-trip form), booleans as true/false.
 *
 * Formula neutralisation (OWASP "CSV injection"): a string cell starting with = + - @ TAB or CR is
 * prefixed with a single quote, so a spreadsheet shows it as text instead of evaluating it. Cells
 * given as numbers are never touched (-1.5 stays -1.5); a string id such as "-5" becomes "'-5".
 */

export type CsvCell = string | number | boolean | null;

const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

export function csvCell(value: CsvCell): string {
  if (value === null) return '';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  const text = FORMULA_START.test(value) ? `'${value}` : value;
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * A cell read back, without the formula neutralisation (for a viewer, which is not a spreadsheet).
 * Lossy in one case the written file cannot tell apart: a text that itself began with a quote
 * before = + - @ TAB or CR reads back without that quote.
 */
export function csvCellText(cell: string): string {
  return cell.startsWith("'") && FORMULA_START.test(cell.slice(1)) ? cell.slice(1) : cell;
}

export function csvLine(cells: readonly CsvCell[]): string {
  return `${cells.map(csvCell).join(',')}\n`;
}

export function toCsv(header: string[], rows: Array<Array<CsvCell>>): string {
  const parts = [csvLine(header)];
  for (const row of rows) {
    if (row.length !== header.length) {
      throw new Error(`CSV row has ${row.length} cells, header has ${header.length} (${header.join(',')})`);
    }
    parts.push(csvLine(row));
  }
  return parts.join('');
}
