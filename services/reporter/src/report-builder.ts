import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { AssayEvent, errorMessage, experimentStream, requestStream } from '@assay/contracts';
import { EventStore, findEvents, parseStored, readEventsOfTypes, readTypedEvents } from '@assay/event-store';
import {
  asPrediction,
  assembleRunReport,
  evaluationSummary,
  foldRegistry,
  latestEvaluation,
  parseRunDir,
  REGISTRY_EVENT_TYPES,
  samplesOf,
  writeRegistryFile,
  type RegistryEntry,
} from '@assay/experiments';
import { recoverLeftovers, replaceDirectoryAtomically, siblingOf, writeRunDirectory, type BestPrevious, type RecoveryStep, type RunReport } from '@assay/report';
import { bestPreviousRun, differenceToPrevious } from '@assay/comparison';
import { KeyedLock } from './keyed-lock';
import { rm } from 'node:fs/promises';

/** Subfolders of a run directory that services write in real time: carried over every rebuild. */
const KEEP = ['logs'];

const TYPES_BUT_SCORED_BATCHES = AssayEvent.options.map((o) => o.shape.type.value).filter((t) => t !== 'evaluation.batch.scored');

export interface BuiltReport {
  identity: string;
  attempt: number;
  /** The evaluation round the tree shows. */
  round: number;
  runDir: string;
  files: number;
  treeHash: string;
  summary: Record<string, number | string | null>;
}

/**
 * The only writer of run directories. Everything comes from the event log; the tree is written
 * to a fresh directory and swapped in atomically (keeping the services' real-time logs/).
 */
@Injectable()
export class ReportBuilder implements OnApplicationBootstrap {
  private readonly logger = new Logger(ReportBuilder.name);

  constructor(private readonly store: EventStore) {}

  /**
   * A reporter killed mid-build leaves `<run>.building-*` / `<run>.old-*` siblings (a full tree
   * is ~35k files), and possibly no run directory at all. Every build recovers its own run first;
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
    for (const e of await this.registryEvents()) {
      if (e.type === 'experiment.started') runs.set(e.data.runDir, e.data.identity);
    }
    const recovered: Array<{ runDir: string; steps: RecoveryStep[] }> = [];
    for (const [runDir, identity] of runs) {
      const steps = await this.builds.run(identity, () => this.recover(runDir));
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
   */
  build(identity: string): Promise<BuiltReport> {
    return this.builds.run(identity, () => this.buildNow(identity));
  }

  /** A run's report as its directory would show it (latest evaluated attempt, latest round), from the log. */
  async loadReport(identity: string): Promise<{ report: RunReport; runDir: string; round: number; attempt: number }> {
    const stream = experimentStream(identity);
    // The scored batches (the bulk of a stream) only of the round shown, not of every round.
    const { events, latest } = await this.store.read(async (sql) => {
      const withoutScored = await readTypedEvents(sql, stream, TYPES_BUT_SCORED_BATCHES);
      const shown = latestEvaluation(withoutScored);
      const scored = shown ? await findEvents(sql, stream, 'evaluation.batch.scored', { attempt: shown.attempt, phase: 'full', round: shown.round }) : [];
      // The request that started the attempt shown lives in its own stream (it has no identity
      // yet when the CLI sends it): its time is the run's requestedAt.
      const startedShown = shown ? withoutScored.find((e) => e.type === 'experiment.started' && e.data.attempt === shown.attempt) : undefined;
      const request = startedShown?.type === 'experiment.started' ? await readTypedEvents(sql, requestStream(startedShown.data.requestId), ['experiment.requested']) : [];
      return { events: [...request, ...withoutScored, ...scored], latest: shown };
    });
    if (events.length === 0) throw new UnknownExperimentError(identity);
    if (!latest) throw new Error(`${identity} has no evaluated attempt: nothing to report yet`);
    const { attempt: chosen, round } = latest;
    const evaluation = events.find((e) => e.type === 'evaluation.completed' && e.data.attempt === chosen && e.data.round === round)!;
    const report = assembleRunReport(events, chosen, round, await this.registryEvents(evaluation.globalPosition));
    const started = events.find((e) => e.type === 'experiment.started' && e.data.attempt === chosen);
    if (started?.type !== 'experiment.started') throw new Error(`${identity}: no experiment.started of attempt ${chosen}`);
    report.bestPrevious = await this.bestPrevious(report, evaluation.globalPosition);
    return { report, runDir: started.data.runDir, round, attempt: chosen };
  }

  /**
   * The best earlier completed run on the same data and split (report.comparison holds the runs
   * registered before this evaluation) with its scored predictions as the log had them then, and
   * the paired difference to it: a replay after later runs or re-evaluations shows the same.
   */
  private async bestPrevious(report: RunReport, before: bigint): Promise<BestPrevious | null> {
    const entry = bestPreviousRun(report.comparison);
    if (entry === null) return null;
    const stream = experimentStream(entry.identity);
    const scored = await this.store.read(async (sql) => {
      const evaluations = (await readTypedEvents(sql, stream, ['evaluation.completed'])).filter((e) => e.globalPosition < before);
      const shown = latestEvaluation(evaluations);
      if (!shown) return null;
      return findEvents(sql, stream, 'evaluation.batch.scored', { attempt: shown.attempt, phase: 'full', round: shown.round });
    });
    if (scored === null) return { identity: entry.identity, method: entry.method, primary: entry.primary, delta: null, ci: null, p: null, entities: 0, note: 'it had no evaluation in the log at the time' };
    const predictions = scored.flatMap((e) => e.data.predictions);
    return differenceToPrevious(report, { entry, samples: samplesOf(predictions), predictions: predictions.map(asPrediction) });
  }

  private async buildNow(identity: string): Promise<BuiltReport> {
    const { report, runDir, round, attempt: chosen } = await this.loadReport(identity);
    await this.recover(runDir);
    const tmp = siblingOf(runDir, 'building');
    try {
      // Unchanged files of the current tree are hard-linked, not recreated (a replay's bulk).
      const { files, treeHash } = await writeRunDirectory(report, tmp, { reuseUnchangedFrom: runDir });
      const { oldRemoved, oldDir } = await replaceDirectoryAtomically(tmp, runDir, KEEP);
      // The previous tree (~35k files on a full run) is deleted after the build returns.
      if (oldDir !== null) this.beingRemoved.add(oldDir);
      oldRemoved
        .catch((error: unknown) => this.logger.error(`could not delete the previous tree of ${runDir}: ${errorMessage(error)} (the next build or start removes it)`))
        .finally(() => oldDir !== null && this.beingRemoved.delete(oldDir));
      return { identity, attempt: chosen, round, runDir, files: files.length, treeHash, summary: evaluationSummary(report.evaluation, report.cache, round) };
    } finally {
      await rm(tmp, { recursive: true, force: true });
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
