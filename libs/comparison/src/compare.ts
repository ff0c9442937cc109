import { compareCodeUnits, itemKey, sampleKey, type ItemDef, type Prediction, type Sample } from '@assay/contracts';
import { canonicalJson } from '@assay/config';
import { createHash } from 'node:crypto';
import {
  DEFAULT_BOOTSTRAP,
  entityIndexOf,
  evaluateRows,
  holmAdjust,
  joinRows,
  pairedFromDraws,
  resampledRatios,
  rowMeanSums,
  unpairedDifference,
  type BootstrapOptions,
  type Interval,
  type MethodScores,
  type PairedDifference,
  type Row,
} from '@assay/evaluation';

/**
 * Comparing methods honestly: every run is scored by the same evaluate(), and differences come
 * with a paired cluster bootstrap over the test entities the runs share (each resample draws
 * respondents once and scores every run on that draw, so what makes a respondent hard for all
 * methods cancels out), p-values, and a Holm correction across the pairs compared.
 * Pure: the caller loads the runs from the log and writes the result.
 */

export const PRIMARY_METRIC = 'normalized_mae';

/** One run as the comparison needs it: identity, what it ran, and its scored test predictions. */
export interface ComparedRun {
  identity: string;
  method: string;
  /** Registry status; only completed runs are compared. */
  status: string;
  attempt: number;
  evaluationRound: number;
  evaluatorVersion: string;
  /** Resolved config. */
  config: Record<string, unknown>;
  /** sha256 of profiles, responses, items and split files. */
  dataHashes: Record<string, string>;
  items: ItemDef[];
  samples: Sample[];
  predictions: Prediction[];
}

/** Input that cannot be compared: the reason names the run(s) and what differs. Nothing is written. */
export class ComparisonRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ComparisonRefusedError';
  }
}

export interface ConfigDifference {
  /** Dotted path into the resolved config, e.g. `prompt.system`. */
  key: string;
  /** One value per run, in run order; null when the key is absent from that run. */
  values: (string | null)[];
}

export interface MethodRow {
  identity: string;
  method: string;
  rank: number;
  scores: MethodScores;
}

export interface PairResult {
  baseline: string;
  candidate: string;
  /** candidate - baseline on the primary metric (normalized_mae: positive = candidate worse). */
  delta: number;
  ci: Interval | null;
  p: number;
  /** Holm-adjusted across all pairs of the comparison. */
  pHolm: number;
}

export interface GroupDelta {
  baseline: string;
  candidate: string;
  group: string;
  baselineValue: number | null;
  candidateValue: number | null;
  delta: number | null;
  ci: Interval | null;
  p: number | null;
}

export interface ItemDelta {
  baseline: string;
  candidate: string;
  group: string;
  item: string;
  baselineValue: number | null;
  candidateValue: number | null;
  delta: number | null;
  baselineWasserstein: number | null;
  candidateWasserstein: number | null;
}

export interface EntityDelta {
  baseline: string;
  candidate: string;
  entityId: string;
  baselineValue: number | null;
  candidateValue: number | null;
  delta: number | null;
}

export interface Comparison {
  /** Hash of the inputs: runs (identity, attempt, evaluation round, evaluator) and options. */
  key: string;
  paired: boolean;
  /** Why the comparison is not paired (different data or split), when it is not. */
  unpairedReason: string | null;
  primaryMetric: string;
  bootstrap: BootstrapOptions;
  runs: { identity: string; method: string; attempt: number; evaluationRound: number; evaluatorVersion: string; dataHashes: Record<string, string> }[];
  sharedEntities: number;
  items: number;
  configDiff: ConfigDifference[];
  /** Best first on the primary metric. */
  ranking: MethodRow[];
  pairs: PairResult[];
  /** Worst first: largest delta (candidate loses most) first, undefined deltas last. */
  byGroup: GroupDelta[];
  byItem: ItemDelta[];
  byEntity: EntityDelta[];
}

export interface CompareOptions {
  /** Compare runs on different data or splits, unpaired (the README says so first). */
  allowUnpaired?: boolean;
  bootstrap?: BootstrapOptions;
}

const DATA_ROLES = ['profiles', 'responses', 'items', 'split'] as const;

/** The dotted leaves of a JSON object: arrays and scalars are leaves (shown as canonical JSON). */
function flatten(value: unknown, prefix: string, out: Map<string, string>): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix === '' ? k : `${prefix}.${k}`, out);
  } else {
    out.set(prefix, typeof value === 'string' ? value : canonicalJson(value));
  }
}

/** The config keys whose resolved values differ between the runs, values side by side, keys sorted. */
export function configDiff(configs: readonly Record<string, unknown>[]): ConfigDifference[] {
  const flat = configs.map((c) => {
    const m = new Map<string, string>();
    flatten(c, '', m);
    return m;
  });
  const keys = [...new Set(flat.flatMap((m) => [...m.keys()]))].sort(compareCodeUnits);
  return keys
    .map((key) => ({ key, values: flat.map((m) => m.get(key) ?? null) }))
    .filter((d) => d.values.some((v) => v !== d.values[0]));
}

function itemSet(run: ComparedRun): string[] {
  return run.items.map((i) => itemKey(i.group, i.item)).sort(compareCodeUnits);
}

/** At least two distinct runs, every one completed: checked before any run's predictions are loaded. */
export function checkRunList(runs: readonly { identity: string; status: string }[]): void {
  if (runs.length < 2) throw new ComparisonRefusedError(`compare needs at least two runs, got ${runs.length}${runs.length === 1 ? ` (${runs[0].identity})` : ''}`);
  const seen = new Set<string>();
  for (const r of runs) {
    if (seen.has(r.identity)) throw new ComparisonRefusedError(`${r.identity} is named twice`);
    seen.add(r.identity);
    if (r.status !== 'completed') throw new ComparisonRefusedError(`${r.identity} is ${r.status}, not completed: only finished runs are compared`);
  }
}

/** Refuses input that cannot be compared; returns why the comparison is unpaired, or null. */
export function checkComparable(runs: readonly ComparedRun[], allowUnpaired: boolean): string | null {
  checkRunList(runs);
  const [first, ...rest] = runs;
  const firstItems = itemSet(first);
  for (const r of rest) {
    const items = itemSet(r);
    if (canonicalJson(items) !== canonicalJson(firstItems)) {
      const onlyFirst = firstItems.filter((k) => !items.includes(k));
      const onlyOther = items.filter((k) => !firstItems.includes(k));
      throw new ComparisonRefusedError(
        `${r.identity} and ${first.identity} have different item sets (only in ${first.identity}: ${onlyFirst.slice(0, 5).join(', ') || 'none'}; ` +
          `only in ${r.identity}: ${onlyOther.slice(0, 5).join(', ') || 'none'}): their scores do not measure the same thing`,
      );
    }
  }
  // Same item keys can still be scored differently (labels.mode binary against ordinal): a kind or
  // range that differs means the two runs' errors are on different scales.
  const scale = (run: ComparedRun) => new Map(run.items.map((i) => [itemKey(i.group, i.item), `${i.kind} [${i.min}, ${i.max}]`]));
  const firstScale = scale(first);
  for (const r of rest) {
    for (const [key, described] of scale(r)) {
      if (firstScale.get(key) !== described) {
        throw new ComparisonRefusedError(`${r.identity} scores item ${key} as ${described}, ${first.identity} as ${firstScale.get(key)} (other labels settings): their scores do not measure the same thing`);
      }
    }
  }
  const differences: string[] = [];
  for (const r of rest) {
    for (const role of DATA_ROLES) {
      if (r.dataHashes[role] !== first.dataHashes[role]) {
        differences.push(`${r.identity} has other ${role === 'split' ? 'split' : `${role} data`} than ${first.identity} (sha256 ${r.dataHashes[role]?.slice(0, 12)} vs ${first.dataHashes[role]?.slice(0, 12)})`);
      }
    }
    if (differences.length === 0) {
      const keys = (run: ComparedRun) => run.samples.map(sampleKey).sort(compareCodeUnits);
      if (canonicalJson(keys(r)) !== canonicalJson(keys(first))) differences.push(`${r.identity} and ${first.identity} scored different test samples`);
    }
  }
  if (differences.length === 0) return null;
  const reason = differences.join('; ');
  if (!allowUnpaired) throw new ComparisonRefusedError(`${reason}: a paired comparison needs the same data and split (--allow-unpaired compares them anyway, unpaired)`);
  return reason;
}

function comparisonKey(runs: readonly ComparedRun[], paired: boolean, bootstrap: BootstrapOptions): string {
  // A short stable name: the same runs (as evaluated) and options always land in the same directory.
  const inputs = { runs: runs.map((r) => [r.identity, r.attempt, r.evaluationRound, r.evaluatorVersion]), paired, bootstrap };
  return createHash('sha256').update(canonicalJson(inputs)).digest('hex').slice(0, 16);
}

/** Larger delta first (the candidate loses most), null deltas last, then the given tie-breakers. */
function worstFirst(a: number | null, b: number | null): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? 1 : -1;
  return b - a;
}

function primaryOf(rows: readonly Row[], entityIndex: ReadonlyMap<string, number>) {
  return rowMeanSums(rows, PRIMARY_METRIC, entityIndex);
}

export function compareRuns(runs: readonly ComparedRun[], options: CompareOptions = {}): Comparison {
  const bootstrap = options.bootstrap ?? DEFAULT_BOOTSTRAP;
  const unpairedReason = checkComparable(runs, options.allowUnpaired === true);
  const paired = unpairedReason === null;

  const rowsOf = runs.map((r) => joinRows(r.samples, r.predictions, r.items, r.method));
  // Per-entity summaries are not part of a comparison (by_entity has the paired deltas instead),
  // nor are intervals of the distribution metrics (each run's own README has them).
  const scores = runs.map((r, k) => evaluateRows(r.method, rowsOf[k], bootstrap, { perEntity: false, distributionIntervals: false }));
  const indexes = rowsOf.map((rows) => entityIndexOf(rows));
  const sharedEntities = paired ? indexes[0].size : [...indexes[0].keys()].filter((e) => indexes.every((ix) => ix.has(e))).length;

  const ranking: MethodRow[] = runs
    .map((r, i) => ({ identity: r.identity, method: r.method, rank: 0, scores: scores[i], order: i }))
    .sort((a, b) => {
      const va = a.scores.overall.primary.value;
      const vb = b.scores.overall.primary.value;
      if (va === null || vb === null) return va === vb ? a.order - b.order : va === null ? 1 : -1;
      return va - vb || a.order - b.order;
    })
    .map(({ order: _order, ...row }, i) => ({ ...row, rank: i + 1 }));

  const groups = [...new Set(runs[0].items.map((i) => i.group))].sort(compareCodeUnits);
  // Per run: the primary metric's per-entity sums overall (slot 0) and per group (slot 1 + g).
  const sums = runs.map((_, k) => [primaryOf(rowsOf[k], indexes[k]), ...groups.map((g) => primaryOf(rowsOf[k].filter((r) => r.sample.group === g), indexes[k]))]);
  // Paired: every run and slice is resampled on the same draws in one pass, so each pair's
  // difference is a subtraction per resample. Unpaired: each pair resamples its runs on their own.
  const shared = paired ? resampledRatios(sums.flat(), bootstrap) : null;
  const slots = 1 + groups.length;
  const difference = (i: number, j: number, slot: number): PairedDifference =>
    shared === null
      ? unpairedDifference(sums[i][slot], sums[j][slot], bootstrap)
      : pairedFromDraws({ sums: sums[i][slot], draws: shared[i * slots + slot] }, { sums: sums[j][slot], draws: shared[j * slots + slot] });

  const pairIndexes: [number, number][] = [];
  for (let i = 0; i < runs.length; i++) for (let j = i + 1; j < runs.length; j++) pairIndexes.push([i, j]);

  const rawPairs = pairIndexes.map(([i, j]) => {
    const d = difference(i, j, 0);
    return { baseline: runs[i].identity, candidate: runs[j].identity, delta: d.delta, ci: d.ci, p: d.p };
  });
  const adjusted = holmAdjust(rawPairs.map((p) => p.p));
  const pairs: PairResult[] = rawPairs.map((p, k) => ({ ...p, pHolm: adjusted[k] }));

  const byGroup: GroupDelta[] = [];
  const byItem: ItemDelta[] = [];
  const byEntity: EntityDelta[] = [];
  for (const [i, j] of pairIndexes) {
    const baseline = runs[i].identity;
    const candidate = runs[j].identity;
    const groupValue = (k: number, g: string) => scores[k].byGroup.find((s) => s.group === g)?.summary.primary.value ?? null;
    groups.forEach((group, g) => {
      const bValue = groupValue(i, group);
      const cValue = groupValue(j, group);
      if (bValue === null || cValue === null) {
        byGroup.push({ baseline, candidate, group, baselineValue: bValue, candidateValue: cValue, delta: null, ci: null, p: null });
        return;
      }
      const d = difference(i, j, 1 + g);
      byGroup.push({ baseline, candidate, group, baselineValue: bValue, candidateValue: cValue, delta: d.delta, ci: d.ci, p: d.p });
    });
    const cItems = new Map(scores[j].byItem.map((s) => [itemKey(s.group, s.item), s.summary]));
    for (const { group, item, summary: b } of scores[i].byItem) {
      // The item sets are equal (checkComparable), so every item has its counterpart.
      const c = cItems.get(itemKey(group, item))!;
      const bv = b.primary.value;
      const cv = c.primary.value;
      byItem.push({
        baseline,
        candidate,
        group,
        item,
        baselineValue: bv,
        candidateValue: cv,
        delta: bv === null || cv === null ? null : cv - bv,
        baselineWasserstein: b.metrics.wasserstein?.value ?? null,
        candidateWasserstein: c.metrics.wasserstein?.value ?? null,
      });
    }
    const entityValues = (k: number) => {
      const overall = sums[k][0];
      const out = new Map<string, number | null>();
      for (const [id, e] of indexes[k]) out.set(id, overall.den[e] === 0 ? null : overall.num[e] / overall.den[e]);
      return out;
    };
    const bEntities = entityValues(i);
    const cEntities = entityValues(j);
    for (const [entityId, bv] of bEntities) {
      if (!cEntities.has(entityId)) continue;
      const cv = cEntities.get(entityId)!;
      byEntity.push({ baseline, candidate, entityId, baselineValue: bv, candidateValue: cv, delta: bv === null || cv === null ? null : cv - bv });
    }
  }
  byGroup.sort((a, b) => worstFirst(a.delta, b.delta) || compareCodeUnits(a.baseline, b.baseline) || compareCodeUnits(a.candidate, b.candidate) || compareCodeUnits(a.group, b.group));
  byItem.sort(
    (a, b) =>
      worstFirst(a.delta, b.delta) || compareCodeUnits(a.baseline, b.baseline) || compareCodeUnits(a.candidate, b.candidate) || compareCodeUnits(a.group, b.group) || compareCodeUnits(a.item, b.item),
  );
  byEntity.sort((a, b) => worstFirst(a.delta, b.delta) || compareCodeUnits(a.baseline, b.baseline) || compareCodeUnits(a.candidate, b.candidate) || compareCodeUnits(a.entityId, b.entityId));

  return {
    key: comparisonKey(runs, paired, bootstrap),
    paired,
    unpairedReason,
    primaryMetric: PRIMARY_METRIC,
    bootstrap,
    runs: runs.map((r) => ({ identity: r.identity, method: r.method, attempt: r.attempt, evaluationRound: r.evaluationRound, evaluatorVersion: r.evaluatorVersion, dataHashes: r.dataHashes })),
    sharedEntities,
    items: runs[0].items.length,
    configDiff: configDiff(runs.map((r) => r.config)),
    ranking,
    pairs,
    byGroup,
    byItem,
    byEntity,
  };
}
