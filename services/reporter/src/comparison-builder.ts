import { Injectable } from '@nestjs/common';
import { checkRunList, compareRuns, comparedRunFromReport, writeComparisonDirectory, type Comparison } from '@assay/comparison';
import { parseRunDir } from '@assay/experiments';
import { ReportBuilder, UnknownExperimentError } from './report-builder';

export interface BuiltComparison {
  key: string;
  dir: string;
  files: string[];
  paired: boolean;
  pairs: Comparison['pairs'];
}

/**
 * Writes a comparison directory (`<output root>/comparisons/<hash of inputs>`) for completed runs,
 * each read from the log as its own run directory shows it. The statistics and the files are
 * libs/comparison's; this only loads, checks status and says where the result went.
 */
@Injectable()
export class ComparisonBuilder {
  constructor(private readonly reports: ReportBuilder) {}

  async build(identities: readonly string[], allowUnpaired: boolean): Promise<BuiltComparison> {
    const registry = new Map((await this.reports.registry()).map((e) => [e.identity, e]));
    // Checked before any run is loaded: an unknown or unfinished one fails fast, nothing written.
    const unknown = identities.find((identity) => !registry.has(identity));
    if (unknown !== undefined) throw new UnknownExperimentError(unknown);
    checkRunList(identities.map((identity) => ({ identity, status: registry.get(identity)!.status })));
    const loaded = [];
    for (const identity of identities) loaded.push(await this.reports.loadReport(identity));
    const comparison = compareRuns(
      loaded.map((l) => comparedRunFromReport(l.report, registry.get(l.report.identity)!.status)),
      { allowUnpaired },
    );
    const { outputRoot } = parseRunDir(loaded[0].runDir);
    const { dir, files } = await writeComparisonDirectory(comparison, outputRoot);
    return { key: comparison.key, dir, files, paired: comparison.paired, pairs: comparison.pairs };
  }
}
