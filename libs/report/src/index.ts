export * from './types';
export { encodePathSegment, decodePathSegment, MAX_SEGMENT_BYTES } from './path-segment';
export { toCsv, csvCell, csvCellText, type CsvCell } from './csv';
export { renderReadme } from './readme';
export { writeRunDirectory, renderItemFile, type WriteOptions } from './run-directory';
export {
  replaceDirectoryAtomically,
  recoverLeftovers,
  planLeftoverRecovery,
  leftoverKind,
  siblingOf,
  type Replaced,
  type Leftover,
  type LeftoverKind,
  type RecoveryStep,
} from './replace-directory';
export { renderReview, entityDir, groupDir, itemFileName } from './layout';
export { hashTree, TreeHasher } from './tree-hash';
export { outputNotWritable } from './unwritable';
export { RunDirectoryReader, RunFileError, readCsvTable, splitCallFile, type CallRecord, type PredictionPoints, type TextTable } from './read-run';
