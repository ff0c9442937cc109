import { Injectable, Logger } from '@nestjs/common';
import { experimentStream, type AnyEnvelope, type ExperimentStarted } from '@assay/contracts';
import { EventStore, EVENT_COLUMNS, readStream, toStoredEvent, type EventRow } from '@assay/event-store';
import { assembleRunReport, foldRegistry, parseRunDir, REGISTRY_EVENT_TYPES, writeRegistryFile, type RegistryEntry } from '@assay/experiments';
import { replaceDirectoryAtomically, writeRunDirectory } from '@assay/report';
import { randomBytes } from 'node:crypto';
import { KeyedLock } from './keyed-lock';
import { rm } from 'node:fs/promises';

export interface BuiltReport {
  identity: string;
  attempt: number;
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
    const rows = await this.store.read((sql) =>
      sql.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM events WHERE type = ANY($1::text[]) ORDER BY global_position`, [REGISTRY_EVENT_TYPES]),
    );
    return foldRegistry(rows.map(toStoredEvent));
  }

  /** Refreshes outputs/<method>/registry.json for the method of a run directory. */
  async writeRegistry(runDir: string): Promise<void> {
    const { outputRoot, method } = parseRunDir(runDir);
    await writeRegistryFile(outputRoot, method, await this.registry());
  }

  /** One rebuild per identity at a time (the consumer and HTTP replays swap the same directory). */
  private readonly builds = new KeyedLock();

  /** Rebuilds one run's directory; `attempt` defaults to the latest evaluated one. */
  build(identity: string, attempt?: number): Promise<BuiltReport> {
    return this.builds.run(identity, () => this.buildNow(identity, attempt));
  }

  private async buildNow(identity: string, attempt?: number): Promise<BuiltReport> {
    const stream = experimentStream(identity);
    const events = await this.store.read((sql) => readStream(sql, stream));
    if (events.length === 0) throw new UnknownExperimentError(identity);
    const evaluated = events.filter((e) => e.type === 'evaluation.completed').map((e) => (e.data as { attempt: number }).attempt);
    const chosen = attempt ?? evaluated[evaluated.length - 1];
    if (chosen === undefined || !evaluated.includes(chosen)) throw new Error(`${identity} has no evaluated attempt${attempt ? ` ${attempt}` : ''}: nothing to report yet`);
    const evaluation = events.find((e) => e.type === 'evaluation.completed' && (e.data as { attempt: number }).attempt === chosen)!;
    const earlier = await this.store.read((sql) =>
      sql.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM events WHERE type = ANY($1::text[]) AND global_position < $2 ORDER BY global_position`, [
        REGISTRY_EVENT_TYPES,
        evaluation.globalPosition.toString(),
      ]),
    );
    const report = assembleRunReport(events as AnyEnvelope[], chosen, earlier.map(toStoredEvent));
    const started = events.find((e) => e.type === 'experiment.started' && (e.data as { attempt: number }).attempt === chosen) as unknown as ExperimentStarted;
    const runDir = started.data.runDir;
    const tmp = `${runDir}.building-${randomBytes(4).toString('hex')}`;
    try {
      // Unchanged files of the current tree are hard-linked, not recreated (a replay's bulk).
      const { files, treeHash } = await writeRunDirectory(report, tmp, { reuseUnchangedFrom: runDir });
      const { oldRemoved } = await replaceDirectoryAtomically(tmp, runDir, ['logs']);
      // The previous tree (~35k files on a full run) is deleted after the build returns.
      oldRemoved.catch((error: unknown) => this.logger.error(`could not delete the previous tree of ${runDir}: ${(error as Error).message}`));
      const overall = report.evaluation.method.overall;
      const summary: Record<string, number | string | null> = {
        normalized_mae: overall.primary.value,
        n: overall.n,
        scored: overall.nScored,
        parse_failures: overall.parseFailures,
        inference_failures: overall.inferenceFailures,
        outliers: overall.outliers,
        cache_hit_rate: report.cache.hitRate,
      };
      for (const b of report.evaluation.baselines) summary[`${b.method}.normalized_mae`] = b.overall.primary.value;
      return { identity, attempt: chosen, runDir, files: files.length, treeHash, summary };
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
