import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { Command, CommanderError, InvalidArgumentError, Option, type OutputConfiguration } from 'commander';
// The file, not the package index: `up` must not load the NATS client just for a delay formula.
import { backoffDelayMs } from '../libs/messaging/src/errors';

/**
 * `npm run up [-- --workers N --simulator --simulator-port 8011 --simulator-latency zero|gpu]`
 *
 * Runs the whole system in the foreground for local use: planner, N inference-workers, evaluator,
 * reporter and optionally the simulator, each a child process whose output lines are prefixed with
 * its name. Ctrl-C / SIGTERM stops them all (SIGTERM, then SIGKILL after 10 s).
 *
 * A process that exits on its own is restarted after a growing delay, as a process supervisor
 * would: one crashed worker must not take the rest of the system down with it, and the event log
 * plus JetStream redelivery make a restarted service pick up where the old one stopped. A service
 * that keeps crashing (RESTART_POLICY.maxCrashes within RESTART_POLICY.windowMs) is given up on:
 * the system cannot be kept whole without it, so the others are stopped and `up` exits 1.
 *
 * The pure parts (argument parsing, the process plan, line splitting and prefixing, the restart
 * policy) are exported for the unit tests; the supervisor at the bottom is the only part that
 * touches processes.
 */

export const SERVICES = ['planner', 'inference-worker', 'evaluator', 'reporter'] as const;
export const SIMULATOR_MODEL = 'sim/llm-8b';
export const STOP_TIMEOUT_MS = 10_000;
/** A child writing this much without a newline is flushed as a line anyway, to bound memory. */
export const MAX_LINE_CHARS = 64 * 1024;

export type Latency = 'zero' | 'gpu';

export interface UpOptions {
  workers: number;
  simulator: boolean;
  simulatorPort: number;
  simulatorLatency: Latency;
}

export interface ProcessSpec {
  /** Shown in the output prefix; unique within a plan. */
  name: string;
  /** Entry script, relative to the dist directory. */
  entry: string;
  args: string[];
  /** Added to (and overriding) the inherited environment. */
  env: Record<string, string>;
}

function integerIn(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}, got '${value}'`);
    }
    return n;
  };
}

/**
 * Parses `up`'s flags. Errors (and --help) throw a CommanderError after commander has written its
 * message to `output` (stderr by default), so callers decide the exit code.
 */
export function parseUpArgs(argv: readonly string[], output?: OutputConfiguration): UpOptions {
  const program = new Command()
    .name('npm run up --')
    .description('Start planner, inference-worker(s), evaluator and reporter (and optionally the simulator) in the foreground.')
    .option('--workers <n>', 'number of inference-worker processes', integerIn(1, 256), 1)
    .option('--simulator', 'also start the OpenAI-compatible LLM simulator', false)
    .option('--simulator-port <port>', 'port of the simulator', integerIn(1, 65535), 8011)
    .addOption(new Option('--simulator-latency <preset>', 'latency preset of the simulator').choices(['zero', 'gpu']).default('zero'))
    .allowExcessArguments(false)
    .exitOverride();
  if (output) program.configureOutput(output);
  program.parse([...argv], { from: 'user' });
  const o = program.opts<UpOptions>();
  const simulatorOnly = ['simulatorPort', 'simulatorLatency'].filter((key) => program.getOptionValueSource(key) === 'cli');
  if (!o.simulator && simulatorOnly.length > 0) {
    // Likely a forgotten --simulator; silently ignoring the flag would leave no LLM to talk to.
    program.error('error: --simulator-port and --simulator-latency only apply with --simulator');
  }
  return { workers: o.workers, simulator: o.simulator, simulatorPort: o.simulatorPort, simulatorLatency: o.simulatorLatency };
}

/** The processes to start, in start order (the simulator first, so workers find it up). */
export function planProcesses(options: UpOptions): ProcessSpec[] {
  const service = (name: string, dir: string, env: Record<string, string> = {}): ProcessSpec => ({
    name,
    entry: `services/${dir}/src/main.js`,
    args: [],
    env,
  });
  const plan: ProcessSpec[] = [];
  if (options.simulator) {
    plan.push({
      name: 'simulator',
      entry: 'libs/testing/src/simulator/main.js',
      args: ['--port', String(options.simulatorPort), '--model', SIMULATOR_MODEL, '--latency', options.simulatorLatency],
      env: {},
    });
  }
  plan.push(service('planner', 'planner'));
  for (let i = 1; i <= options.workers; i++) {
    // The process name is the worker id, so a log line can be matched to the events it wrote.
    const id = `worker-${i}`;
    plan.push(service(id, 'inference-worker', { ASSAY_WORKER_ID: id }));
  }
  plan.push(service('evaluator', 'evaluator'), service('reporter', 'reporter'));
  return plan;
}

/**
 * Splits a byte stream into lines. Chunks may end anywhere: mid-line, between '\r' and '\n', or
 * inside a multi-byte UTF-8 character; the remainder is kept for the next chunk.
 */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';

  constructor(private readonly maxLineChars = MAX_LINE_CHARS) {}

  push(chunk: Buffer | string): string[] {
    const parts = (this.pending + this.decoder.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)).split('\n');
    this.pending = parts.pop() ?? '';
    const lines = parts.map(stripCarriageReturn);
    while (this.pending.length >= this.maxLineChars) {
      lines.push(this.pending.slice(0, this.maxLineChars));
      this.pending = this.pending.slice(this.maxLineChars);
    }
    return lines;
  }

  /** The last line when the stream ended without a newline (and any undecodable tail bytes). */
  end(): string[] {
    const rest = this.pending + this.decoder.end();
    this.pending = '';
    return rest === '' ? [] : [stripCarriageReturn(rest)];
  }
}

function stripCarriageReturn(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/** ANSI foreground colours, cycled over the processes. Red is left for errors. */
const COLOURS = [36, 33, 32, 35, 34, 96, 93, 92, 95, 94];

export function colourFor(index: number): number {
  return COLOURS[index % COLOURS.length];
}

/** `planner   | `: the name padded to `width`, coloured when `colour` is given. */
export function makePrefix(name: string, width: number, colour?: number): string {
  const padded = name.padEnd(width);
  return `${colour === undefined ? padded : `\x1b[${colour}m${padded}\x1b[0m`} | `;
}

/** The lines, each prefixed and newline-terminated, as one string (one write per chunk). */
export function prefixLines(prefix: string, lines: readonly string[]): string {
  return lines.map((line) => `${prefix}${line}\n`).join('');
}

export function prefixWidth(names: readonly string[]): number {
  return Math.max(0, ...names.map((n) => n.length));
}

export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal !== null) return `signal ${signal}`;
  return `exit code ${code ?? 'unknown'}`;
}

/** A process stopped cleanly if it exited 0, or died of the signal that asked it to stop. */
export function stoppedCleanly(code: number | null, signal: NodeJS.Signals | null): boolean {
  return code === 0 || signal === 'SIGTERM' || signal === 'SIGINT';
}

export interface RestartPolicy {
  /** Delay before the first restart; it doubles with each crash still inside the window. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** This many crashes of one service within windowMs and it is given up on. */
  maxCrashes: number;
  windowMs: number;
}

/**
 * Five crashes in a minute is a crash loop (bad config, a bug on start-up, a dependency that is
 * gone), not bad luck: restarting it forever would only scroll the cause off the screen. Delays
 * grow as 1, 2, 4, 8 s (jittered down to half that), so a crash loop is given up on within about
 * 15 s, while a service that crashes now and then is restarted every time.
 */
export const RESTART_POLICY: RestartPolicy = { baseDelayMs: 1000, maxDelayMs: 30_000, maxCrashes: 5, windowMs: 60_000 };

export type RestartDecision =
  | { action: 'restart'; delayMs: number; crashesInWindow: number; recentCrashes: number[] }
  | { action: 'give-up'; crashesInWindow: number; recentCrashes: number[] };

/**
 * What to do about a service that just crashed at `now`, given the times of its earlier crashes.
 * Only crashes within the window count, so a service that crashed once a day ago restarts at the
 * base delay again. `random` is the backoff's jitter (injectable for tests): several workers
 * killed together then do not all restart in the same instant.
 */
export function decideRestart(
  previousCrashes: readonly number[],
  now: number,
  policy: RestartPolicy = RESTART_POLICY,
  random: () => number = Math.random,
): RestartDecision {
  const recentCrashes = [...previousCrashes.filter((t) => now - t < policy.windowMs), now];
  const crashesInWindow = recentCrashes.length;
  if (crashesInWindow >= policy.maxCrashes) return { action: 'give-up', crashesInWindow, recentCrashes };
  return { action: 'restart', delayMs: backoffDelayMs(crashesInWindow, policy.baseDelayMs, policy.maxDelayMs, random), crashesInWindow, recentCrashes };
}

// ---------------------------------------------------------------------------------------------
// The supervisor: everything below starts, watches and stops real processes.

/** dist/ next to this file when compiled (dist/scripts/up.js), else <repo>/dist (ts-node/jest). */
function defaultDistDir(): string {
  const parent = dirname(__dirname);
  return basename(parent) === 'dist' ? parent : join(parent, 'dist');
}

/** One planned process and its current incarnation; a restart replaces `proc`, not the slot. */
interface Slot {
  spec: ProcessSpec;
  index: number;
  proc?: ChildProcess;
  /** No process of this slot is running (it exited, or is waiting for its restart). */
  exited: boolean;
  crashes: number[];
  restarts: number;
  restartTimer?: NodeJS.Timeout;
}

const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
/**
 * Under `npm run up` one Ctrl-C arrives twice (from the terminal, and forwarded by npm), so a
 * repeat only counts as "kill now" once this long has passed since the first signal.
 */
const REPEAT_SIGNAL_MS = 1000;

export interface SupervisorOptions {
  restartPolicy?: RestartPolicy;
  /** Where the children's prefixed lines and the supervisor's own go (process.stdout/stderr). */
  stdout?: Writable;
  stderr?: Writable;
}

class Supervisor {
  private readonly slots: Slot[];
  private readonly width: number;
  private readonly colour: boolean;
  private readonly policy: RestartPolicy;
  private readonly stdout: Writable;
  private readonly stderr: Writable;
  private stopping = false;
  private signalledAt: number | undefined;
  private gaveUpOn: string | undefined;
  private unclean = false;
  private killTimer: NodeJS.Timeout | undefined;
  private resolve: (code: number) => void = () => undefined;

  constructor(
    plan: ProcessSpec[],
    private readonly distDir: string,
    options: SupervisorOptions = {},
  ) {
    this.slots = plan.map((spec, index) => ({ spec, index, exited: true, crashes: [], restarts: 0 }));
    this.width = prefixWidth(['up', ...plan.map((p) => p.name)]);
    this.policy = options.restartPolicy ?? RESTART_POLICY;
    this.stdout = options.stdout ?? process.stdout;
    this.stderr = options.stderr ?? process.stderr;
    this.colour = (this.stdout as NodeJS.WriteStream).isTTY === true && !process.env.NO_COLOR;
  }

  run(): Promise<number> {
    return new Promise<number>((resolve) => {
      this.resolve = resolve;
      for (const signal of STOP_SIGNALS) process.on(signal, this.onSignal);
      process.on('exit', this.killAllNow);
      this.log(`starting ${this.slots.map((s) => s.spec.name).join(', ')} (Ctrl-C stops them all)`);
      for (const slot of this.slots) this.start(slot);
    });
  }

  private start(slot: Slot): void {
    const { spec } = slot;
    const proc = spawn(process.execPath, [join(this.distDir, spec.entry), ...spec.args], {
      env: { ...process.env, ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Own process group: a terminal Ctrl-C then reaches only `up`, and each child gets exactly
      // one SIGTERM from us. Nest's shutdown hook dies at once on a second signal, so a SIGINT
      // from the terminal plus our SIGTERM would cut its graceful shutdown short.
      detached: true,
    });
    slot.proc = proc;
    slot.exited = false;
    const prefix = makePrefix(spec.name, this.width, this.colour ? colourFor(slot.index) : undefined);
    pipeLines(proc.stdout!, this.stdout, prefix);
    pipeLines(proc.stderr!, this.stderr, prefix);
    // 'close' rather than 'exit': by then the child's last output lines have been printed.
    proc.on('close', (code, signal) => this.onExit(slot, proc, code, signal));
    proc.on('error', (error) => {
      this.log(`${spec.name}: ${error.message}`);
      // Without a pid the process never started and no 'close' will come; with one, this was a
      // failed kill() and the process is still running (the stop timer will retry).
      if (proc.pid === undefined) this.onExit(slot, proc, null, null);
    });
  }

  private onExit(slot: Slot, proc: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    // A late event of an earlier incarnation (e.g. 'error' then 'close') must not count twice.
    if (slot.proc !== proc || slot.exited) return;
    slot.exited = true;
    if (!this.stopping) {
      this.onCrash(slot, code, signal);
    } else if (!stoppedCleanly(code, signal)) {
      this.unclean = true;
      this.log(`${slot.spec.name} stopped with ${describeExit(code, signal)}`);
    }
    this.finishIfDone();
  }

  private onCrash(slot: Slot, code: number | null, signal: NodeJS.Signals | null): void {
    const name = slot.spec.name;
    const decision = decideRestart(slot.crashes, Date.now(), this.policy);
    slot.crashes = decision.recentCrashes;
    const crashes = `${decision.crashesInWindow} crash${decision.crashesInWindow === 1 ? '' : 'es'} within ${formatSeconds(this.policy.windowMs)}`;
    if (decision.action === 'give-up') {
      this.gaveUpOn = name;
      this.log(
        `${name} exited unexpectedly (${describeExit(code, signal)}); ${crashes} after ${slot.restarts} restart${slot.restarts === 1 ? '' : 's'}: ` +
          `giving up on ${name}. The system cannot run without it, so stopping the others; see ${name}'s last lines above for the cause`,
      );
      this.stopAll();
      return;
    }
    slot.restarts += 1;
    this.log(
      `${name} exited unexpectedly (${describeExit(code, signal)}); restart ${slot.restarts} in ${formatSeconds(decision.delayMs)} (${crashes}; ` +
        `giving up at ${this.policy.maxCrashes})`,
    );
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (this.stopping) return;
      this.log(`restarting ${name} (restart ${slot.restarts})`);
      this.start(slot);
    }, decision.delayMs);
  }

  private readonly onSignal = (signal: NodeJS.Signals): void => {
    if (this.signalledAt !== undefined) {
      if (Date.now() - this.signalledAt < REPEAT_SIGNAL_MS) return;
      this.log(`${signal} again: killing what is left`);
      this.killStragglers();
      return;
    }
    this.signalledAt = Date.now();
    if (this.stopping) {
      // Already stopping after giving up on a service; the stop timer is running.
      this.log(`${signal}: already stopping (Ctrl-C again to kill now)`);
      return;
    }
    this.log(`${signal}: stopping all (waiting up to ${STOP_TIMEOUT_MS / 1000} s; Ctrl-C again to kill now)`);
    this.stopAll();
    this.finishIfDone();
  };

  private stopAll(): void {
    this.stopping = true;
    for (const slot of this.slots) {
      // A service waiting for its restart is already down; it just stays down.
      clearTimeout(slot.restartTimer);
      slot.restartTimer = undefined;
    }
    for (const s of this.live()) s.proc!.kill('SIGTERM');
    this.killTimer = setTimeout(() => this.killStragglers(), STOP_TIMEOUT_MS);
  }

  private killStragglers(): void {
    for (const s of this.live()) {
      this.log(`${s.spec.name} did not stop in time; sending SIGKILL`);
      this.unclean = true;
      s.proc!.kill('SIGKILL');
    }
  }

  /** Last resort when `up` itself exits early: detached children would otherwise outlive it. */
  private readonly killAllNow = (): void => {
    for (const s of this.live()) s.proc!.kill('SIGKILL');
  };

  private finishIfDone(): void {
    // Until a stop was asked for (or a service given up on), a down service is only waiting for
    // its restart, even when nothing else is running.
    if (!this.stopping || this.live().length > 0) return;
    clearTimeout(this.killTimer);
    for (const signal of STOP_SIGNALS) process.off(signal, this.onSignal);
    process.off('exit', this.killAllNow);
    const code = this.gaveUpOn !== undefined || this.unclean ? 1 : 0;
    this.log(
      this.gaveUpOn !== undefined
        ? `stopped everything after giving up on ${this.gaveUpOn} (see above)`
        : this.unclean
          ? 'stopped, not all cleanly'
          : 'all stopped',
    );
    this.resolve(code);
  }

  private live(): Slot[] {
    return this.slots.filter((s) => !s.exited);
  }

  private log(message: string): void {
    this.stderr.write(prefixLines(makePrefix('up', this.width, this.colour ? 1 : undefined), [message]));
  }
}

/** `0.5 s`, `2 s`, `60 s`: delays and windows in the supervisor's messages. */
export function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(ms < 10_000 ? 1 : 0))} s`;
}

function pipeLines(from: Readable, to: Writable, prefix: string): void {
  const splitter = new LineSplitter();
  const write = (lines: string[]): void => {
    if (lines.length > 0) to.write(prefixLines(prefix, lines));
  };
  from.on('data', (chunk: Buffer) => write(splitter.push(chunk)));
  from.on('end', () => write(splitter.end()));
}

/**
 * Returns the exit code. `distDir` and `options` are overridable so the supervisor can be tried on
 * a stub tree with a fast restart policy.
 */
export async function main(argv: string[], distDir: string = defaultDistDir(), supervisor: SupervisorOptions = {}): Promise<number> {
  let options: UpOptions;
  try {
    options = parseUpArgs(argv);
  } catch (error) {
    // Commander has already printed the usage error or the help; only its exit code is left.
    if (error instanceof CommanderError) return error.exitCode;
    throw error;
  }
  const plan = planProcesses(options);
  const shown = relative(process.cwd(), distDir) || distDir;
  if (!existsSync(distDir)) {
    console.error(`up: ${shown}/ does not exist: run npm run build first`);
    return 1;
  }
  const missing = plan.map((p) => join(distDir, p.entry)).filter((file) => !existsSync(file));
  if (missing.length > 0) {
    const files = [...new Set(missing)].map((f) => relative(process.cwd(), f)).join(', ');
    console.error(`up: not built: ${files}: run npm run build first`);
    return 1;
  }
  return new Supervisor(plan, distDir, supervisor).run();
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(`up: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    },
  );
}
