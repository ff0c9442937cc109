import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { Command, CommanderError, InvalidArgumentError, Option, type OutputConfiguration } from 'commander';

/**
 * `npm run up [-- --workers N --simulator --simulator-port 8011 --simulator-latency zero|gpu]`
 *
 * Runs the whole system in the foreground for local use: planner, N inference-workers, evaluator,
 * reporter and optionally the simulator, each a child process whose output lines are prefixed with
 * its name. Ctrl-C / SIGTERM stops them all (SIGTERM, then SIGKILL after 10 s); if any of them
 * exits on its own, the others are stopped and `up` exits 1.
 *
 * The pure parts (argument parsing, the process plan, line splitting and prefixing) are exported
 * for the unit tests; the supervisor at the bottom is the only part that touches processes.
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

// ---------------------------------------------------------------------------------------------
// The supervisor: everything below starts, watches and stops real processes.

/** dist/ next to this file when compiled (dist/scripts/up.js), else <repo>/dist (ts-node/jest). */
function defaultDistDir(): string {
  const parent = dirname(__dirname);
  return basename(parent) === 'dist' ? parent : join(parent, 'dist');
}

interface Child {
  spec: ProcessSpec;
  proc: ChildProcess;
  exited: boolean;
}

const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
/**
 * Under `npm run up` one Ctrl-C arrives twice (from the terminal, and forwarded by npm), so a
 * repeat only counts as "kill now" once this long has passed since the first signal.
 */
const REPEAT_SIGNAL_MS = 1000;

class Supervisor {
  private readonly children: Child[] = [];
  private readonly width: number;
  private readonly colour: boolean;
  private stopping = false;
  private signalledAt: number | undefined;
  private failed = false;
  private unclean = false;
  private killTimer: NodeJS.Timeout | undefined;
  private resolve: (code: number) => void = () => undefined;

  constructor(
    private readonly plan: ProcessSpec[],
    private readonly distDir: string,
  ) {
    this.width = prefixWidth(['up', ...plan.map((p) => p.name)]);
    this.colour = process.stdout.isTTY === true && !process.env.NO_COLOR;
  }

  run(): Promise<number> {
    return new Promise<number>((resolve) => {
      this.resolve = resolve;
      for (const signal of STOP_SIGNALS) process.on(signal, this.onSignal);
      process.on('exit', this.killAllNow);
      this.log(`starting ${this.plan.map((p) => p.name).join(', ')} (Ctrl-C stops them all)`);
      this.plan.forEach((spec, index) => this.start(spec, index));
    });
  }

  private start(spec: ProcessSpec, index: number): void {
    const proc = spawn(process.execPath, [join(this.distDir, spec.entry), ...spec.args], {
      env: { ...process.env, ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Own process group: a terminal Ctrl-C then reaches only `up`, and each child gets exactly
      // one SIGTERM from us. Nest's shutdown hook dies at once on a second signal, so a SIGINT
      // from the terminal plus our SIGTERM would cut its graceful shutdown short.
      detached: true,
    });
    const child: Child = { spec, proc, exited: false };
    this.children.push(child);
    const prefix = makePrefix(spec.name, this.width, this.colour ? colourFor(index) : undefined);
    pipeLines(proc.stdout!, process.stdout, prefix);
    pipeLines(proc.stderr!, process.stderr, prefix);
    // 'close' rather than 'exit': by then the child's last output lines have been printed.
    proc.on('close', (code, signal) => this.onExit(child, code, signal));
    proc.on('error', (error) => {
      this.log(`${spec.name}: ${error.message}`);
      // Without a pid the process never started and no 'close' will come; with one, this was a
      // failed kill() and the process is still running (the stop timer will retry).
      if (proc.pid === undefined) this.onExit(child, null, null);
    });
  }

  private onExit(child: Child, code: number | null, signal: NodeJS.Signals | null): void {
    if (child.exited) return;
    child.exited = true;
    if (!this.stopping) {
      this.log(`${child.spec.name} exited unexpectedly (${describeExit(code, signal)}); stopping the others`);
      this.failed = true;
      this.stopAll();
    } else if (!stoppedCleanly(code, signal)) {
      this.unclean = true;
      this.log(`${child.spec.name} stopped with ${describeExit(code, signal)}`);
    }
    this.finishIfDone();
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
      // Already stopping after a failure; the stop timer is running.
      this.log(`${signal}: already stopping (Ctrl-C again to kill now)`);
      return;
    }
    this.log(`${signal}: stopping all (waiting up to ${STOP_TIMEOUT_MS / 1000} s; Ctrl-C again to kill now)`);
    this.stopAll();
    this.finishIfDone();
  };

  private stopAll(): void {
    this.stopping = true;
    for (const c of this.live()) c.proc.kill('SIGTERM');
    this.killTimer = setTimeout(() => this.killStragglers(), STOP_TIMEOUT_MS);
  }

  private killStragglers(): void {
    for (const c of this.live()) {
      this.log(`${c.spec.name} did not stop in time; sending SIGKILL`);
      this.unclean = true;
      c.proc.kill('SIGKILL');
    }
  }

  /** Last resort when `up` itself exits early: detached children would otherwise outlive it. */
  private readonly killAllNow = (): void => {
    for (const c of this.live()) c.proc.kill('SIGKILL');
  };

  private finishIfDone(): void {
    if (this.live().length > 0) return;
    clearTimeout(this.killTimer);
    for (const signal of STOP_SIGNALS) process.off(signal, this.onSignal);
    process.off('exit', this.killAllNow);
    const code = this.failed || this.unclean ? 1 : 0;
    this.log(this.failed ? 'stopped the others after the failure above' : this.unclean ? 'stopped, not all cleanly' : 'all stopped');
    this.resolve(code);
  }

  private live(): Child[] {
    return this.children.filter((c) => !c.exited);
  }

  private log(message: string): void {
    process.stderr.write(prefixLines(makePrefix('up', this.width, this.colour ? 1 : undefined), [message]));
  }
}

function pipeLines(from: Readable, to: Writable, prefix: string): void {
  const splitter = new LineSplitter();
  const write = (lines: string[]): void => {
    if (lines.length > 0) to.write(prefixLines(prefix, lines));
  };
  from.on('data', (chunk: Buffer) => write(splitter.push(chunk)));
  from.on('end', () => write(splitter.end()));
}

/** Returns the exit code. `distDir` is overridable so the supervisor can be tried on a stub tree. */
export async function main(argv: string[], distDir: string = defaultDistDir()): Promise<number> {
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
  return new Supervisor(plan, distDir).run();
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
