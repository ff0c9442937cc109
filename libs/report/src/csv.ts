import { toCsv as writeCsv, csvCell as writeCell, FORMULA_START, type CsvCell } from '@assay/data';

export type { CsvCell };

/**
 * A run directory's CSVs: the one CSV writer (@assay/data) with formula neutralisation on, since
 * these files are opened in spreadsheets (see csvCell there for the rules).
 */
export function toCsv(header: string[], rows: Array<Array<CsvCell>>): string {
  return writeCsv(header, rows, { neutraliseFormulas: true });
}

export function csvCell(value: CsvCell): string {
  return writeCell(value, { neutraliseFormulas: true });
}

/**
 * A cell read back, without the formula neutralisation (for a viewer, which is not a spreadsheet).
 * Lossy in one case the written file cannot tell apart: a text that itself began with a quote
 * before = + - @ TAB or CR reads back without that quote.
 */
export function csvCellText(cell: string): string {
  return cell.startsWith("'") && FORMULA_START.test(cell.slice(1)) ? cell.slice(1) : cell;
}
