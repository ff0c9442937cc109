import { createHash } from 'node:crypto';
import { compareCodeUnits, sampleKey, type ItemDef, type Prediction, type Sample } from '@assay/contracts';
import { DEFAULT_BOOTSTRAP, joinRows, pairedDifference, ROW_MEAN_METRICS, type BootstrapOptions, type EntitySums } from '@assay/evaluation';
import type { BestPrevious, ComparisonEntry } from '@assay/report';
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

const PRIMARY = ROW_MEAN_METRICS.find((m) => m.key === PRIMARY_METRIC)!;

/**
 * What the paired difference needs of one run, gathered one item group at a time (groups in
 * code-unit order, each once), so neither run's predictions are ever all in memory: per group a
 * digest of its samples (keys and truths: the two runs must have scored the same samples), per
 * test entity the sums of the primary metric over its scored rows. The sums are added in the
 * order rowMeanSums adds them over a whole run's joined rows (group, item), so they are the same
 * numbers bit for bit.
 *
 * The earlier run's side is made `against` this run's: a group whose samples differ from this
 * run's is not joined (its items may not even be this run's), the difference then has a note.
 */
export class PairedSide {
  private readonly digests = new Map<string, string>();
  private readonly sums = new Map<string, { num: number; den: number }>();
  private lastGroup: string | null = null;
  private differs = false;

  constructor(
    /** The method every prediction must be of. */
    readonly method: string,
    /** The items of the run compared against (this run's, for the earlier run's side too). */
    private readonly items: readonly ItemDef[],
    private readonly against?: PairedSide,
  ) {}

  /** One group's samples and its predictions (all of them). */
  addGroup(group: string, samples: Sample[], predictions: Prediction[]): void {
    if (this.lastGroup !== null && compareCodeUnits(this.lastGroup, group) >= 0) throw new Error(`paired side of ${this.method}: group ${JSON.stringify(group)} after ${JSON.stringify(this.lastGroup)} (each group once, in code-unit order)`);
    this.lastGroup = group;
    if (samples.length === 0) return;
    const digest = sampleDigest(samples);
    this.digests.set(group, digest);
    if (this.against !== undefined && this.against.digests.get(group) !== digest) this.differs = true;
    if (this.differs) return;
    for (const r of joinRows(samples, predictions, [...this.items], this.method)) {
      const entity = this.sums.get(r.sample.entityId) ?? { num: 0, den: 0 };
      this.sums.set(r.sample.entityId, entity);
      if (r.predicted === null || (PRIMARY.kind !== null && r.item.kind !== PRIMARY.kind)) continue;
      entity.num += PRIMARY.rowValue(r.predicted, r.sample.actual, r.item);
      entity.den += 1;
    }
  }

  /** Whether both sides scored the same samples (every group's digest equal). */
  sameSamplesAs(other: PairedSide): boolean {
    if (this.differs || other.differs || this.digests.size !== other.digests.size) return false;
    for (const [group, digest] of this.digests) if (other.digests.get(group) !== digest) return false;
    return true;
  }

  /** The sums indexed by `entities` (code-unit order), as rowMeanSums gives them. */
  entitySums(entities: readonly string[]): EntitySums {
    const index = new Map(entities.map((id, i) => [id, i]));
    const sums = { num: new Float64Array(entities.length), den: new Float64Array(entities.length) };
    for (const [id, s] of this.sums) {
      const e = index.get(id);
      if (e === undefined) {
        if (s.den === 0) continue;
        throw new Error(`entity ${JSON.stringify(id)} is not in the bootstrap's entity list`);
      }
      sums.num[e] = s.num;
      sums.den[e] = s.den;
    }
    return sums;
  }

  /** The entities with rows, in code-unit order: the clusters of the bootstrap. */
  entities(): string[] {
    return [...this.sums.keys()].sort(compareCodeUnits);
  }
}

/** One group's samples, keys and truths, as one digest (the same items under other labels settings are other samples). */
function sampleDigest(samples: readonly Sample[]): string {
  const keys = samples.map((s) => `${sampleKey(s)} ${s.actual}`).sort(compareCodeUnits);
  return createHash('sha256').update(keys.join('\n')).digest('hex');
}

/** A run's PairedSide from all its samples and predictions at once (tests, and runs small enough). */
export function pairedSideOf(method: string, items: readonly ItemDef[], samples: readonly Sample[], predictions: readonly Prediction[], against?: PairedSide): PairedSide {
  const side = new PairedSide(method, items, against);
  const groups = [...new Set(samples.map((s) => s.group))].sort(compareCodeUnits);
  for (const group of groups) side.addGroup(group, samples.filter((s) => s.group === group), predictions.filter((p) => p.group === group));
  return side;
}

/** The paired difference (this run - the previous one) on the primary metric over the test entities both scored. */
export function differenceToPrevious(current: PairedSide, previous: { entry: ComparisonEntry; side: PairedSide }, bootstrap: BootstrapOptions = DEFAULT_BOOTSTRAP): BestPrevious {
  const { entry } = previous;
  const base = { identity: entry.identity, method: entry.method, primary: entry.primary };
  if (!current.sameSamplesAs(previous.side)) {
    return { ...base, delta: null, ci: null, p: null, entities: 0, note: 'the two runs scored different test samples (other items or labels), so no paired difference' };
  }
  const entities = current.entities();
  const d = pairedDifference(previous.side.entitySums(entities), current.entitySums(entities), bootstrap);
  return { ...base, delta: d.delta, ci: d.ci === null ? null : { low: d.ci.low, high: d.ci.high }, p: d.p, entities: entities.length, note: null };
}
