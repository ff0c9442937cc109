import { sampleKey } from '@assay/contracts';
import type { Prediction } from '@assay/contracts';
import { TRAIN_MEAN_METHOD } from './baselines';
import { compareCodeUnits } from '@assay/contracts';
import { fmt, pct } from './order';
import { addFailure, ANSWER_OK, noFailures, type AnswerColumns, type FailureExamples, type SampleTable, type TableAnswers } from './table';
import type { MethodScores, ReviewLine, ReviewStatus, ValueRange } from './types';

/**
 * The post-run review checklist: the questions to answer before trusting a run's numbers (did the
 * outputs parse, does the distribution look sane, does the ranking make sense, what is left for a
 * human), one line per check, each with the numbers behind its status so a reader can disagree
 * with the threshold. Thresholds:
 * - parse failures: < 1% pass, <= 5% warn, > 5% fail (of outputs that exist);
 * - inference failures: none pass, some warn, all fail;
 * - distribution: fail if every prediction is identical; warn if a group's |pred mean - actual
 *   mean| exceeds 10% of its declared range;
 * - groups: a group whose normalized MAE is worse than the train-mean baseline's is
 *   catastrophic; any -> warn, more than half of the groups -> fail;
 * - outliers: none pass, up to 5% of scored predictions warn, more fail; "systematic" when at
 *   least 3 and more than half sit in one group or one item;
 * - ranking: better than every baseline pass, worse than every baseline fail, else warn;
 * - spot-check and notes are for a human: listed as to-dos, never as a verdict (code cannot tell
 *   whether the sampled files read well, and calling them "pass" would claim it did).
 */

export const PARSE_PASS_BELOW = 0.01;
export const PARSE_WARN_UP_TO = 0.05;
export const BIAS_WARN_FRACTION = 0.1;
export const OUTLIER_WARN_UP_TO = 0.05;
const SYSTEMATIC_MIN_COUNT = 3;
const SHOW = 3;

function line(check: string, status: ReviewStatus, detail: string): ReviewLine {
  return { check, status, detail };
}

/**
 * What the review reads of a method's answers, gathered in one pass (from a list of predictions
 * or from an evaluation's columns): failure counts with their first examples, the usable values'
 * count and whether they are all equal, and the outliers per item.
 */
export interface AnswerFacts {
  parseFailures: FailureExamples;
  inferenceFailures: FailureExamples;
  /** Usable values: how many, the first, and whether every one equals it. */
  usable: number;
  firstUsable: number | null;
  allUsableEqual: boolean;
  /** Outliers among the usable values, per item that has any, in the order first seen. */
  outliersByItem: Array<{ group: string; item: string; count: number }>;
  outliers: number;
}

class FactsCollector {
  usable = 0;
  firstUsable: number | null = null;
  allUsableEqual = true;
  outliers = 0;
  private readonly outlierCounts = new Map<string, { group: string; item: string; count: number }>();

  addUsable(value: number, outlier: boolean, group: string, item: string): void {
    if (this.usable === 0) this.firstUsable = value;
    else if (value !== this.firstUsable) this.allUsableEqual = false;
    this.usable++;
    if (!outlier) return;
    this.outliers++;
    const key = JSON.stringify([group, item]);
    const known = this.outlierCounts.get(key);
    if (known) known.count++;
    else this.outlierCounts.set(key, { group, item, count: 1 });
  }

  facts(parseFailures: FailureExamples, inferenceFailures: FailureExamples): AnswerFacts {
    const { usable, firstUsable, allUsableEqual, outliers } = this;
    return { parseFailures, inferenceFailures, usable, firstUsable, allUsableEqual, outliersByItem: [...this.outlierCounts.values()], outliers };
  }
}

export function answerFactsOf(predictions: readonly Prediction[]): AnswerFacts {
  const parse = noFailures();
  const inference = noFailures();
  const collector = new FactsCollector();
  for (const p of predictions) {
    if (p.parseStatus === 'parse_failure') addFailure(parse, sampleKey(p), p.parseError ?? '');
    else if (p.parseStatus === 'inference_failure') addFailure(inference, sampleKey(p), p.parseError ?? '');
    else if (p.predicted !== null) collector.addUsable(p.predicted, p.outlier, p.group, p.item);
  }
  return collector.facts(parse, inference);
}

/** answerFactsOf for answers held as columns (the failures were gathered when the table was built). */
export function answerFactsOfTable(table: SampleTable, answers: TableAnswers): AnswerFacts {
  const collector = new FactsCollector();
  const { predicted, status, outlier }: AnswerColumns = answers.answers;
  for (let r = 0; r < table.size; r++) {
    if (status[r] !== ANSWER_OK) continue;
    const it = table.items[table.item[r]];
    collector.addUsable(predicted[r], outlier[r] === 1, it.group, it.item);
  }
  return collector.facts(answers.parseFailures, answers.inferenceFailures);
}

function examples(failures: FailureExamples): string {
  const shown = failures.first.slice(0, SHOW);
  if (shown.length === 0) return '';
  return `; e.g. ${shown.map((f) => `${f.key}: ${f.error}`).join('; ')}`;
}

function factsOf(answers: Prediction[] | AnswerFacts): AnswerFacts {
  return Array.isArray(answers) ? answerFactsOf(answers) : answers;
}

export function parseFailureLine(scores: MethodScores, answers: Prediction[] | AnswerFacts): ReviewLine {
  const o = scores.overall;
  const outputs = o.n - o.inferenceFailures;
  const check = 'Parse failure rate';
  if (outputs === 0) return line(check, 'fail', `no outputs to parse: all ${o.n} samples failed at inference`);
  const rate = o.parseFailures / outputs;
  const status: ReviewStatus = rate < PARSE_PASS_BELOW ? 'pass' : rate <= PARSE_WARN_UP_TO ? 'warn' : 'fail';
  return line(check, status, `${o.parseFailures} of ${outputs} outputs failed to parse (${pct(o.parseFailures, outputs)}; pass < 1%, fail > 5%)${examples(factsOf(answers).parseFailures)}`);
}

export function inferenceFailureLine(scores: MethodScores, answers: Prediction[] | AnswerFacts): ReviewLine {
  const o = scores.overall;
  const status: ReviewStatus = o.inferenceFailures === 0 ? 'pass' : o.inferenceFailures === o.n ? 'fail' : 'warn';
  const failed = factsOf(answers).inferenceFailures;
  const missing = o.inferenceFailures - failed.count;
  const missingText = missing > 0 ? `, ${missing} of them without any prediction` : '';
  return line('Inference failures', status, `${o.inferenceFailures} of ${o.n} samples (${pct(o.inferenceFailures, o.n)}) have no model output${missingText}${examples(failed)}`);
}

/** Pools per-group (n, mean, population std) into overall values. */
function pooled(parts: Array<{ n: number; mean: number | null; std: number | null }>): { mean: number | null; std: number | null } {
  let n = 0;
  let s1 = 0;
  let s2 = 0;
  for (const p of parts) {
    if (p.n === 0 || p.mean === null || p.std === null) continue;
    n += p.n;
    s1 += p.n * p.mean;
    s2 += p.n * (p.std ** 2 + p.mean ** 2);
  }
  if (n === 0) return { mean: null, std: null };
  const m = s1 / n;
  return { mean: m, std: Math.sqrt(Math.max(0, s2 / n - m * m)) };
}

export function distributionLine(ranges: ValueRange[], answers: Prediction[] | AnswerFacts): ReviewLine {
  const check = 'Prediction vs actual distribution';
  const actual = pooled(ranges.map((r) => r.actual));
  const pred = pooled(ranges.map((r) => r.predicted));
  const summary = `predicted mean ${fmt(pred.mean)} (std ${fmt(pred.std)}) vs actual mean ${fmt(actual.mean)} (std ${fmt(actual.std)})`;
  const { usable, firstUsable, allUsableEqual } = factsOf(answers);
  if (usable === 0) return line(check, 'fail', 'no usable predictions');
  if (usable >= 2 && allUsableEqual) {
    return line(check, 'fail', `all predictions identical (${usable} x ${firstUsable}); ${summary}`);
  }
  const biased = ranges
    .filter((r) => r.predicted.mean !== null && r.actual.mean !== null)
    .map((r) => ({ group: r.group, rel: ((r.predicted.mean as number) - (r.actual.mean as number)) / (r.itemMax - r.itemMin) }))
    .filter((b) => Math.abs(b.rel) > BIAS_WARN_FRACTION)
    .sort((a, b) => Math.abs(b.rel) - Math.abs(a.rel) || compareCodeUnits(a.group, b.group));
  if (biased.length === 0) return line(check, 'pass', `${summary}; no group's mean is off by more than 10% of its range`);
  const shown = biased.slice(0, 5).map((b) => `${b.group} (${b.rel > 0 ? '+' : ''}${fmt(b.rel, 2)} of range)`);
  return line(check, 'warn', `${summary}; ${biased.length} group(s) with |pred mean - actual mean| > 10% of range: ${shown.join(', ')}${biased.length > 5 ? ', ...' : ''}`);
}

export function groupLine(scores: MethodScores, baselines: MethodScores[]): ReviewLine {
  const check = 'Per-group spread and catastrophic groups';
  const valued = scores.byGroup.filter((g) => g.summary.primary.value !== null);
  const nullGroups = scores.byGroup.length - valued.length;
  // byGroup is worst first, so the first and last valued groups are the extremes.
  const spread =
    valued.length === 0
      ? 'no group has a normalized MAE'
      : `normalized MAE worst ${valued[0].group} ${fmt(valued[0].summary.primary.value)}, best ${valued[valued.length - 1].group} ${fmt(valued[valued.length - 1].summary.primary.value)} over ${scores.byGroup.length} group(s)${nullGroups > 0 ? ` (${nullGroups} without scored points)` : ''}`;
  const baseline = baselines.find((b) => b.method === TRAIN_MEAN_METHOD);
  if (baseline === undefined) return line(check, 'warn', `${spread}; no ${TRAIN_MEAN_METHOD} baseline to judge catastrophic groups`);
  const baselineOf = new Map(baseline.byGroup.map((g) => [g.group, g.summary.primary.value]));
  // A group with no usable prediction where the baseline has one is worse than the baseline.
  const catastrophic = scores.byGroup.filter((g) => {
    const b = baselineOf.get(g.group) ?? null;
    return b !== null && (g.summary.primary.value === null || g.summary.primary.value > b);
  });
  if (catastrophic.length === 0) return line(check, 'pass', `${spread}; no group worse than ${TRAIN_MEAN_METHOD}`);
  const status: ReviewStatus = catastrophic.length * 2 > scores.byGroup.length ? 'fail' : 'warn';
  const shown = catastrophic
    .slice(0, 5)
    .map((g) => `${g.group} ${fmt(g.summary.primary.value)} vs ${fmt(baselineOf.get(g.group) ?? null)}`);
  return line(check, status, `${spread}; ${catastrophic.length} catastrophic group(s) worse than ${TRAIN_MEAN_METHOD}: ${shown.join(', ')}${catastrophic.length > 5 ? ', ...' : ''}`);
}

function concentration(counted: Array<{ key: string; count: number }>): { key: string; count: number } {
  const counts = new Map<string, number>();
  for (const { key, count } of counted) counts.set(key, (counts.get(key) ?? 0) + count);
  let best = { key: '', count: 0 };
  for (const [key, count] of [...counts].sort((a, b) => compareCodeUnits(a[0], b[0]))) if (count > best.count) best = { key, count };
  return best;
}

export function outlierLine(answers: Prediction[] | AnswerFacts): ReviewLine {
  const check = 'Outliers';
  const facts = factsOf(answers);
  const scored = facts.usable;
  const outliers = facts.outliers;
  const head = `${outliers} of ${scored} scored predictions (${pct(outliers, scored)}) outside the item's range`;
  if (outliers === 0) return line(check, 'pass', head);
  const status: ReviewStatus = outliers / scored > OUTLIER_WARN_UP_TO ? 'fail' : 'warn';
  let nature: string;
  if (outliers < SYSTEMATIC_MIN_COUNT) {
    nature = `too few to tell systematic from random (< ${SYSTEMATIC_MIN_COUNT})`;
  } else {
    const group = concentration(facts.outliersByItem.map((o) => ({ key: o.group, count: o.count })));
    const item = concentration(facts.outliersByItem.map((o) => ({ key: `${o.group}/${o.item}`, count: o.count })));
    const top = item.count * 2 > outliers ? { what: 'item', ...item } : { what: 'group', ...group };
    nature =
      top.count * 2 > outliers
        ? `systematic: ${top.count} of ${outliers} in ${top.what} ${top.key}`
        : `random: no group or item holds more than half (largest: group ${group.key} with ${group.count})`;
  }
  return line(check, status, `${head}; ${nature}`);
}

export const SPOT_CHECK = 'Spot-check LLM input/output files';
export const NOTES_CHECK = 'Update experiment notes with findings';

export function spotCheckLine(paths: string[]): ReviewLine {
  if (paths.length === 0) return line(SPOT_CHECK, 'warn', 'no files given to spot-check');
  return line(SPOT_CHECK, 'todo', `read these and check the prompt says what you meant and the answer was parsed right: ${paths.join(', ')}`);
}

/**
 * Review lines as logged by evaluators from before the `todo` status: the spot-check was listed
 * as `pass` and the notes reminder as `warn`, although both are tasks for a human. Read as to-dos,
 * so an old run's verdict means what a new run's does. Every other line is returned as logged.
 */
export function upcastReviewLine(logged: ReviewLine): ReviewLine {
  const todo = (logged.check === SPOT_CHECK && logged.status === 'pass') || (logged.check === NOTES_CHECK && logged.status === 'warn');
  return todo ? { ...logged, status: 'todo' } : logged;
}

/**
 * What the pre-flight warned about (data values outside an item's range, skipped empty values,
 * entities without observations, data changed since the split was drawn, config and prompt
 * warnings): a warn line, so the verdict says the inputs need a look before the numbers are trusted.
 */
export function preflightWarningsLine(warnings: readonly string[]): ReviewLine {
  const shown = warnings.map((w, i) => `(${i + 1}) ${w}`).join(' ');
  return line('Pre-flight warnings (data, split, config)', 'warn', `${warnings.length} warning(s), read them before trusting the numbers: ${shown}`);
}

export function rankingLine(scores: MethodScores, baselines: MethodScores[]): ReviewLine {
  const check = 'Ranking vs baselines';
  const own = scores.overall.primary.value;
  const comparable = baselines.filter((b) => b.overall.primary.value !== null);
  const skipped = baselines.filter((b) => b.overall.primary.value === null).map((b) => b.method).sort(compareCodeUnits);
  const skippedText = skipped.length > 0 ? `; not comparable (no scored points): ${skipped.join(', ')}` : '';
  if (own === null) return line(check, 'fail', `${scores.method} has no normalized MAE (no scored points)${skippedText}`);
  if (comparable.length === 0) return line(check, 'warn', `no baseline to compare with${skippedText}`);
  const all = [{ method: scores.method, value: own, coverage: scores.overall }, ...comparable.map((b) => ({ method: b.method, value: b.overall.primary.value as number, coverage: b.overall }))]
    .sort((a, b) => a.value - b.value || compareCodeUnits(a.method, b.method));
  const ranking = all
    .map((r, i) => `${i === 0 ? '' : r.value === all[i - 1].value ? ' = ' : ' < '}${r.method} ${fmt(r.value)} (scored ${r.coverage.nScored}/${r.coverage.n})`)
    .join('');
  const better = comparable.filter((b) => own < (b.overall.primary.value as number)).length;
  const worse = comparable.filter((b) => own > (b.overall.primary.value as number)).length;
  const status: ReviewStatus = better === comparable.length ? 'pass' : worse === comparable.length ? 'fail' : 'warn';
  return line(check, status, `normalized MAE, lower is better: ${ranking}${skippedText}`);
}

export function reviewChecklist(args: {
  scores: MethodScores;
  baselines: MethodScores[];
  ranges: ValueRange[];
  /** The method's answers: its predictions, or what the review reads of them (answerFactsOf). */
  predictions: Prediction[] | AnswerFacts;
  spotCheckPaths: string[];
}): ReviewLine[] {
  const { scores, baselines, ranges, spotCheckPaths } = args;
  const facts = factsOf(args.predictions);
  return [
    parseFailureLine(scores, facts),
    inferenceFailureLine(scores, facts),
    distributionLine(ranges, facts),
    groupLine(scores, baselines),
    outlierLine(facts),
    spotCheckLine(spotCheckPaths),
    rankingLine(scores, baselines),
    line(NOTES_CHECK, 'todo', 'write down what this run showed (and what to try next) in the experiment notes'),
  ];
}
