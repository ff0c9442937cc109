import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Real-time per-run log files, readable while the run goes on: `<runDir>/logs/<service>.log`, one
 * line per event, appended synchronously so `tail -f` shows step 1 at once and nothing sits in a
 * buffer when a process dies. Logs carry wall-clock times, so they are not part of the replayable
 * tree.
 */
export class RunLog {
  private readonly known = new Set<string>();

  constructor(private readonly service: string) {}

  write(runDir: string, message: string): void {
    const file = join(runDir, 'logs', `${this.service}.log`);
    if (!this.known.has(file)) {
      mkdirSync(dirname(file), { recursive: true });
      this.known.add(file);
    }
    const line = `[${new Date().toISOString()}] ${message}\n`;
    appendFileSync(file, line);
    process.stdout.write(`${this.service}: ${message}\n`);
  }
}
