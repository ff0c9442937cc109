import { Injectable, Logger } from '@nestjs/common';
import { AssayEvent, experimentStream, type AnyEnvelope, type ExperimentStarted, errorMessage } from '@assay/contracts';
import { EventStore, EVENT_COLUMNS, findInStream, readStream, toStoredEvent, type EventRow, type StoredEvent } from '@assay/event-store';
import {
  assembleRunReport,
  evaluationSummary,
  foldRegistry,
  latestEvaluation,
  parseRunDir,
  REGISTRY_EVENT_TYPES,
  roundOf,
  writeRegistryFile,
  type RegistryEntry,
} from '@assay/experiments';
import { replaceDirectoryAtomically, writeRunDirectory } from '@assay/report';
import { randomBytes } from 'node:crypto';
import { KeyedLock } from './keyed-lock';
import { rm } from 'node:fs/promises';

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
export class ReportBuilder {
  private readonly logger = new Logger(ReportBuilder.name);

  constructor(private readonly store: EventStore) {}

  async registry(): Promise<RegistryEntry[]> {
    return foldRegistry(await this.registryEvents());
  }

  /** The events the registry folds, all of them or those logged before a global position. */
  private async registryEvents(before?: bigint): Promise<StoredEvent[]> {
    const rows = await this.store.read((sql) =>
      before === undefined
        ? sql.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM events WHERE type = ANY($1::text[]) ORDER BY global_position`, [REGISTRY_EVENT_TYPES])
        : sql.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM events WHERE type = ANY($1::text[]) AND global_position < $2 ORDER BY global_position`, [REGISTRY_EVENT_TYPES, before.toString()]),
    );
    return rows.map(toStoredEvent);
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

  private async buildNow(identity: string): Promise<BuiltReport> {
    const stream = experimentStream(identity);
    // The scored batches (the bulk of a stream) only of the round shown, not of every round.
    const { events, latest } = await this.store.read(async (sql) => {
      const withoutScored = await readStream(sql, stream, { types: TYPES_BUT_SCORED_BATCHES });
      const shown = latestEvaluation(withoutScored);
      const scored = shown ? await findInStream(sql, stream, 'evaluation.batch.scored', { attempt: shown.attempt, phase: 'full', round: shown.round }) : [];
      return { events: [...withoutScored, ...scored], latest: shown };
    });
    if (events.length === 0) throw new UnknownExperimentError(identity);
    if (!latest) throw new Error(`${identity} has no evaluated attempt: nothing to report yet`);
    const { attempt: chosen, round } = latest;
    const evaluation = events.find((e) => e.type === 'evaluation.completed' && (e.data as { attempt: number }).attempt === chosen && roundOf(e) === round)!;
    const report = assembleRunReport(events as AnyEnvelope[], chosen, round, await this.registryEvents(evaluation.globalPosition));
    const started = events.find((e) => e.type === 'experiment.started' && (e.data as { attempt: number }).attempt === chosen) as unknown as ExperimentStarted;
    const runDir = started.data.runDir;
    const tmp = `${runDir}.building-${randomBytes(4).toString('hex')}`;
    try {
      // Unchanged files of the current tree are hard-linked, not recreated (a replay's bulk).
      const { files, treeHash } = await writeRunDirectory(report, tmp, { reuseUnchangedFrom: runDir });
      const { oldRemoved } = await replaceDirectoryAtomically(tmp, runDir, ['logs']);
      // The previous tree (~35k files on a full run) is deleted after the build returns.
      oldRemoved.catch((error: unknown) => this.logger.error(`could not delete the previous tree of ${runDir}: ${errorMessage(error)}`));
      return { identity, attempt: chosen, round, runDir, files: files.length, treeHash, summary: evaluationSummary(report.evaluation, report.cache, round) };
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
}

export class UnknownExperimentError extends Error {
  constructor(readonly identity: string) {
    super(`no experiment with identity '${identity}' in the event log`);
    this.name = 'UnknownExperimentError';
  }
}
