import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { AssayEvent, errorMessage, experimentStream, requestStream, type EvaluationBatchScored, type ExperimentPlanned, type ExperimentStarted, type ItemDef } from '@assay/contracts';
import { countInStream, EventStore, findBatchIdsInStream, findEvents, forEachEventPage, parseStored, readEventsOfTypes, readTypedEvents, type Positioned, type PositionedEvent } from '@assay/event-store';
import { ServiceInfo } from '@assay/messaging/nest';
import {
  AttemptCompletions,
  assembleRunReport,
  evaluationSummary,
  fittedRows,
  foldRegistry,
  isFitted,
  modelCallRows,
  plannedItems,
  latestEvaluation,
  parseRunDir,
  REGISTRY_EVENT_TYPES,
  writeRegistryFile,
  type RegistryEntry,
} from '@assay/experiments';
import {
  earlyDirOf,
  PrewrittenFiles,
  recoverLeftovers,
  removeEarlyBookkeeping,
  removeStaleEarlyDirs,
  renderItemFiles,
  TextSpool,
  type RunWideReport,
  removeTree,
  replaceDirectoryAtomically,
  siblingOf,
  writeEarlyBatch,
  writeRunDirectory,
  type BestPrevious,
  type RecoveryStep,
} from '@assay/report';
import { bestPreviousRun, differenceToPrevious, PairedSide } from '@assay/comparison';
import { addPairedGroups, SpooledAttemptRows, SpooledPredictions } from './logged-row-groups';
import { KeyedLock } from './keyed-lock';
import { mkdir } from 'node:fs/promises';

/** Subfolders of a run directory that services write in real time: carried over every rebuild. */
const KEEP = ['logs'];

/** The bulk of a run's stream, read a group at a time (loggedRowGroups) or folded a page at a time. */
const BULK_TYPES = new Set(['inference.batch.requested', 'inference.completed', 'evaluation.batch.scored']);
const RUN_WIDE_TYPES = AssayEvent.options.map((o) => o.shape.type.value).filter((t) => !BULK_TYPES.has(t));

/** Completions folded per page. */
const PAGE = 200;

/** A run's report without its rows, and its rows a group at a time from the log. */
export interface LoadedReport {
  report: RunWideReport;
  /** Close when done: it holds a spool. */
  rows: SpooledAttemptRows;
  runDir: string;
  round: number;
  attempt: number;
  /** batchId -> the id of the round's evaluation.batch.scored of that batch. */
  scoredBatches: Map<string, string>;
}

/** What an attempt's early item files need besides the batch: where, and how its rows are made. */
interface AttemptLayout {
  runDir: string;
  method: string;
  fitted: boolean;
  items: Map<string, ItemDef>;
}

/** Attempts whose layout is kept between batches (each run's batches arrive together). */
const LAYOUTS_KEPT = 8;

export interface BuiltReport {
  identity: string;
  attempt: number;
  /** The evaluation round the tree shows. */
  round: number;
  runDir: string;
  files: number;
  /** Of them, item files written while the round was scored and taken as they were. */
  staged: number;
  treeHash: string;
  summary: Record<string, number | string | null>;
  /** Where the build's time went, in ms: reading the log, writing the tree, swapping it in. */
  took: { readMs: number; writeMs: number; swapMs: number };
}

/**
 * The only writer of run directories. Everything comes from the event log; the tree is written
 * to a fresh directory and swapped in atomically (keeping the services' real-time logs/).
 *
 * Not a tail after the run: each scored batch's item files (the bulk: one per prediction, bytes
 * that depend on the batch and the run's plan only) are written as the batch is scored
 * (writeEarly) into the staging tree of its attempt and round (see early-files in @assay/report).
 * At evaluation.completed, build() writes the rest (what depends on every entity) into that tree,
 * re-rendering any batch whose staged files the log does not vouch for, and swaps it in. A replay
 * (replay()) writes a whole tree from the log alone, as before: both give the same bytes.
 * Early writes and builds of one identity hold the same lock, so a staging tree is never written
 * while it is being swapped in.
 */
@Injectable()
export class ReportBuilder implements OnApplicationBootstrap {
  private readonly logger = new Logger(ReportBuilder.name);

  constructor(
    private readonly store: EventStore,
    private readonly info: ServiceInfo,
  ) {}

  /**
   * A reporter killed mid-build leaves `<run>.building-*` / `<run>.old-*` siblings (a full tree
   * is ~35k files), and possibly no run directory at all. (A `<run>.early-*` staging tree is not
   * such a leftover: the round's build continues it, and removes those it supersedes; this sweep
   * removes those of attempts a later one superseded.) Every build recovers its own run first;
   * this sweep on start also reaches runs that will not be built again. It runs in the background
   * (deleting big trees takes seconds, the service should answer meanwhile) under each run's
   * build lock, so it never races a build of the same run.
   */
  onApplicationBootstrap(): void {
    this.recoverAll().catch((error: unknown) =>
      this.logger.error(`could not clean up after killed builds on start: ${errorMessage(error)} (each run is still cleaned up before its next build)`),
    );
  }

  /** Recovers every run directory the log knows of; returns those where something was left. */
  async recoverAll(): Promise<Array<{ runDir: string; steps: RecoveryStep[] }>> {
    const runs = new Map<string, string>();
    const latestAttempt = new Map<string, number>();
    for (const e of await this.registryEvents()) {
      if (e.type !== 'experiment.started') continue;
      runs.set(e.data.runDir, e.data.identity);
      latestAttempt.set(e.data.runDir, Math.max(e.data.attempt, latestAttempt.get(e.data.runDir) ?? 0));
    }
    const recovered: Array<{ runDir: string; steps: RecoveryStep[] }> = [];
    for (const [runDir, identity] of runs) {
      const steps = await this.builds.run(identity, async () => {
        const found = await this.recover(runDir);
        // Staging trees of attempts superseded by a later one (cancelled or failed mid-run): no build will take them.
        const stale = await removeStaleEarlyDirs(runDir, { attempt: (latestAttempt.get(runDir) ?? 1) - 1, round: Number.MAX_SAFE_INTEGER });
        if (stale.length > 0) this.logger.warn(`${runDir}: removed staged item files of superseded attempts: ${stale.join(', ')}`);
        return found;
      });
      if (steps.length > 0) recovered.push({ runDir, steps });
    }
    return recovered;
  }

  /** Previous trees this process is deleting in the background: not leftovers of a kill. */
  private readonly beingRemoved = new Set<string>();

  private async recover(runDir: string): Promise<RecoveryStep[]> {
    const steps = await recoverLeftovers(runDir, KEEP, this.beingRemoved);
    if (steps.length > 0) this.logger.warn(`${runDir}: cleaned up after a killed build: ${describeRecovery(steps)}`);
    return steps;
  }

  async registry(): Promise<RegistryEntry[]> {
    return foldRegistry(await this.registryEvents());
  }

  /** The events the registry folds, all of them or those logged before a global position. */
  private async registryEvents(before?: bigint): Promise<AssayEvent[]> {
    return (await this.store.read((sql) => readEventsOfTypes(sql, REGISTRY_EVENT_TYPES, { before }))).map(parseStored);
  }

  /** Refreshes outputs/<method>/registry.json for the method of a run directory. */
  async writeRegistry(runDir: string): Promise<void> {
    const { outputRoot, method } = parseRunDir(runDir);
    await writeRegistryFile(outputRoot, method, await this.registry());
  }

  /** One rebuild per identity at a time (the consumer and HTTP replays swap the same directory). */
  private readonly builds = new KeyedLock();

  /**
   * Rebuilds one run's directory from the latest evaluation round of the latest evaluated attempt:
   * whichever evaluation.completed triggered it, the tree always shows what the log says last.
   * Takes the item files staged while the round was scored (writeEarly) where the log vouches for them.
   */
  build(identity: string): Promise<BuiltReport> {
    return this.builds.run(identity, () => this.buildNow(identity, true));
  }

  /** The same tree as build(), written from the log alone (nothing staged is used). */
  replay(identity: string): Promise<BuiltReport> {
    return this.builds.run(identity, () => this.buildNow(identity, false));
  }

  private readonly layouts = new Map<string, AttemptLayout>();

  private async layoutOf(identity: string, attempt: number): Promise<AttemptLayout> {
    const key = JSON.stringify([identity, attempt]);
    const known = this.layouts.get(key);
    if (known) return known;
    const stream = experimentStream(identity);
    const { started, planned } = await this.store.read(async (sql) => ({
      started: (await readTypedEvents(sql, stream, ['experiment.started'])).find((e) => e.data.attempt === attempt),
      planned: await findEvents(sql, stream, 'experiment.planned', { attempt, phase: 'full' }),
    }));
    if (!started) throw new Error(`${identity}: no experiment.started of attempt ${attempt}`);
    if (planned.length !== 1) throw new Error(`${identity}: expected one full-phase experiment.planned of attempt ${attempt}, found ${planned.length}`);
    const layout = { runDir: started.data.runDir, method: started.data.method, fitted: isFitted(started), items: plannedItems(planned[0]) };
    this.layouts.set(key, layout);
    if (this.layouts.size > LAYOUTS_KEPT) this.layouts.delete(this.layouts.keys().next().value as string);
    return layout;
  }

  /**
   * One scored batch's item files into the staging tree of its attempt and round. Nothing when the
   * round's evaluation has completed: its build renders whatever was not staged, and a staging
   * tree written after its swap would only be left behind. Returns the files written (null: none).
   */
  writeEarly(event: EvaluationBatchScored): Promise<{ dir: string; files: number } | null> {
    const { identity, attempt, round, batchId } = event.data;
    return this.builds.run(identity, async () => {
      const stream = experimentStream(identity);
      const { completed, requests, completions } = await this.store.read(async (sql) => ({
        completed: await countInStream(sql, stream, 'evaluation.completed', { attempt, round }),
        requests: await findEvents(sql, stream, 'inference.batch.requested', { attempt, phase: 'full', batchId }),
        completions: await findEvents(sql, stream, 'inference.completed', { attempt, phase: 'full', batchId }),
      }));
      if (completed > 0) return null;
      const layout = await this.layoutOf(identity, attempt);
      const predictions = new Map(event.data.predictions.map((p) => [p.promptId, p]));
      const prefixes = new Map<string, string>();
      let rows;
      if (layout.fitted) rows = fittedRows(predictions.values(), layout.items);
      else {
        if (requests.length !== 1) throw new Error(`evaluation.batch.scored ${event.id} of ${identity}: expected one full-phase inference.batch.requested of batch ${batchId} (attempt ${attempt}), found ${requests.length}`);
        prefixes.set(batchId, requests[0].data.prefix);
        // The last outcome of the batch, as the final build reads it.
        rows = modelCallRows(requests[0], completions.at(-1), predictions, layout.items, round);
      }
      const dir = earlyDirOf(layout.runDir, attempt, round, this.info.codeVersion);
      const files = renderItemFiles(rows, prefixes, layout.method);
      await writeEarlyBatch(dir, { batchId, scoredEventId: event.id }, files);
      return { dir, files: files.length };
    });
  }

  /**
   * A run's report as its directory would show it (latest evaluated attempt, latest round), from
   * the log: the run-wide part read at once, the rows read in one pass into a spool, handed on a
   * group at a time as the writer takes them. The caller closes `rows` when done.
   */
  async loadReport(identity: string): Promise<LoadedReport> {
    const { runWide, shown, started, completions, scoredBatches } = await this.readRunWide(identity);
    const { attempt, round } = shown;
    const evaluation = runWide.find((e) => e.type === 'evaluation.completed' && e.data.attempt === attempt && e.data.round === round);
    if (!evaluation) throw new Error(`${identity}: no evaluation.completed of attempt ${attempt}, round ${round}`);
    const report = assembleRunReport(runWide, attempt, round, await this.registryEvents(evaluation.globalPosition), completions);
    const planned = runWide.filter((e): e is Positioned<ExperimentPlanned> => e.type === 'experiment.planned' && e.data.attempt === attempt && e.data.phase === 'full');
    if (planned.length !== 1) throw new Error(`${identity}: expected one full-phase experiment.planned of attempt ${attempt}, found ${planned.length}`);
    const items = planned[0].data.items;
    const groups = [...new Set(items.map((i) => i.group))];
    const stream = experimentStream(identity);
    const rows = await SpooledAttemptRows.read(this.store, { stream, attempt, round, method: report.method, fitted: isFitted(started), items, groups, completions });
    try {
      report.bestPrevious = await this.bestPrevious(report, rows, { items, groups }, evaluation.globalPosition);
    } catch (error) {
      await rows.close();
      throw error;
    }
    return { report, rows, runDir: started.data.runDir, round, attempt, scoredBatches };
  }

  /** What loadReport reads at once: the run-wide events (the bulk is read by SpooledAttemptRows) and what it folds of the bulk. */
  private async readRunWide(identity: string): Promise<{
    runWide: PositionedEvent[];
    shown: { attempt: number; round: number };
    started: Positioned<ExperimentStarted>;
    completions: AttemptCompletions;
    scoredBatches: Map<string, string>;
  }> {
    const stream = experimentStream(identity);
    return this.store.read(async (sql) => {
      const runWide = await readTypedEvents(sql, stream, RUN_WIDE_TYPES);
      if (runWide.length === 0) throw new UnknownExperimentError(identity);
      const shown = latestEvaluation(runWide);
      if (!shown) throw new Error(`${identity} has no evaluated attempt: nothing to report yet`);
      const started = runWide.find((e): e is Positioned<ExperimentStarted> => e.type === 'experiment.started' && e.data.attempt === shown.attempt);
      if (!started) throw new Error(`${identity}: no experiment.started of attempt ${shown.attempt}`);
      // Every completion of the attempt folded a page at a time; the entity-input stage's calls (one per entity) kept.
      const completions = new AttemptCompletions(started.data);
      await forEachEventPage(sql, stream, 'inference.completed', { attempt: shown.attempt }, PAGE, (page) => page.forEach((c) => completions.add(c)));
      const entityInputCalls = [
        ...(await findEvents(sql, stream, 'inference.batch.requested', { attempt: shown.attempt, phase: 'summary' })),
        ...(await findEvents(sql, stream, 'inference.completed', { attempt: shown.attempt, phase: 'summary' })),
      ];
      // Which scored event stands for each batch of the round shown (the staged build's manifests must name it).
      const scoredBatches = new Map((await findBatchIdsInStream(sql, stream, 'evaluation.batch.scored', { attempt: shown.attempt, phase: 'full', round: shown.round })).map((e) => [e.batchId, e.id]));
      // The request that started the attempt shown lives in its own stream (it has no identity
      // yet when the CLI sends it): its time is the run's requestedAt.
      const request = await readTypedEvents(sql, requestStream(started.data.requestId), ['experiment.requested']);
      return { runWide: [...request, ...runWide, ...entityInputCalls], shown, started, completions, scoredBatches };
    });
  }

  /**
   * The best earlier completed run on the same data and split (report.comparison holds the runs
   * registered before this evaluation) with its scored predictions as the log had them then, and
   * the paired difference to it: a replay after later runs or re-evaluations shows the same.
   * Both runs' predictions go a group at a time into per-entity sums (PairedSide): this run's from
   * its rows' spool, the other's spooled the same way.
   */
  private async bestPrevious(report: RunWideReport, rows: SpooledAttemptRows, shown: { items: ItemDef[]; groups: string[] }, before: bigint): Promise<BestPrevious | null> {
    const entry = bestPreviousRun(report.comparison);
    if (entry === null) return null;
    const stream = experimentStream(entry.identity);
    const theirs = await this.store.read(async (sql) => {
      const evaluations = (await readTypedEvents(sql, stream, ['evaluation.completed'])).filter((e) => e.globalPosition < before);
      const latest = latestEvaluation(evaluations);
      if (!latest) return null;
      const planned = await findEvents(sql, stream, 'experiment.planned', { attempt: latest.attempt, phase: 'full' });
      return { ...latest, groups: planned.flatMap((p) => p.data.items.map((i) => i.group)) };
    });
    if (theirs === null) return { identity: entry.identity, method: entry.method, primary: entry.primary, delta: null, ci: null, p: null, entities: 0, note: 'it had no evaluation in the log at the time' };
    const current = new PairedSide(report.method, shown.items);
    addPairedGroups(current, rows.predictions, shown.groups);
    const previous = new PairedSide(entry.method, shown.items, current);
    const spool = await TextSpool.create();
    try {
      addPairedGroups(previous, await SpooledPredictions.read(this.store, spool, stream, theirs), [...shown.groups, ...theirs.groups]);
    } finally {
      await spool.close();
    }
    return differenceToPrevious(current, { entry, side: previous });
  }

  /**
   * Writes the tree into a sibling and swaps it in. `staged`: into the staging tree of the round
   * (early-files), taking the item files whose manifests name the scored events the log holds and
   * writing everything else over what is there; then removing what the tree does not list (a killed
   * earlier build's leftovers) before the swap. Otherwise into a fresh sibling.
   */
  private async buildNow(identity: string, staged: boolean): Promise<BuiltReport> {
    const began = performance.now();
    const loaded = await this.loadReport(identity);
    try {
      return await this.writeAndSwap(identity, loaded, staged, performance.now() - began);
    } finally {
      await loaded.rows.close();
    }
  }

  private async writeAndSwap(identity: string, loaded: LoadedReport, staged: boolean, readMs: number): Promise<BuiltReport> {
    const { report, rows, runDir, round, attempt: chosen, scoredBatches } = loaded;
    await this.recover(runDir);
    const tmp = staged ? earlyDirOf(runDir, chosen, round, this.info.codeVersion) : siblingOf(runDir, 'building');
    let prewritten: PrewrittenFiles | undefined;
    try {
      if (staged) {
        await mkdir(tmp, { recursive: true });
        prewritten = await PrewrittenFiles.read(tmp, scoredBatches);
        for (const problem of prewritten.ignored) this.logger.warn(`${runDir}: staged manifest not used, its batch is written again: ${problem}`);
        // Gone before anything is rewritten: a kill from here on leaves no manifest vouching for a file.
        await removeEarlyBookkeeping(tmp);
      }
      // Unchanged files of the current tree are hard-linked, not recreated (a replay's bulk).
      const writing = performance.now();
      const { files, treeHash, removedLeftovers } = await writeRunDirectory(report, tmp, { reuseUnchangedFrom: runDir, prewritten, rows });
      const swapping = performance.now();
      if (removedLeftovers.length > 0) this.logger.warn(`${runDir}: removed ${removedLeftovers.length} staged file(s) the tree does not have (left by a killed build), e.g. ${removedLeftovers[0]}`);
      const { oldRemoved, oldDir } = await replaceDirectoryAtomically(tmp, runDir, KEEP);
      // The previous tree (~35k files on a full run) is deleted after the build returns.
      if (oldDir !== null) this.beingRemoved.add(oldDir);
      oldRemoved
        .catch((error: unknown) => this.logger.error(`could not delete the previous tree of ${runDir}: ${errorMessage(error)} (the next build or start removes it)`))
        .finally(() => oldDir !== null && this.beingRemoved.delete(oldDir));
      if (staged) await removeStaleEarlyDirs(runDir, { attempt: chosen, round });
      const took = { readMs, writeMs: swapping - writing, swapMs: performance.now() - swapping };
      return { identity, attempt: chosen, round, runDir, files, staged: prewritten?.size ?? 0, treeHash, summary: evaluationSummary(report.evaluation, report.cache, round), took };
    } finally {
      await prewritten?.close();
      // Nothing left after a swap; a failed build's whole tree otherwise.
      await removeTree(tmp);
    }
  }
}

function describeRecovery(steps: readonly RecoveryStep[]): string {
  return steps
    .map((s) =>
      s.action === 'restore'
        ? `restored ${s.name} (the run directory was missing: killed between moving the old tree aside and the new one in)`
        : s.action === 'keep-and-remove'
          ? `removed ${s.name} (its logs/, if any, moved into the run directory first)`
          : `removed ${s.name} (an unfinished or superseded new tree)`,
    )
    .join('; ');
}

export class UnknownExperimentError extends Error {
  constructor(readonly identity: string) {
    super(`no experiment with identity '${identity}' in the event log`);
    this.name = 'UnknownExperimentError';
  }
}
