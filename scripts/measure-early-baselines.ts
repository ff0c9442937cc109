import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
// Relative imports (like the bench), so the script runs from dist/ without aliases.
import { experimentStream, Phase } from '../libs/contracts/src';
import { EventStore, findOneEvent } from '../libs/event-store/src';
import type { EarlyBaselines } from '../libs/experiments/src';
import type { EarlyBaselinesReply } from '../services/evaluator/src/early-baselines.thread';
import { limitHeapGrowth } from '../libs/messaging/src/heap';

/**
 * Memory and CPU of the evaluator's early baselines (EvaluationAssembler.scoreEarly): the
 * compiled early-baselines.thread, started as the evaluator starts it, scores the baselines of a
 * run already in an event log (its batch requests read from Postgres, the data files the run
 * names), beside this process's small main heap. Only reads the log. measure-evaluation.js covers
 * the last batch's assembly; this covers the thread that runs beside the evaluator during
 * inference. Prints the thread's CPU time, the process's RSS before the thread, its peak while the
 * thread ran (VmHWM, what the bench reads) and the scored baselines' digest and scores' hash, so a
 * change can show that it leaves them alone. Usage (after npm run build):
 *     DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> node dist/scripts/measure-early-baselines.js --identity <id> [--attempt N] [--phase full]
 */
const { values } = parseArgs({ options: { identity: { type: 'string' }, attempt: { type: 'string', default: '1' }, phase: { type: 'string', default: 'full' } }, strict: true });

async function main(): Promise<void> {
  if (!values.identity) throw new Error('--identity is required (the run whose baselines to score)');
  // As startService does: the thread's heap grows as it does in the service.
  limitHeapGrowth();
  const early = await earlyInput(values.identity, Number(values.attempt), Phase.parse(values.phase));
  const rssBefore = rssMb();
  resetPeakRss();
  const cpu0 = process.cpuUsage();
  const began = performance.now();
  const reply = await runThread(early);
  const { user, system } = process.cpuUsage(cpu0);
  if ('error' in reply) throw new Error(`the baselines thread failed: ${reply.error}`);
  const scores = JSON.stringify(reply.scored.scores);
  process.stdout.write(
    `baselines of ${early.started.data.identity}#${early.started.data.attempt} (${early.phase}, ${early.items.length} items): ${((performance.now() - began) / 1000).toFixed(1)} s wall, ` +
      `CPU ${((user + system) / 1e6).toFixed(2)} s (the process: mostly the thread); rss before ${rssBefore} MB, peak rss while the thread ran ${peakRssMb()} MB; ` +
      `inputs ${reply.scored.inputsDigest.slice(0, 16)}, scores ${createHash('sha256').update(scores).digest('hex').slice(0, 16)}\n`,
  );
}

/**
 * What the evaluator hands the thread for this run's stage: the attempt's start and the stage's
 * planned items (earlyBaselinesOf, without its checks on a run still going). Two events read, not
 * the run's state: this process's own heap stays small beside the thread's.
 */
async function earlyInput(identity: string, attempt: number, phase: Phase): Promise<EarlyBaselines> {
  const store = await EventStore.openExisting({ poolSize: 1 });
  try {
    return await store.read(async (sql) => {
      const stream = experimentStream(identity);
      const started = await findOneEvent(sql, stream, 'experiment.started', { attempt });
      const planned = await findOneEvent(sql, stream, 'experiment.planned', { attempt, phase });
      return { started, phase, items: planned.data.items };
    });
  } finally {
    await store.close();
  }
}

function runThread(early: EarlyBaselines): Promise<EarlyBaselinesReply> {
  return new Promise((resolve, reject) => {
    const thread = new Worker(join(__dirname, '..', 'services', 'evaluator', 'src', 'early-baselines.thread.js'), { workerData: early });
    thread.once('message', resolve);
    thread.once('error', reject);
    thread.once('exit', (code) => reject(new Error(`the baselines thread exited (code ${code})`)));
  });
}

function rssMb(): string {
  return (process.memoryUsage().rss / 2 ** 20).toFixed(0);
}

/** Clears the peak RSS (Linux VmHWM) so what follows is measured alone; see measure-evaluation. */
function resetPeakRss(): void {
  writeFileSync('/proc/self/clear_refs', '5');
}

function peakRssMb(): string {
  const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  if (!m) throw new Error('no VmHWM in /proc/self/status');
  return (Number(m[1]) / 1024).toFixed(0);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
