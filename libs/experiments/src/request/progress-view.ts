import type { Phase, ProgressUpdate } from '@assay/contracts';

/**
 * Live progress arithmetic: pure, so its numbers are tested apart from the terminal. `done` counts
 * prompts whose batch outcome is committed in the log (the workers report them after commit, an
 * attaching CLI starts from the log's count), so it can never exceed the plan's total.
 */
export type ProgressStage = 'inference' | 'evaluation' | 'report';

export interface ProgressState {
  phase: Phase;
  total: number | null;
  done: number;
  /** `done` when following began: the rate counts only prompts seen done since. */
  doneAtStart: number;
  retries: number;
  inferenceFailures: number;
  parseFailures: number;
  startedAtMs: number;
  /** When `done` last grew (or following began). */
  lastProgressAtMs: number;
  /** `retries` then, so a stall can say how many came since. */
  retriesAtLastProgress: number;
  stage: ProgressStage;
  stageSinceMs: number;
  /** How long the prompts took, once the last one is done. */
  inferenceSeconds: number | null;
  lastReport: { source: string; atMs: number } | null;
  lastMessage: { source: string; text: string; atMs: number } | null;
}

export function newProgress(phase: Phase, nowMs: number, total: number | null = null, done = 0): ProgressState {
  const state: ProgressState = {
    phase,
    total,
    done: 0,
    doneAtStart: 0,
    retries: 0,
    inferenceFailures: 0,
    parseFailures: 0,
    startedAtMs: nowMs,
    lastProgressAtMs: nowMs,
    retriesAtLastProgress: 0,
    stage: 'inference',
    stageSinceMs: nowMs,
    inferenceSeconds: null,
    lastReport: null,
    lastMessage: null,
  };
  state.done = state.doneAtStart = clampDone(state, done);
  return finishedInference(state, nowMs);
}

function clampDone(p: ProgressState, done: number): number {
  return p.total === null ? done : Math.min(p.total, done);
}

/** Once every prompt is done the run waits for its evaluation. */
function finishedInference(p: ProgressState, nowMs: number): ProgressState {
  if (p.stage !== 'inference' || p.total === null || p.done < p.total) return p;
  return { ...p, stage: 'evaluation', stageSinceMs: nowMs, inferenceSeconds: (nowMs - p.startedAtMs) / 1000 };
}

/** Folds one progress message of this run and phase in (the caller filters by identity, attempt and phase). */
export function applyProgress(p: ProgressState, update: ProgressUpdate, nowMs: number): ProgressState {
  const done = clampDone(p, p.done + update.promptsDone);
  const next: ProgressState = {
    ...p,
    done,
    retries: p.retries + update.retries,
    inferenceFailures: Math.min(done, p.inferenceFailures + update.inferenceFailures),
    parseFailures: Math.min(done, p.parseFailures + update.parseFailures),
    lastReport: { source: update.source, atMs: nowMs },
    lastMessage: update.message ? { source: update.source, text: update.message, atMs: nowMs } : p.lastMessage,
  };
  if (done > p.done) {
    next.lastProgressAtMs = nowMs;
    next.retriesAtLastProgress = next.retries;
  }
  return finishedInference(next, nowMs);
}

/** The run moved on to a later stage (its evaluation completed: the report is being written). */
export function enterStage(p: ProgressState, stage: ProgressStage, nowMs: number): ProgressState {
  return p.stage === stage ? p : { ...p, stage, stageSinceMs: nowMs, inferenceSeconds: p.inferenceSeconds ?? (nowMs - p.startedAtMs) / 1000 };
}

/** Seconds without progress: while prompts run, since the last one was done; after, in the current stage. */
export function quietSeconds(p: ProgressState, nowMs: number): number {
  return (nowMs - (p.stage === 'inference' ? p.lastProgressAtMs : p.stageSinceMs)) / 1000;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** The progress line fits a classic terminal. */
export const LINE_WIDTH = 80;

/**
 * One line of at most LINE_WIDTH characters. While prompts run: done/total, rate, elapsed and ETA
 * (no ETA once nothing moved for `stallAfterS`, the stall report says why); after the last prompt:
 * how long inference took and which stage the run waits for, instead of a falling rate.
 */
export function progressLine(p: ProgressState, nowMs: number, stallAfterS = 60): string {
  const counters = [
    p.inferenceFailures ? `inference failures ${p.inferenceFailures}` : '',
    p.parseFailures ? `parse failures ${p.parseFailures}` : '',
    p.retries ? `retries ${p.retries}` : '',
  ].filter(Boolean);
  const total = p.total === null ? '?' : String(p.total);
  let parts: string[];
  if (p.stage === 'inference') {
    const elapsed = (nowMs - p.startedAtMs) / 1000;
    const rate = elapsed > 0 ? (p.done - p.doneAtStart) / elapsed : 0;
    const quiet = quietSeconds(p, nowMs);
    const eta = quiet >= stallAfterS ? `no progress for ${formatDuration(quiet)}` : `ETA ${p.total !== null && rate > 0 ? formatDuration((p.total - p.done) / rate) : '?'}`;
    const pct = p.total ? ` (${((100 * p.done) / p.total).toFixed(1)}%)` : '';
    parts = [`[${p.phase}] ${p.done}/${total}${pct}`, `${rate.toFixed(1)}/s`, `elapsed ${formatDuration(elapsed)}`, eta, ...counters];
  } else {
    const waiting = p.stage === 'evaluation' ? 'evaluating' : 'writing the report';
    parts = [`[${p.phase}] ${p.done}/${total} prompts in ${formatDuration(p.inferenceSeconds ?? 0)}`, `${waiting} ${formatDuration((nowMs - p.stageSinceMs) / 1000)}`, ...counters];
  }
  return fit(parts);
}

/** Joins the parts, shortening labels and then dropping trailing parts until the line fits. */
function fit(parts: string[]): string {
  const join = (ps: string[]) => ps.join(', ');
  if (join(parts).length <= LINE_WIDTH) return join(parts);
  const short = parts.map((s) => s.replace('inference failures', 'inf.fail').replace('parse failures', 'parse.fail').replace('elapsed ', '').replace('no progress for', 'stalled'));
  while (short.length > 1 && join(short).length > LINE_WIDTH) short.pop();
  return join(short).slice(0, LINE_WIDTH);
}
