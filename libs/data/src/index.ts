export * from './dataset';
export * from './split';
export { DatasetError, readTable, where } from './table';
export type { Table, TableRow } from './table';
export { mulberry32, shuffleInPlace, assertSeed } from './prng';
export { csvCell, csvLine } from './csv';
export { prettyJson } from './json-file';
