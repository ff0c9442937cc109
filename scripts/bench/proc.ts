import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CODE_ROOT } from './root';

/** Peak resident set (VmHWM) of a live process, in MB; null once it has exited. */
export function peakRssMb(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Shared infrastructure (the event log and the broker), found by process name: its CPU is counted apart from the stack's. */
export const INFRA_COMMANDS = ['postgres', 'nats-server'];

/** Name (comm) and CPU time (user + system, seconds) of a live process; null once it has exited. */
export function processCpu(pid: number | string): { comm: string; cpuS: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    // Fields after "(comm)": state is field 3, utime 14, stime 15 (in clock ticks, 100 per s on Linux).
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { comm, cpuS: (Number(rest[11]) + Number(rest[12])) / 100 };
  } catch {
    return null;
  }
}

/** CPU time (user + system) a live process has used so far, in seconds; null once it has exited. */
export function cpuSeconds(pid: number | undefined): number | null {
  return pid === undefined ? null : (processCpu(pid)?.cpuS ?? null);
}

/** Busy and total CPU time of the whole machine so far (from /proc/stat), in ticks. */
export function machineCpu(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: total - fields[3] - fields[4], total };
}

/** Live processes whose name (comm) is one of `names` (e.g. postgres), with their CPU seconds so far. */
export function processesNamed(names: readonly string[]): Array<{ pid: string; cpuS: number }> {
  const found: Array<{ pid: string; cpuS: number }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const p = processCpu(entry); // null: gone meanwhile
    if (p && names.includes(p.comm)) found.push({ pid: entry, cpuS: p.cpuS });
  }
  return found;
}

/** CPU seconds used so far by every live process whose name (comm) is one of `names`, e.g. postgres. */
export function cpuOfCommands(names: string[]): number {
  return processesNamed(names).reduce((a, p) => a + p.cpuS, 0);
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
export function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export interface CliResult {
  code: number | null;
  timedOut: boolean;
  seconds: number;
  stdout: string;
  stderr: string;
  /** stderr lines with the time (s since start) they arrived: the CLI's own phase markers. */
  lines: Array<{ t: number; line: string }>;
  /** CPU seconds the CLI used (sampled every 250 ms while it ran); null if never read. */
  cpuS: number | null;
}

/**
 * `assay ...` like stack.cli, but bounded: after `timeoutS` the CLI is killed (only it: the
 * services keep running and are stopped with the stack) and the result says so.
 */
export function runCli(env: NodeJS.ProcessEnv, args: string[], timeoutS: number): Promise<CliResult> {
  return new Promise((resolve) => {
    const began = performance.now();
    const child = spawn(process.execPath, [join(CODE_ROOT, 'bin', 'assay.js'), ...args], { cwd: CODE_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    // An exited process's CPU is no longer in /proc: read while it runs, the last reading kept (at most 250 ms short).
    let cpuS: number | null = null;
    const cpuPoll = setInterval(() => (cpuS = cpuSeconds(child.pid) ?? cpuS), 250);
    let stdout = '';
    let stderr = '';
    let partial = '';
    const lines: CliResult['lines'] = [];
    let timedOut = false;
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => {
      const text = c.toString();
      stderr += text;
      const t = (performance.now() - began) / 1000;
      const parts = (partial + text).split(/\r|\n/);
      partial = parts.pop() ?? '';
      for (const line of parts) if (line.trim()) lines.push({ t, line: line.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '') });
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutS * 1000);
    const kill = async () => void child.kill('SIGKILL');
    cleanups.add(kill);
    child.on('exit', (code) => {
      cleanups.delete(kill);
      clearTimeout(timer);
      clearInterval(cpuPoll);
      resolve({ code, timedOut, seconds: (performance.now() - began) / 1000, stdout, stderr, lines, cpuS });
    });
  });
}

/** Cleanups of what is running now (a stack, a simulator), run on SIGINT/SIGTERM before exiting. */
export const cleanups = new Set<() => Promise<void>>();

export function onSignals(): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.error(`bench: ${signal}: stopping what it started ...`);
    void Promise.allSettled([...cleanups].map((c) => c())).then(() => process.exit(130));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
