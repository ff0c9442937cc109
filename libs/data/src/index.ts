export * from './dataset';
export * from './split';
export { DatasetError, readTable, where } from './table';
export type { Table, TableRow } from './table';
export { mulberry32, shuffleInPlace, assertSeed } from './prng';
export { csvCell, csvLine, toCsv, FORMULA_START, type CsvCell, type CsvOptions } from './csv';
export { prettyJson } from './json-file';
export { loadCodebook, loadProfileView, selectFeatures, viewedFeatures } from './profile-view';
export type { CodebookEntry, ProfileView, ProfileViewConfig, ViewedColumn } from './profile-view';
