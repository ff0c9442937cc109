import type { EntityScore, MethodScores, ReviewLine, ScoreSummary } from '../../evaluation/src/types';
import { preflightWarningsLine } from '@assay/evaluation';
import { compareCodeUnits, groupEntityKey } from '@assay/contracts';
import { compareWorstFirst } from '@assay/evaluation';
import { encodePathSegment } from './path-segment';
import type { PredictionRow, RunReport, RunWideReport } from './types';

/** Where things go in the tree, and the orderings every file shares. */

export const SUMMARY_FILE = 'summary.txt';

export function groupDir(group: string): string {
  return `groups/${encodePathSegment(group)}`;
}

export function entityDir(group: string, entityId: string): string {
  return `${groupDir(group)}/entities/${encodePathSegment(entityId)}`;
}

/** '<item>.txt', never 'summary.txt': an item called "summary" gets an escaped name instead. */
export function itemFileName(item: string): string {
  return `${encodePathSegment(item, ['summary'])}.txt`;
}

export function compareRows(a: PredictionRow, b: PredictionRow): number {
  return compareCodeUnits(a.group, b.group) || compareCodeUnits(a.entityId, b.entityId) || compareCodeUnits(a.item, b.item);
}

/**
 * Rows sorted by group, entity, item. A repeated (group, entity, item) is rejected: the writer
 * could only keep one of them, and which one would depend on input order.
 */
export function sortRows(rows: readonly PredictionRow[]): PredictionRow[] {
  const sorted = [...rows].sort(compareRows);
  for (let i = 1; i < sorted.length; i++) {
    if (compareRows(sorted[i - 1], sorted[i]) === 0) {
      const r = sorted[i];
      throw new Error(`duplicate prediction row for ${JSON.stringify({ group: r.group, entityId: r.entityId, item: r.item })}`);
    }
  }
  return sorted;
}

export interface GroupEntry {
  group: string;
  summary: ScoreSummary | undefined;
}

/** Every group with rows (`rowGroups`: their names) or scores, worst first (nulls first), ties by group name. */
export function groupsWorstFirst(report: Pick<RunWideReport, 'evaluation'>, rowGroups: Iterable<string>): GroupEntry[] {
  const byGroup = new Map(report.evaluation.method.byGroup.map((g) => [g.group, g.summary]));
  const names = new Set<string>(byGroup.keys());
  for (const group of rowGroups) names.add(group);
  return [...names]
    .map((group) => ({ group, summary: byGroup.get(group) }))
    .sort((a, b) => compareWorstFirst(a.summary?.primary.value ?? null, b.summary?.primary.value ?? null) || compareCodeUnits(a.group, b.group));
}

export interface EntityEntry {
  group: string;
  entityId: string;
  summary: ScoreSummary | undefined;
}

export function compareEntitiesWorstFirst(a: EntityEntry, b: EntityEntry): number {
  return (
    compareWorstFirst(a.summary?.primary.value ?? null, b.summary?.primary.value ?? null) ||
    compareCodeUnits(a.entityId, b.entityId) ||
    compareCodeUnits(a.group, b.group)
  );
}

/** Per-entity score lookup for any method, keyed by (group, entity). */
export class EntityScores {
  private readonly map = new Map<string, ScoreSummary>();
  constructor(scores: { byEntity: readonly EntityScore[] }) {
    for (const e of scores.byEntity) this.map.set(groupEntityKey(e.group, e.entityId), e.summary);
  }
  get(group: string, entityId: string): ScoreSummary | undefined {
    return this.map.get(groupEntityKey(group, entityId));
  }
}

/** The worst entity of the whole run (same order as per_entity.csv), or null without rows. */
export function worstEntity(report: RunReport, sortedRows: readonly PredictionRow[]): EntityEntry | null {
  const scores = new EntityScores(report.evaluation.method);
  let worst: EntityEntry | null = null;
  let previous = '';
  for (const r of sortedRows) {
    const key = groupEntityKey(r.group, r.entityId);
    if (key === previous) continue;
    previous = key;
    const entry = { group: r.group, entityId: r.entityId, summary: scores.get(r.group, r.entityId) };
    if (worst === null || compareEntitiesWorstFirst(entry, worst) < 0) worst = entry;
  }
  return worst;
}

export function baselinesByName(report: Pick<RunWideReport, 'evaluation'>): MethodScores[] {
  return [...report.evaluation.baselines].sort((a, b) => compareCodeUnits(a.method, b.method));
}

type Verdict = Exclude<ReviewLine['status'], 'todo'>;
const STATUS_RANK: Record<Verdict, number> = { pass: 0, warn: 1, fail: 2 };

/** The evaluator's checklist, plus a line for the pre-flight's warnings when there were any. */
export function runReview(report: Pick<RunReport, 'evaluation' | 'warnings'>): ReviewLine[] {
  const review = report.evaluation.review;
  return report.warnings.length > 0 ? [...review, preflightWarningsLine(report.warnings)] : review;
}

/**
 * review.txt: one line per check in the evaluator's order, a one-line verdict over them, then the
 * researcher's to-dos. A to-do is not a check: no code can judge it, so it never counts as a pass
 * (or a warning) in the verdict, and it is listed apart so it is not mistaken for one.
 */
export function renderReview(review: readonly ReviewLine[]): string {
  const oneLine = (text: string) => text.replace(/\s*[\r\n]+\s*/g, ' ');
  const show = (r: ReviewLine) => `[${r.status.toUpperCase()}] ${oneLine(r.check)} — ${oneLine(r.detail)}`;
  const checks = review.filter((r): r is ReviewLine & { status: Verdict } => r.status !== 'todo');
  const todos = review.filter((r) => r.status === 'todo');
  const count = (s: Verdict) => checks.filter((r) => r.status === s).length;
  const worst = checks.reduce<Verdict>((w, r) => (STATUS_RANK[r.status] > STATUS_RANK[w] ? r.status : w), 'pass');
  const verdict =
    checks.length === 0
      ? 'OVERALL: WARN — no review checks were produced'
      : `OVERALL: ${worst.toUpperCase()} — ${count('fail')} fail, ${count('warn')} warn, ${count('pass')} pass of ${checks.length} checks`;
  const todoBlock = todos.length === 0 ? [] : ['', 'FOR YOU TO DO (not checks: no code can judge these, so they are not part of the verdict):', ...todos.map(show)];
  return `${[...checks.map(show), verdict, ...todoBlock].join('\n')}\n`;
}
