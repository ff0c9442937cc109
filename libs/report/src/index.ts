export * from './types';
export { encodePathSegment, decodePathSegment, MAX_SEGMENT_BYTES } from './path-segment';
export { toCsv, csvCell, csvCellText, type CsvCell } from './csv';
export { renderReadme, section, indent } from './readme';
export { writeRunDirectory, renderItemFile, renderItemFiles, rowGroupsOf, type PrefixLookup, type RowGroup, type RowGroups, type WriteOptions } from './run-directory';
export {
  replaceDirectoryAtomically,
  removeTree,
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
export { runMode } from './mode';
export { TextSpool, type SpoolExtent } from './text-spool';
export { ParquetFileWriter, type ColumnSpec, type ParquetValue } from './parquet';
export { textTable, fmt4, fmtWithCi, show } from './format';
export { RunDirectoryReader, RunFileError, readCsvTable, splitCallFile, type CallRecord, type PredictionPoints, type TextTable } from './read-run';
export {
  earlyDirOf,
  parseEarlyDirName,
  writeEarlyBatch,
  PrewrittenFiles,
  type StagedFiles,
  removeEarlyBookkeeping,
  removeFilesNotIn,
  removeStaleEarlyDirs,
  EARLY_BOOKKEEPING,
  type EarlyManifest,
} from './early-files';
