import { INFRA_COMMANDS, machineCpu, processCpu, processesNamed } from './proc';

/**
 * How much of a pipeline run the machine's CPU allows. The simulators stand in for GPUs but run on
 * the same cores as the services, Postgres and NATS, so on a small machine four replicas with four
 * workers can be limited by CPU rather than by the latency model. The run's processes are sampled
 * from /proc while it runs; over the inference phase (full run planned -> last batch committed)
 * their CPU per prompt gives the most prompts per second the cores allow, and so the most speedup
 * over one replica that this machine can show.
 */

/** The process groups a run's CPU is split into. */
export type CpuGroup = 'services' | 'simulators' | 'infra';
export const CPU_GROUPS: readonly CpuGroup[] = ['services', 'simulators', 'infra'];

export interface CpuSample {
  /** Wall clock (ms since the epoch). */
  at: number;
  /** CPU seconds (user + system) so far of each live process counted, by pid, with its group. */
  pids: Record<string, { group: CpuGroup; cpuS: number }>;
  /** The whole machine's busy and total CPU so far, in seconds of one core. */
  machine: { busyS: number; totalS: number };
}

/** One sample: the given pids by group, and every postgres / nats-server process as infra. */
export function sampleCpu(groups: ReadonlyArray<{ group: CpuGroup; pid: number | undefined }>): CpuSample {
  const pids: CpuSample['pids'] = {};
  for (const { group, pid } of groups) {
    const p = pid === undefined ? null : processCpu(pid);
    if (p) pids[String(pid)] = { group, cpuS: p.cpuS };
  }
  for (const p of processesNamed(INFRA_COMMANDS)) pids[p.pid] ??= { group: 'infra', cpuS: p.cpuS };
  const machine = machineCpu();
  return { at: Date.now(), pids, machine: { busyS: machine.busy / 100, totalS: machine.total / 100 } };
}

/** Samples every `intervalMs` until stopped; the samples are kept in order. */
export class CpuSampler {
  readonly samples: CpuSample[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(groups: () => ReadonlyArray<{ group: CpuGroup; pid: number | undefined }>, intervalMs = 500) {
    const take = () => this.samples.push(sampleCpu(groups()));
    take();
    this.timer = setInterval(take, intervalMs);
    this.timer.unref();
  }

  stop(): CpuSample[] {
    clearInterval(this.timer);
    return this.samples;
  }
}

export interface WindowCpu {
  /** Seconds between the first and last sample inside the window. */
  seconds: number;
  /** CPU seconds of each group within those samples. */
  byGroup: Record<CpuGroup, number>;
  /** CPU seconds of everything else on the machine (the CLI, other users). */
  other: number;
  /** Cores of the machine (CPU seconds per wall second it can give). */
  cores: number;
}

/**
 * CPU used between the first sample at or after `from` and the last at or before `to`. A process
 * is counted from its value in the first sample (0 when it started inside the window, e.g. a
 * Postgres backend) to its last value seen, so one that exits (a killed replica) keeps what it used.
 */
export function cpuInWindow(samples: readonly CpuSample[], from: number, to: number): WindowCpu | null {
  const inside = samples.filter((s) => s.at >= from && s.at <= to);
  if (inside.length < 2) return null;
  const [first, last] = [inside[0], inside[inside.length - 1]];
  const byGroup: Record<CpuGroup, number> = { services: 0, simulators: 0, infra: 0 };
  const lastSeen = new Map<string, { group: CpuGroup; cpuS: number }>();
  for (const s of inside) for (const [pid, p] of Object.entries(s.pids)) lastSeen.set(pid, p);
  for (const [pid, p] of lastSeen) byGroup[p.group] += p.cpuS - (first.pids[pid]?.cpuS ?? 0);
  const seconds = (last.at - first.at) / 1000;
  const busy = last.machine.busyS - first.machine.busyS;
  const cores = seconds > 0 ? (last.machine.totalS - first.machine.totalS) / seconds : NaN;
  const counted = byGroup.services + byGroup.simulators + byGroup.infra;
  return { seconds, byGroup, other: Math.max(0, busy - counted), cores };
}

export interface CpuLimit {
  /** Milliseconds of CPU per prompt answered, by group, and in all (the run's own processes). */
  msPerPrompt: Record<CpuGroup | 'total', number>;
  /** Prompts per second the machine's cores allow at that CPU per prompt (nothing else running). */
  ceilingRate: number;
  /** The same, with the cores other processes (CLI, other users) took during the window left out. */
  ceilingRateLeft: number;
  /** The speedups over `baselineRate` those ceilings allow. */
  ceilingSpeedup: number;
  ceilingSpeedupLeft: number;
}

/** The CPU ceiling of a run that answered `rate` prompts per second during `window`, against `baselineRate`. */
export function cpuLimit(window: WindowCpu, rate: number, baselineRate: number): CpuLimit {
  const perPrompt = (cpuS: number) => (cpuS / window.seconds / rate) * 1000;
  const msPerPrompt = {
    services: perPrompt(window.byGroup.services),
    simulators: perPrompt(window.byGroup.simulators),
    infra: perPrompt(window.byGroup.infra),
    total: perPrompt(window.byGroup.services + window.byGroup.simulators + window.byGroup.infra),
  };
  const ceilingRate = (window.cores * 1000) / msPerPrompt.total;
  const ceilingRateLeft = (Math.max(0, window.cores - window.other / window.seconds) * 1000) / msPerPrompt.total;
  return { msPerPrompt, ceilingRate, ceilingRateLeft, ceilingSpeedup: ceilingRate / baselineRate, ceilingSpeedupLeft: ceilingRateLeft / baselineRate };
}
