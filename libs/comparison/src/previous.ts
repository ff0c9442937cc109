import { compareCodeUnits, sampleKey, type Prediction, type Sample } from '@assay/contracts';
import { DEFAULT_BOOTSTRAP, entityIndexOf, joinRows, pairedDifference, rowMeanSums, type BootstrapOptions } from '@assay/evaluation';
import type { BestPrevious, ComparisonEntry, RunReport } from '@assay/report';
import { comparedRunFromReport } from './from-report';
import { PRIMARY_METRIC } from './compare';

/**
 * "Is this run better than the best one before it?" for every run's README: the best completed run
 * registered before this run's evaluation, on the same data files and split, and the paired
 * difference to it with its interval. Only earlier runs count, so a replay later, after better
 * runs, still shows the same comparison.
 */

/** The completed run with the lowest primary metric among the earlier runs on the same data; ties by identity. */
export function bestPreviousRun(entries: readonly ComparisonEntry[]): ComparisonEntry | null {
  const done = entries.filter((e) => e.status === 'completed' && e.primary !== null);
  done.sort((a, b) => (a.primary as number) - (b.primary as number) || compareCodeUnits(a.identity, b.identity));
  return done[0] ?? null;
}

/** The paired difference (this run - the previous one) on the primary metric over the test entities both scored. */
export function differenceToPrevious(
  report: RunReport,
  previous: { entry: ComparisonEntry; samples: Sample[]; predictions: Prediction[] },
  bootstrap: BootstrapOptions = DEFAULT_BOOTSTRAP,
): BestPrevious {
  const { entry } = previous;
  const base = { identity: entry.identity, method: entry.method, primary: entry.primary };
  const current = comparedRunFromReport(report, 'completed');
  // The truth goes into the key: the same items under other labels settings (binary against ordinal) are other samples.
  const keys = (samples: readonly Sample[]) => samples.map((s) => `${sampleKey(s)} ${s.actual}`).sort(compareCodeUnits).join('\n');
  if (keys(current.samples) !== keys(previous.samples)) {
    return { ...base, delta: null, ci: null, p: null, entities: 0, note: 'the two runs scored different test samples (other items or labels), so no paired difference' };
  }
  const mine = joinRows(current.samples, current.predictions, current.items, current.method);
  const theirs = joinRows(previous.samples, previous.predictions, current.items, entry.method);
  const index = entityIndexOf(mine);
  const d = pairedDifference(rowMeanSums(theirs, PRIMARY_METRIC, index), rowMeanSums(mine, PRIMARY_METRIC, index), bootstrap);
  return { ...base, delta: d.delta, ci: d.ci === null ? null : { low: d.ci.low, high: d.ci.high }, p: d.p, entities: index.size, note: null };
}
