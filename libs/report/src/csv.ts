import { toCsv as writeCsv, csvCell as writeCell, type CsvCell } from '@assay/data';

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
