/** Live progress arithmetic: pure, so its numbers are tested apart from the terminal. */
export interface ProgressState {
  phase: 'smoke' | 'full';
  total: number | null;
  done: number;
  retries: number;
  inferenceFailures: number;
  parseFailures: number;
  startedAtMs: number;
}

export function newProgress(phase: 'smoke' | 'full', nowMs: number, total: number | null = null): ProgressState {
  return { phase, total, done: 0, retries: 0, inferenceFailures: 0, parseFailures: 0, startedAtMs: nowMs };
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function progressLine(p: ProgressState, nowMs: number): string {
  const elapsed = (nowMs - p.startedAtMs) / 1000;
  const rate = elapsed > 0 ? p.done / elapsed : 0;
  const total = p.total === null ? '?' : String(p.total);
  const eta = p.total !== null && rate > 0 ? formatDuration((p.total - p.done) / rate) : '?';
  const pct = p.total ? ` (${((100 * p.done) / p.total).toFixed(1)}%)` : '';
  return (
    `[${p.phase}] ${p.done}/${total} prompts${pct}, ${rate.toFixed(1)}/s, elapsed ${formatDuration(elapsed)}, ETA ${eta}` +
    `, parse failures ${p.parseFailures}, inference failures ${p.inferenceFailures}, retries ${p.retries}`
  );
}
