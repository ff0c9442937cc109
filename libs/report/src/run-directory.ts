import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { compareCodeUnits, groupEntityKey } from '@assay/contracts';
import { prettyJson } from '@assay/data';
import { compareWorstFirst } from '@assay/evaluation';
import type { EntityScore, MethodScores, ScoreSummary } from '../../evaluation/src/types';
import { type CsvCell, toCsv } from './csv';
import {
  fmt4,
  fmtValue,
  kindMetricKeys,
  metricValue,
  orderedSummary,
  show,
  textTable,
} from './format';
import {
  baselinesByName,
  compareEntitiesWorstFirst,
  entityDir,
  EntityScores,
  type EntityEntry,
  groupDir,
  groupsWorstFirst,
  itemFileName,
  renderReview,
  runReview,
  sortRows,
  SUMMARY_FILE,
} from './layout';
import { ParquetFileWriter, PrefixEncoder, PREDICTIONS_COLUMNS, rawOutputsColumns } from './parquet';
import { groupDistributionSvg, type DistributionRow } from './distribution-plot';
import { renderReadmeOf } from './readme';
import type { CacheStats, EntityInputCall, ModelCall, PredictionRow, RunReport, RunWideReport, WriteResult } from './types';
import { FileSink } from './file-sink';
import { removeFilesNotIn, type StagedFiles } from './early-files';
import { HashedFile } from './hashed-file';
import { TreeHasher } from './tree-hash';

/** Per group: predicted vs actual answer distribution per item (linked from README.txt). */
export const DISTRIBUTION_CHART = 'distribution.svg';

/**
 * Writes the run directory (README.txt, metrics, worst-first CSV drill-down with parquet twins,
 * one file per model call, diagnostics, the review checklist) into `dir`, which must be
 * absent or empty (normally a temporary sibling later swapped in by replaceDirectoryAtomically).
 *
 * The tree is a pure function of `report`: no clock, no host reads, every list sorted with a total
 * order (code-unit comparison, ties broken by id), so identical input gives byte-identical files.
 * Memory stays bounded for large runs: rows come a group at a time (RowGroups) and the run-wide
 * files are made from small per-group aggregates, a full prompt (shared prefix + suffix) is built
 * only for the one row being written, parquet rows are flushed per row group, and the file sink
 * holds at most a few MB of pending content. Parquet encoding runs here while the sink's thread writes the
 * text files, so both cores work.
 */

const GROUP_PREDICTION_HEADER = [
  'entity_id', 'group', 'item', 'kind', 'min', 'max', 'actual', 'predicted', 'abs_error', 'parse_status', 'outlier', 'parse_error',
];
/** Every row's actual and predicted value, one table for the whole run. */
const FLAT_TABLE = 'diagnostics/actual_vs_predicted.csv';

const FLAT_HEADER = [
  ...GROUP_PREDICTION_HEADER,
  'inference_error', 'prompt_id', 'prompt_tokens', 'completion_tokens', 'cached_tokens', 'latency_ms', 'attempts', 'worker',
];

function groupPredictionCells(r: PredictionRow): CsvCell[] {
  return [r.entityId, r.group, r.item, r.kind, r.min, r.max, r.actual, r.predicted, r.absError, r.parseStatus, r.outlier, r.parseError];
}

function flatCells(r: PredictionRow): CsvCell[] {
  return [
    ...groupPredictionCells(r),
    r.inferenceError, r.promptId, r.promptTokens, r.completionTokens, r.cachedTokens, r.latencyMs, r.attempts, r.worker,
  ];
}

function baselineColumn(method: string): string {
  return `baseline.${method}.normalized_mae`;
}

/** Counts straight from the rows, for an entity or group the evaluator did not score. */
function countsFromRows(rows: readonly PredictionRow[]): ScoreSummary {
  return {
    n: rows.length,
    nScored: rows.filter((r) => r.parseStatus === 'ok' && r.predicted !== null).length,
    parseFailures: rows.filter((r) => r.parseStatus === 'parse_failure').length,
    inferenceFailures: rows.filter((r) => r.parseStatus === 'inference_failure').length,
    outliers: rows.filter((r) => r.outlier).length,
    primary: { name: 'normalized_mae', value: null, higherIsBetter: false },
    metrics: {},
  };
}

/** The counts of two sets of rows together (countsFromRows of both). */
function addCounts(a: ScoreSummary, b: ScoreSummary): ScoreSummary {
  return {
    ...a,
    n: a.n + b.n,
    nScored: a.nScored + b.nScored,
    parseFailures: a.parseFailures + b.parseFailures,
    inferenceFailures: a.inferenceFailures + b.inferenceFailures,
    outliers: a.outliers + b.outliers,
  };
}

function summaryCells(s: ScoreSummary, kindKeys: readonly string[]): CsvCell[] {
  return [s.n, s.nScored, metricValue(s, 'normalized_mae'), ...kindKeys.map((k) => metricValue(s, k)), s.parseFailures, s.inferenceFailures, s.outliers];
}

function summaryHeader(kindKeys: readonly string[]): string[] {
  return ['n', 'n_scored', 'normalized_mae', ...kindKeys, 'parse_failures', 'inference_failures', 'outliers'];
}

/** The model input exactly as sent: the entity's shared prefix plus this item's suffix. */
function inputText(prefixes: PrefixLookup, r: PredictionRow): string {
  return prefixOf(prefixes, r) + r.suffix;
}

function prefixOf(prefixes: PrefixLookup, r: PredictionRow): string {
  const prefix = prefixes.get(r.prefixId);
  if (prefix === undefined) {
    throw new Error(`prefix ${JSON.stringify(r.prefixId)} of ${JSON.stringify([r.group, r.entityId, r.item])} is missing from report.prefixes`);
  }
  return prefix;
}

function outputText(r: PredictionRow): string {
  if (r.outputText !== null) return r.outputText;
  if (r.inferenceError !== null) return `[no output: inference failed] ${r.inferenceError}`;
  return '[no output recorded]';
}

/**
 * A parse failure of an answer the server cut off at max_tokens is most likely the cut, not the
 * parser or the model's reasoning: the remedy is a larger max_tokens (or a shorter answer format).
 * Said where a researcher looks at failures (parse_failures.csv and the item's METADATA).
 */
export function truncationNote(r: PredictionRow): string | null {
  return r.parseStatus === 'parse_failure' && r.finishReason === 'length'
    ? `the answer was truncated at max_tokens=${r.call?.maxTokens ?? 'n/a'} (finish_reason: length)`
    : null;
}

function failureReason(r: PredictionRow): string | null {
  const reason = r.parseError ?? (r.parseStatus === 'inference_failure' ? r.inferenceError : null);
  const truncated = truncationNote(r);
  return truncated === null ? reason : reason === null ? truncated : `${reason}; ${truncated}`;
}

/** finish_reason with what it means where it matters: 'length' is an answer cut off. */
function finishReasonText(r: PredictionRow): string {
  if (r.finishReason === null) return 'n/a';
  return r.finishReason === 'length' ? `length (cut off at max_tokens=${r.call?.maxTokens ?? 'n/a'})` : show(r.finishReason);
}

/** A call's time; a call with a logged result but no time comes from a log older than call timing. */
function callTime(r: PredictionRow, time: string | null): string {
  if (time !== null) return time;
  return r.latencyMs === null ? 'n/a' : 'n/a (not recorded in this log)';
}

function samplingText(c: ModelCall): string {
  return `temperature=${c.temperature}, max_tokens=${c.maxTokens}, seed=${c.seed}, stop=${JSON.stringify(c.stop)}, guided_json=${c.guidedJson}`;
}

function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ');
}

/** An entity-input call (a persona summary) in the shape of an item file: INPUT, OUTPUT, METADATA. */
export function renderEntityInputFile(c: EntityInputCall): string {
  return [
    '=== INPUT ===',
    c.input,
    '',
    '=== OUTPUT ===',
    c.outputText ?? `(no output: ${c.error ?? 'no answer recorded'})`,
    '',
    '=== METADATA ===',
    `entity_id: ${show(c.entityId)}`,
    `stage: ${c.stage} (one call per entity; the entity's prediction prompts read its output in place of {profile})`,
    `tokens: prompt=${fmtValue(c.promptTokens)}, completion=${fmtValue(c.completionTokens)}, cached=${fmtValue(c.cachedTokens)}`,
    `latency_ms: ${fmtValue(c.latencyMs)}`,
    `finish_reason: ${c.finishReason === null ? 'n/a' : show(c.finishReason)}`,
    `model: ${show(c.call.model)}${c.call.loraAdapter === null ? '' : ` (LoRA adapter ${show(c.call.loraAdapter)})`}`,
    `sampling: ${samplingText(c.call)}`,
    `attempts: ${c.attempts}`,
    `worker: ${c.worker === null ? 'n/a' : show(c.worker)}`,
    '',
  ].join('\n');
}

/** The METADATA lines of a prediction whatever made it: the cell, its answer and how it parsed. */
function predictionLines(r: PredictionRow): string[] {
  const reason = failureReason(r);
  return [
    `entity_id: ${show(r.entityId)}`,
    `group: ${show(r.group)}`,
    `item: ${show(r.item)}`,
    `actual: ${fmtValue(r.actual)}`,
    `predicted: ${fmtValue(r.predicted)}`,
    `abs_error: ${fmt4(r.absError)}`,
    `value_range: [${fmtValue(r.min)}, ${fmtValue(r.max)}]`,
    `parse_status: ${r.parseStatus}${reason === null ? '' : ` (${oneLine(reason)})`}`,
  ];
}

/** The metadata a fitted method recorded for one prediction, one `key: value` line each (values as JSON). */
function fittedLines(fitted: Record<string, unknown>): string[] {
  const keys = Object.keys(fitted).sort(compareCodeUnits);
  return keys.length === 0 ? ['(nothing recorded)'] : keys.map((k) => `${k}: ${JSON.stringify(fitted[k])}`);
}

/**
 * A prediction of a method fitted without a model (a baseline): no INPUT / OUTPUT, since no call
 * was made; METADATA, then what the method used for this cell (e.g. kNN's neighbours and their
 * answers, the train mean and its n).
 */
function renderFittedItemFile(r: PredictionRow, method: string, fitted: Record<string, unknown>): string {
  return [
    '=== METADATA ===',
    `method: ${show(method)} (fitted on the train split, no model call)`,
    ...predictionLines(r),
    '',
    '=== WHAT THE METHOD USED ===',
    ...fittedLines(fitted),
    '',
  ].join('\n');
}

/** One prediction's file: a model call's INPUT / OUTPUT / METADATA, or for a fitted method (`method` names it) METADATA and what it used. */
export function renderItemFile(r: PredictionRow, input: string, method?: string): string {
  if (r.fitted !== null) {
    if (method === undefined) throw new Error(`prediction ${JSON.stringify([r.group, r.entityId, r.item])} was fitted, and its file needs the method's name`);
    return renderFittedItemFile(r, method, r.fitted);
  }
  const call = r.call;
  if (call === null) throw new Error(`prediction ${JSON.stringify([r.group, r.entityId, r.item])} has neither a model call nor fitted metadata`);
  return [
    '=== INPUT ===',
    input,
    '',
    '=== OUTPUT ===',
    outputText(r),
    '',
    '=== METADATA ===',
    ...predictionLines(r),
    `tokens: prompt=${fmtValue(r.promptTokens)}, completion=${fmtValue(r.completionTokens)}, cached=${fmtValue(r.cachedTokens)}`,
    `latency_ms: ${fmtValue(r.latencyMs)}`,
    `finish_reason: ${finishReasonText(r)}`,
    `model: ${show(call.model)}${call.loraAdapter === null ? '' : ` (LoRA adapter ${show(call.loraAdapter)})`}`,
    `sampling: ${samplingText(call)}`,
    `attempts: ${r.attempts}`,
    `worker: ${r.worker === null ? 'n/a' : show(r.worker)}`,
    `replica: ${r.replica === null ? 'n/a' : show(r.replica)}`,
    // Only where the call failed over, so the files of calls served by their own replica keep their bytes.
    ...(r.failoverFrom === null ? [] : [`failover_from: ${show(r.failoverFrom)}`]),
    `started_at: ${callTime(r, r.startedAt)}`,
    `finished_at: ${callTime(r, r.finishedAt)}`,
    '',
  ].join('\n');
}

function renderEntitySummary(
  report: RunWideReport,
  group: string,
  entityId: string,
  rows: readonly PredictionRow[],
  summary: ScoreSummary | undefined,
  rank: { position: number; of: number },
  fileNames: readonly string[],
): string {
  const s = summary ?? countsFromRows(rows);
  const table = textTable([
    ['item', 'kind', 'actual', 'predicted', 'abs_error', 'range', 'status', 'file'],
    ...rows.map((r, i) => [
      show(r.item),
      r.kind,
      fmtValue(r.actual),
      fmtValue(r.predicted),
      fmt4(r.absError),
      `[${fmtValue(r.min)}, ${fmtValue(r.max)}]`,
      r.parseStatus + (r.outlier ? ',outlier' : ''),
      fileNames[i],
    ]),
  ]);
  return [
    `entity_id: ${show(entityId)}`,
    `group: ${show(group)}`,
    `method: ${show(report.method)}   run: ${show(report.identity)}`,
    `normalized_mae: ${fmt4(s.primary.value)} (lower is better; rank ${rank.position} of ${rank.of} in this group, worst first)`,
    `predictions: ${s.n}   scored: ${s.nScored}   parse failures: ${s.parseFailures}   inference failures: ${s.inferenceFailures}   outliers: ${s.outliers}`,
    '',
    table,
    '',
  ].join('\n');
}

/** The file names of one entity's rows (sorted by item) in its folder, guarded against collisions. */
function itemFileNames(erows: readonly PredictionRow[], edir: string, itemNames: Set<string>): string[] {
  return erows.map((r) => {
    const name = itemFileName(r.item);
    claimName(itemNames, name, r.item, `${edir}/`);
    return name;
  });
}

/** A prediction's item file as the tree holds it: a fitted one names the method, a model call shows its full input. */
function itemFileContent(r: PredictionRow, prefixes: PrefixLookup, method: string): string {
  return r.fitted !== null || r.call === null ? renderItemFile(r, '', method) : renderItemFile(r, inputText(prefixes, r));
}

/**
 * The item files of some rows (e.g. one entity batch's, which may span groups), with their paths
 * in the run directory. Their bytes depend on these rows, their prefixes and the method only (no
 * rank, no run-wide number, no link to an index page): the reporter writes them as soon as the
 * batch is scored, and writeRunDirectory produces the same bytes from the whole run.
 */
export function renderItemFiles(rows: readonly PredictionRow[], prefixes: PrefixLookup, method: string): Array<{ path: string; content: string }> {
  const files: Array<{ path: string; content: string }> = [];
  for (const erows of runsBy(sortRows(rows), (r) => groupEntityKey(r.group, r.entityId))) {
    const edir = entityDir(erows[0].group, erows[0].entityId);
    const names = itemFileNames(erows, edir, new Set());
    erows.forEach((r, i) => files.push({ path: `${edir}/${names[i]}`, content: itemFileContent(r, prefixes, method) }));
  }
  return files;
}

/** Guards the (hash-shortened) names of one folder against the 2^-80 collision. */
function claimName(seen: Set<string>, name: string, id: string, where: string): void {
  if (seen.has(name)) throw new Error(`name collision in ${where}: ${name} (id ${JSON.stringify(id)})`);
  seen.add(name);
}

/** Consecutive runs of rows sharing a key; rows must already be sorted by that key. */
function runsBy(rows: readonly PredictionRow[], key: (r: PredictionRow) => string): PredictionRow[][] {
  const runs: PredictionRow[][] = [];
  for (const r of rows) {
    const last = runs[runs.length - 1];
    if (last && key(last[0]) === key(r)) last.push(r);
    else runs.push([r]);
  }
  return runs;
}

function metricsJson(report: RunWideReport): unknown {
  const ev = report.evaluation;
  const baselines = baselinesByName(report);
  const scores = (m: MethodScores) => ({
    method: m.method,
    overall: orderedSummary(m.overall),
    byGroup: [...m.byGroup]
      .sort((a, b) => compareWorstFirst(a.summary.primary.value, b.summary.primary.value) || compareCodeUnits(a.group, b.group))
      .map((g) => ({ group: g.group, summary: orderedSummary(g.summary) })),
    byItem: [...m.byItem]
      .sort((a, b) => compareCodeUnits(a.group, b.group) || compareCodeUnits(a.item, b.item))
      .map((i) => ({ group: i.group, item: i.item, kind: i.kind, summary: orderedSummary(i.summary) })),
  });
  const all = [ev.method, ...baselines];
  const groups = groupsWorstFirst(report, []).map((g) => g.group);
  return {
    identity: report.identity,
    method: report.method,
    attempt: report.attempt,
    evaluatorVersion: ev.evaluatorVersion,
    primaryMetric: { name: 'normalized_mae', higherIsBetter: false },
    sideBySide: {
      overall: all.map((m, i) => ({
        method: m.method,
        role: i === 0 ? 'method' : 'baseline',
        normalized_mae: m.overall.primary.value,
        n: m.overall.n,
        nScored: m.overall.nScored,
      })),
      byGroup: groups.map((group) => ({
        group,
        normalized_mae: all.map((m) => ({
          method: m.method,
          value: m.byGroup.find((g) => g.group === group)?.summary.primary.value ?? null,
        })),
      })),
    },
    scores: { method: scores(ev.method), baselines: baselines.map(scores) },
    cache: metricsCache(report.cache),
    definitions: ev.definitions,
  };
}

/** metrics.json's cache: `source` only where it is not the answers' usage, so such runs' files stay as they were. */
function metricsCache(cache: CacheStats): CacheStats {
  const { source, shared, ...rest } = cache;
  if (source === undefined || source === 'usage') return rest;
  return { ...rest, source, ...(shared === undefined ? {} : { shared }) };
}

export interface WriteOptions {
  /**
   * The tree this one will replace (normally the run directory being rebuilt): its files that are
   * byte-identical to the new ones are hard-linked rather than created (see FileSink). Ignored when
   * absent. Must be on the same filesystem to help, and must not be modified afterwards.
   */
  reuseUnchangedFrom?: string;
  /**
   * Item files already in `dir` (relative path -> sha256 of their bytes), written while the run
   * was scored (see renderItemFiles): they are not rendered again, their hashes go into the tree
   * hash as given. With it, `dir` may hold other files too (a killed earlier attempt at this
   * build's): every file this tree has is written over them, by unlinking first (one of them may
   * be a hard link into the previous tree, which must not change), and what the tree does not
   * list is deleted (WriteResult.removedLeftovers). The caller vouches for the prewritten files' bytes.
   */
  prewritten?: StagedFiles;
  /** The rows a group at a time (see RowGroups); default: report.rows and report.prefixes. */
  rows?: RowGroups;
}

/** The prefixes of rows' inputs by prefixId: a map, or a source that reads them when asked (an entity's rows share one). */
export type PrefixLookup = Pick<ReadonlyMap<string, string>, 'get'>;

/**
 * One group of rows, handed over an entity at a time, and the prefixes of their inputs. The
 * writer holds one entity's rows at once, and of the group only what its own files need (counts,
 * the chart's points, the text of its predictions.csv).
 */
export interface RowGroup {
  group: string;
  /** The group's entities that have rows, in code-unit order, each once. */
  entityIds: readonly string[];
  /** Each entity's rows of the group (any order), in entityIds order. */
  entities(): AsyncIterable<PredictionRow[]>;
  prefixes: PrefixLookup;
  /**
   * The method's per-entity scores of this group, when the source computes them a group at a time;
   * absent: report.evaluation.method.byEntity has them.
   */
  entityScores?: readonly EntityScore[];
}

/**
 * The rows of a run one group at a time, groups in code-unit order, each once. The writer holds one
 * entity's rows and what the group's and the run-wide files need of every row (counts, failures and
 * outliers, the chart's points), so a source that reads an entity at a time never has every row,
 * nor a group's, in memory.
 */
export interface RowGroups {
  /** Whether some call failed over: raw_outputs.parquet then has a failover_from column, fixed before its first row. */
  anyFailover: boolean;
  groups(): AsyncIterable<RowGroup>;
}

/** The RowGroups of rows held all at once. */
export function rowGroupsOf(rows: readonly PredictionRow[], prefixes: ReadonlyMap<string, string>): RowGroups {
  const sorted = sortRows(rows);
  return {
    anyFailover: sorted.some((r) => r.failoverFrom !== null),
    async *groups() {
      for (const ofGroup of runsBy(sorted, (r) => r.group)) {
        const byEntity = runsBy(ofGroup, (r) => r.entityId);
        yield {
          group: ofGroup[0].group,
          entityIds: byEntity.map((run) => run[0].entityId),
          async *entities() {
            yield* byEntity;
          },
          prefixes,
        };
      }
    },
  };
}

export async function writeRunDirectory(report: RunReport | RunWideReport, dir: string, opts: WriteOptions = {}): Promise<WriteResult> {
  const source = opts.rows ?? ('rows' in report ? rowGroupsOf(report.rows, report.prefixes) : null);
  if (source === null) throw new Error(`writeRunDirectory(${report.identity}): no rows: a report without rows needs opts.rows`);
  await mkdir(dir, { recursive: true });
  const existing = await readdir(dir);
  if (existing.length > 0 && opts.prewritten === undefined) {
    throw new Error(`run directory ${dir} is not empty (${existing.length} entries): write into a fresh directory`);
  }
  const reuseFrom = opts.reuseUnchangedFrom === undefined ? null : await existingDirectory(opts.reuseUnchangedFrom);
  if (reuseFrom !== null && resolve(reuseFrom) === resolve(dir)) throw new Error(`reuseUnchangedFrom must be another directory than ${dir}`);
  const hasher = new TreeHasher();
  const sink = new FileSink(dir, hasher, reuseFrom, { replaceExisting: opts.prewritten !== undefined });
  const streamed: StreamedFile[] = [];
  try {
    await writeTree(report, source, dir, sink, hasher, streamed, opts.prewritten ?? NOTHING_STAGED);
    const removedLeftovers = opts.prewritten === undefined ? [] : await removeFilesNotIn(dir, hasher.paths());
    return { files: hasher.size, treeHash: await hasher.digest(), linkedFiles: sink.linkedFiles, removedLeftovers };
  } catch (error) {
    // Stop the writer thread and release file handles before the caller cleans `dir` up;
    // `error` is the one reported.
    await sink.abort();
    for (const p of streamed) await p.abort();
    throw error;
  } finally {
    await hasher.close();
  }
}

const NOTHING_STAGED: StagedFiles = { size: 0, under: () => Promise.resolve(new Map()) };

/** A file written as a stream (not through the FileSink), hashed as written. */
interface StreamedFile {
  abort(): Promise<void>;
}

function failureCells(r: PredictionRow): CsvCell[] {
  return [r.entityId, r.group, r.item, r.parseStatus, failureReason(r), r.attempts, r.outputText];
}

function outlierOf(r: PredictionRow): { outOfRange: number; cells: CsvCell[] } {
  const outOfRange = r.predicted === null ? 0 : r.predicted > r.max ? r.predicted - r.max : r.predicted < r.min ? r.min - r.predicted : 0;
  return { outOfRange, cells: [r.entityId, r.group, r.item, r.kind, r.min, r.max, r.actual, r.predicted, r.absError, outOfRange] };
}

async function existingDirectory(path: string): Promise<string | null> {
  try {
    return (await stat(path)).isDirectory() ? path : null;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

async function writeTree(
  report: RunWideReport,
  source: RowGroups,
  dir: string,
  sink: FileSink,
  hasher: TreeHasher,
  streamed: StreamedFile[],
  prewritten: StagedFiles,
): Promise<void> {
  const put = (rel: string, content: string): Promise<void> => sink.write(rel, content);
  const ev = report.evaluation;
  const baselines = baselinesByName(report);
  const baselineEntities = baselines.map((b) => new EntityScores(b));
  const methodEntities = new EntityScores(ev.method);

  // Root files (README.txt at the end: it names the worst entity, known once every group is written).
  await put('config.yaml', report.configYaml.endsWith('\n') ? report.configYaml : `${report.configYaml}\n`);
  await put('config.json', prettyJson(report.config));
  await put('metadata.json', prettyJson(report.metadata));
  await put('metrics.json', prettyJson(metricsJson(report)));
  await put('review.txt', renderReview(runReview(report)));

  // Both parquet files take the rows in sortRows order, a group at a time.
  // A leftover of a killed attempt at this build is replaced, never written through.
  await rm(join(dir, 'predictions.parquet'), { force: true });
  await rm(join(dir, 'raw_outputs.parquet'), { force: true });
  const predictions = await ParquetFileWriter.open(join(dir, 'predictions.parquet'), PREDICTIONS_COLUMNS);
  streamed.push(predictions);
  const raw = await ParquetFileWriter.open(join(dir, 'raw_outputs.parquet'), rawOutputsColumns(source.anyFailover));
  streamed.push(raw);
  // Its prompts as prefix + suffix: an entity's prefix is encoded once for all its rows.
  const inputs = new PrefixEncoder();
  // The table of every row, a group at a time: streamed rather than kept whole (~26 MB of text at ten times the bench's size).
  await mkdir(join(dir, 'diagnostics'), { recursive: true });
  await rm(join(dir, FLAT_TABLE), { force: true });
  const flat = await HashedFile.open(join(dir, FLAT_TABLE));
  streamed.push(flat);
  await sink.mkdir('groups');

  // What the run-wide files need of every row, gathered a group at a time.
  const groupCounts = new Map<string, ScoreSummary>();
  let worst: EntityEntry | null = null;
  let anyFailover = false;
  // Their CSV cells, not the rows: a row holds its output text and call, and a run may have many of them.
  const failures: CsvCell[][] = [];
  const outliers: Array<{ outOfRange: number; cells: CsvCell[] }> = [];
  const flatHeader = toCsv(FLAT_HEADER, []);
  await flat.append(flatHeader);

  const groupNames = new Set<string>();
  let previousGroup: string | null = null;
  const groupPredictionHeader = toCsv(GROUP_PREDICTION_HEADER, []);
  for await (const rowGroup of source.groups()) {
    const { group, entityIds, prefixes, entityScores } = rowGroup;
    if (entityIds.length === 0) continue;
    if (previousGroup !== null && compareCodeUnits(previousGroup, group) >= 0) {
      throw new Error(`groups of rows out of order: ${JSON.stringify(group)} after ${JSON.stringify(previousGroup)} (each group once, in code-unit order)`);
    }
    previousGroup = group;
    for (let i = 1; i < entityIds.length; i++) {
      if (compareCodeUnits(entityIds[i - 1], entityIds[i]) >= 0) throw new Error(`entities of group ${JSON.stringify(group)} out of order: ${JSON.stringify(entityIds[i])} after ${JSON.stringify(entityIds[i - 1])} (each once, in code-unit order)`);
    }

    const gdir = groupDir(group);
    claimName(groupNames, gdir, group, 'groups/');
    // The group's files are recorded apart and moved out of the heap once written (TreeHasher.seal).
    hasher.openFolder(gdir);
    const staged = await prewritten.under(gdir);
    await sink.mkdir(`${gdir}/entities`);

    // Ranks first (from the scores, not the rows): each entity's summary names its place.
    const scoresOfGroup = entityScores === undefined ? methodEntities : new EntityScores({ byEntity: entityScores });
    const entities: EntityEntry[] = entityIds.map((entityId) => ({ group, entityId, summary: scoresOfGroup.get(group, entityId) }));
    const worstFirst = [...entities].sort(compareEntitiesWorstFirst);
    if (worst === null || compareEntitiesWorstFirst(worstFirst[0], worst) < 0) worst = worstFirst[0];
    const rankOf = new Map(worstFirst.map((e, i) => [e.entityId, i + 1]));
    const entityKindKeys = kindMetricKeys(entities.map((e) => e.summary));

    // What the group's own files need of its rows, gathered an entity at a time: the source hands
    // over one entity's rows at once, so the writer never holds a group's (~56k rows at ten times
    // the bench's size).
    let ofGroup = countsFromRows([]);
    const unscoredCounts = new Map<string, ScoreSummary>();
    const groupPredictionText: string[] = [groupPredictionHeader];
    const distribution: DistributionRow[] = [];
    const entityNames = new Set<string>();
    let next = 0;
    for await (const unsorted of rowGroup.entities()) {
      const erows = sortRows(unsorted);
      const entity = entities[next];
      if (erows.some((r) => r.group !== group)) throw new Error(`rows of group ${JSON.stringify(group)} include rows of another group`);
      if (entity === undefined || erows.length === 0 || erows.some((r) => r.entityId !== entity.entityId)) {
        throw new Error(`rows of group ${JSON.stringify(group)} came out of order: expected ${entity === undefined ? 'no more entities' : `the rows of entity ${JSON.stringify(entity.entityId)} alone`}, got ${erows.length} row(s) of ${JSON.stringify([...new Set(erows.map((r) => r.entityId))])}`);
      }
      next += 1;
      const counts = countsFromRows(erows);
      ofGroup = addCounts(ofGroup, counts);
      if (entity.summary === null) unscoredCounts.set(entity.entityId, counts);
      for (const r of erows) {
        if (r.failoverFrom !== null) anyFailover = true;
        if (r.parseStatus !== 'ok') failures.push(failureCells(r));
        if (r.outlier) outliers.push(outlierOf(r));
        if (r.predicted !== null) distribution.push({ group: r.group, item: r.item, kind: r.kind, min: r.min, max: r.max, actual: r.actual, predicted: r.predicted });
        await predictions.append({
          entity_id: r.entityId, group: r.group, item: r.item, kind: r.kind, actual: r.actual,
          predicted: r.predicted, abs_error: r.absError, parse_status: r.parseStatus, outlier: r.outlier,
        });
      }
      await flat.append(toCsv(FLAT_HEADER, erows.map(flatCells)).slice(flatHeader.length));
      groupPredictionText.push(toCsv(GROUP_PREDICTION_HEADER, erows.map(groupPredictionCells)).slice(groupPredictionHeader.length));

      const edir = entityDir(group, entity.entityId);
      claimName(entityNames, edir, entity.entityId, `${gdir}/entities/`);
      await sink.mkdir(edir);
      const itemNames = new Set<string>();
      const fileNames = itemFileNames(erows, edir, itemNames);
      await put(
        `${edir}/${SUMMARY_FILE}`,
        renderEntitySummary(report, group, entity.entityId, erows, entity.summary, { position: rankOf.get(entity.entityId) as number, of: entities.length }, fileNames),
      );
      for (let i = 0; i < erows.length; i++) {
        const r = erows[i];
        const path = `${edir}/${fileNames[i]}`;
        // Written early (when its batch was scored): only its hash is recorded.
        const early = staged.get(path);
        if (early !== undefined) hasher.add(path, early);
        // A fitted prediction made no call: it has an item file, but no raw output row.
        if (r.fitted !== null || r.call === null) {
          if (early === undefined) await put(path, itemFileContent(r, prefixes, report.method));
          continue;
        }
        await raw.append({
          entity_id: r.entityId, group: r.group, item: r.item, prompt_id: r.promptId, input_text: inputs.text(prefixOf(prefixes, r), r.suffix),
          output_text: r.outputText, prompt_tokens: r.promptTokens, completion_tokens: r.completionTokens,
          cached_tokens: r.cachedTokens, latency_ms: r.latencyMs, attempts: r.attempts, worker: r.worker,
          inference_error: r.inferenceError, finish_reason: r.finishReason, model: r.call.model, lora_adapter: r.call.loraAdapter,
          temperature: r.call.temperature, max_tokens: r.call.maxTokens, seed: r.call.seed, stop: JSON.stringify(r.call.stop),
          guided_json: r.call.guidedJson, replica: r.replica, started_at: r.startedAt, finished_at: r.finishedAt,
          failover_from: r.failoverFrom,
        });
        if (early === undefined) await put(path, renderItemFile(r, inputText(prefixes, r)));
      }
      const entityInput = report.entityInputs?.get(entity.entityId);
      if (entityInput !== undefined) {
        claimName(itemNames, entityInput.file, `(${entityInput.stage} of the entity)`, `${edir}/`);
        await put(`${edir}/${entityInput.file}`, renderEntityInputFile(entityInput));
      }
    }
    if (next !== entities.length) throw new Error(`rows of group ${JSON.stringify(group)}: ${entities.length} entities announced, the rows of ${next} came`);
    groupCounts.set(group, ofGroup);

    await put(
      `${gdir}/per_entity.csv`,
      toCsv(
        ['entity_id', ...summaryHeader(entityKindKeys), ...baselines.map((b) => baselineColumn(b.method))],
        worstFirst.map((e) => [
          e.entityId,
          ...summaryCells(e.summary ?? unscoredCounts.get(e.entityId) ?? countsFromRows([]), entityKindKeys),
          ...baselineEntities.map((b) => b.get(group, e.entityId)?.primary.value ?? null),
        ]),
      ),
    );
    await put(`${gdir}/predictions.csv`, groupPredictionText.join(''));
    await put(
      `${gdir}/group_metrics.json`,
      prettyJson({
        group,
        method: { method: ev.method.method, summary: orderedSummary(ev.method.byGroup.find((g) => g.group === group)?.summary ?? ofGroup) },
        baselines: baselines.map((b) => {
          const s = b.byGroup.find((g) => g.group === group)?.summary;
          return { method: b.method, summary: s ? orderedSummary(s) : null };
        }),
        valueRange: ev.valueRanges.find((v) => v.group === group) ?? null,
        items: ev.method.byItem
          .filter((i) => i.group === group)
          .sort((a, b) => compareCodeUnits(a.item, b.item))
          .map((i) => ({ item: i.item, kind: i.kind, summary: orderedSummary(i.summary) })),
        entities: worstFirst.map((e) => ({ entityId: e.entityId, summary: e.summary ? orderedSummary(e.summary) : null })),
      }),
    );
    await put(`${gdir}/${DISTRIBUTION_CHART}`, await groupDistributionSvg(group, distribution));

    await sink.drain();
    await hasher.seal(gdir);
  }
  if (anyFailover !== source.anyFailover) throw new Error(`the rows source said anyFailover=${source.anyFailover}, its rows say ${anyFailover}`);
  await predictions.close();
  hasher.add('predictions.parquet', predictions.sha256());
  await raw.close();
  hasher.add('raw_outputs.parquet', raw.sha256());

  const groupsSeen = [...groupCounts.keys()];
  await put('README.txt', renderReadmeOf(report, { groups: groupsSeen, worst, anyFailover }));

  // groups/_index.csv, worst group first.
  const groups = groupsWorstFirst(report, groupsSeen);
  const groupKindKeys = kindMetricKeys(groups.map((g) => g.summary));
  const baselineGroups = baselines.map((b) => new Map(b.byGroup.map((g) => [g.group, g.summary])));
  const noRows = countsFromRows([]);
  await put(
    'groups/_index.csv',
    toCsv(
      ['group', ...summaryHeader(groupKindKeys), ...baselines.map((b) => baselineColumn(b.method))],
      groups.map((g) => [
        g.group,
        ...summaryCells(g.summary ?? groupCounts.get(g.group) ?? noRows, groupKindKeys),
        ...baselineGroups.map((m) => m.get(g.group)?.primary.value ?? null),
      ]),
    ),
  );

  // diagnostics/ (made before the groups, for the table of every row)
  await put(
    'diagnostics/parse_failures.csv',
    toCsv(
      ['entity_id', 'group', 'item', 'parse_status', 'reason', 'attempts', 'raw_output'],
      failures,
    ),
  );
  // Rows came in (group, entity, item) order and the sort is stable: ties keep that order.
  outliers.sort((a, b) => b.outOfRange - a.outOfRange);
  await put(
    'diagnostics/outliers.csv',
    toCsv(
      ['entity_id', 'group', 'item', 'kind', 'min', 'max', 'actual', 'predicted', 'abs_error', 'out_of_range_by'],
      outliers.map((o) => o.cells),
    ),
  );
  await put('diagnostics/value_ranges.json', prettyJson([...ev.valueRanges].sort((a, b) => compareCodeUnits(a.group, b.group))));
  await flat.close();
  hasher.add(FLAT_TABLE, flat.sha256());

  await sink.close();
}
