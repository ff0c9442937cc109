import { Injectable } from '@nestjs/common';
import { checkRunList, compareRuns, comparedRunFromReport, writeComparisonDirectory, type Comparison } from '@assay/comparison';
import { parseRunDir, type RegistryEntry } from '@assay/experiments';
import type { PredictionRow } from '@assay/report';
import { KeyedLock } from './keyed-lock';
import { ReportBuilder, UnknownExperimentError } from './report-builder';

export interface BuiltComparison {
  key: string;
  dir: string;
  files: string[];
  paired: boolean;
  pairs: Comparison['pairs'];
}

export interface LoadedComparison {
  comparison: Comparison;
  /** The registry entries of the runs, in the order asked. */
  entries: RegistryEntry[];
  /** Output root of the first run: where its comparison directory goes. */
  outputRoot: string;
}

/** Comparisons kept in memory for the viewer (each is a few hundred KB at full size). */
const KEPT_COMPARISONS = 4;

/**
 * Compares completed runs, each read from the log as its own run directory shows it, and writes a
 * comparison directory (`<output root>/comparisons/<hash of inputs>`) when asked to. The statistics
 * and the files are libs/comparison's; this only loads, checks status and says where the result
 * went. The last few results are kept, keyed by the runs as the registry shows them (attempt,
 * finish and re-evaluation times), so the viewer's page and its JSON twin do not redo the
 * bootstrap, and a re-evaluated run is compared afresh.
 */
@Injectable()
export class ComparisonBuilder {
  private readonly kept = new Map<string, Promise<LoadedComparison>>();
  /** One comparison loads at a time: at full size each holds two runs' predictions (hundreds of MB). */
  private readonly loads = new KeyedLock();

  constructor(private readonly reports: ReportBuilder) {}

  async compare(identities: readonly string[], allowUnpaired: boolean): Promise<LoadedComparison> {
    const registry = new Map((await this.reports.registry()).map((e) => [e.identity, e]));
    // Checked before any run is loaded: an unknown or unfinished one fails fast, nothing written.
    const unknown = identities.find((identity) => !registry.has(identity));
    if (unknown !== undefined) throw new UnknownExperimentError(unknown);
    const entries = identities.map((identity) => registry.get(identity)!);
    checkRunList(entries);
    const key = JSON.stringify([allowUnpaired, entries.map((e) => [e.identity, e.attempt, e.finishedAt, e.reevaluatedAt])]);
    const kept = this.kept.get(key);
    if (kept) {
      // Most recently used last: the oldest is the one dropped.
      this.kept.delete(key);
      this.kept.set(key, kept);
      return kept;
    }
    const loading = this.loads.run('load', () => this.load(entries, allowUnpaired));
    this.kept.set(key, loading);
    if (this.kept.size > KEPT_COMPARISONS) this.kept.delete(this.kept.keys().next().value!);
    // A refused or failed comparison is not kept: the next request says why again, from the log.
    loading.catch(() => this.kept.get(key) === loading && this.kept.delete(key));
    return loading;
  }

  private async load(entries: readonly RegistryEntry[], allowUnpaired: boolean): Promise<LoadedComparison> {
    const runs = [];
    let firstRunDir: string | null = null;
    // Each report becomes the comparison's input before the next is read, so only one run's
    // rows are in memory at a time.
    for (const e of entries) {
      const { report, rows, runDir } = await this.reports.loadReport(e.identity);
      firstRunDir ??= runDir;
      const all: PredictionRow[] = [];
      try {
        for await (const group of rows.groups()) for await (const ofEntity of group.entities()) for (const r of ofEntity) all.push(r);
      } finally {
        await rows.close();
      }
      runs.push(comparedRunFromReport({ ...report, rows: all }, e.status));
    }
    const comparison = compareRuns(runs, { allowUnpaired });
    return { comparison, entries: [...entries], outputRoot: parseRunDir(firstRunDir!).outputRoot };
  }

  async build(identities: readonly string[], allowUnpaired: boolean): Promise<BuiltComparison> {
    const { comparison, outputRoot } = await this.compare(identities, allowUnpaired);
    const { dir, files } = await writeComparisonDirectory(comparison, outputRoot);
    return { key: comparison.key, dir, files, paired: comparison.paired, pairs: comparison.pairs };
  }
}
