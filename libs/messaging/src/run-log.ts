import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { errorMessage } from '@assay/contracts';

/**
 * Real-time per-run log files, readable while the run goes on: `<runDir>/logs/<service>.attempt-<N>.log`
 * (a re-run with --force writes to the same run directory: each attempt keeps its own lines), one
 * line per event, appended synchronously so `tail -f` shows step 1 at once and nothing sits in a
 * buffer when a process dies. Logs carry wall-clock times, so they are not part of the replayable
 * tree.
 */
export class RunLog {
  private readonly known = new Set<string>();

  constructor(private readonly service: string) {}

  /** Files that could not be written, said once each: a log line must not fail the work it reports. */
  private readonly unwritable = new Set<string>();

  /** `attempt` null: a line about no attempt (a request refused before one started), in `<service>.log`. */
  write(runDir: string, attempt: number | null, message: string): void {
    const file = runLogFile(runDir, this.service, attempt);
    process.stdout.write(`${this.service}: ${message}\n`);
    if (this.unwritable.has(file)) return;
    try {
      if (!this.known.has(file)) {
        mkdirSync(dirname(file), { recursive: true });
        this.known.add(file);
      }
      appendFileSync(file, `[${new Date().toISOString()}] ${message}\n`);
    } catch (error) {
      this.unwritable.add(file);
      process.stdout.write(`${this.service}: cannot write the run log ${file} (${errorMessage(error)}); its lines go to this output only\n`);
    }
  }
}

/** Where a service's lines about one attempt of a run go. */
export function runLogFile(runDir: string, service: string, attempt: number | null): string {
  if (attempt === null) return join(runDir, 'logs', `${service}.log`);
  if (!Number.isInteger(attempt) || attempt < 1) throw new Error(`run log of ${service} in ${runDir}: attempt must be a positive integer, got ${attempt}`);
  return join(runDir, 'logs', `${service}.attempt-${attempt}.log`);
}
