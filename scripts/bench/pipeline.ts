import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { connectJetStream, natsSettings } from '../../libs/messaging/src';
import { startStack, writeConfig, type Stack } from '../../libs/testing/src/fixtures/stack';
import { cleanups, cpuOfCommands, cpuSeconds, INFRA_COMMANDS, machineCpu, peakRssMb, runCli, type CliResult } from './proc';
import { cpuInWindow, CpuSampler, type WindowCpu } from './cpu-limit';
import type { SimulatorStats } from '../../libs/testing/src/simulator/metrics';
import { summarizeDir, type ProfileSummary } from './profile';
import { SimClient, spawnSimulator, type SpawnedSimulator } from './sim';
import { EventStore, readStream } from '../../libs/event-store/src';
import { experimentStream, type InferenceCompleted } from '../../libs/contracts/src';
import type { DriverPrompt, Workload } from './workload';
import { drive } from './driver';

/**
 * The reporter's line when a tree is written, e.g. "report of evaluation round 1 written: 35717
 * files in 7.5 s (reading the log 1.9 s, writing 5.4 s, swapping in 0.1 s; tree 04a7f3624bbf; ...)".
 */
const REPORT_WRITTEN = /report (?:of evaluation round \d+ )?written: (\d+) files in ([\d.]+) s \(reading the log ([\d.]+) s, writing ([\d.]+) s, swapping in ([\d.]+) s; tree ([0-9a-f]+)[;)]/;

/**
 * One pipeline scenario: a fresh stack (own database, own JetStream stream and subject prefix,
 * simulator + the four services from dist/), `assay run` timed from start to exit (the CLI exits
 * on experiment.completed, which the reporter emits after writing the tree), then `assay replay`.
 */
export interface PipelineOptions {
  name: string;
  workers: number;
  simulatorArgs: string[];
  workload: Workload;
  concurrency: number;
  maxTokens: number;
  smokeExamples: number;
  runTimeoutS: number;
  replayTimeoutS: number;
  /** Where this scenario's logs are copied (outputs/.bench/logs/<name>). */
  logsOut: string;
  /** Keep the run tree (tens of thousands of files) instead of deleting it after measuring. */
  keepTree: boolean;
  /** Extra environment for the stack's processes (e.g. ASSAY_WORKER_BATCHES). */
  env?: Record<string, string>;
  /** Run the stack's processes with --cpu-prof, profiles written here (see profile.ts). */
  profileDir?: string;
  /**
   * Model replicas: the stack's simulator and `replicas - 1` more (same arguments), listed in
   * model.base_url. `killReplicaAfterRequests`: the last replica is killed (SIGKILL) once it has
   * answered that many requests, mid-run; every prompt must still be answered exactly once.
   */
  replicas?: number;
  killReplicaAfterRequests?: number;
  /**
   * After the run (and its replay), the same prompts sent by a bare client straight to the same
   * simulator, warm-then-fan-out, `concurrency` in flight, its prefix cache emptied first: the
   * time the work needs without assay, measured in the same run on the same server.
   */
  bareClient?: DriverPrompt[];
  /** Config keys merged over the workload's (e.g. another method and its section). */
  configOverrides?: Record<string, unknown>;
  /** A method fitted on the train split (a baseline): its config has no model, prompt or smoke section. */
  fitted?: boolean;
  /**
   * A second `assay run` on the same stack (same log, so the stage cache can serve it) after the
   * first one, with these config keys merged over the first run's: e.g. the two-stage persona with
   * only the stage-2 template changed, whose summaries must all be reused.
   */
  followUp?: { configOverrides: Record<string, unknown> };
}

/** Model answers of a run, by phase (smoke, summary, full): called (reached the model) and reused (from another experiment). */
export type CallsByPhase = Record<string, { called: number; reused: number }>;

/** What a follow-up run (PipelineOptions.followUp) measured. */
export interface FollowUpResult {
  ok: boolean;
  error?: string;
  wallS: number;
  sim: SimulatorStats | null;
  cache: { hitRate: number | null; idealHitRate: number | null } | null;
  calls: CallsByPhase | null;
}

/** What the log says about the full phase's prompts: answered once each, none failed. */
export interface AnsweredOnce {
  planned: number;
  results: number;
  distinct: number;
  failed: number;
  failedOver: number;
  perReplica: Record<string, number>;
}

export interface Phases {
  /** Seconds from `assay run` start; null when the line was not found. */
  started: number | null;
  /**
   * The full run planned: its experiment.planned committed (with the plan's first chunk of batch
   * requests), as the CLI saw it. Not the planner's "full run planned" line, which it writes after
   * the plan's last chunk: at 3x the entities that came a minute and a half after the first
   * batches were answered, and counted the plan's writing as smoke test.
   */
  fullPlanned: number | null;
  /** The planner's "full run planned" line: the plan's last batch request appended. */
  planWritten: number | null;
  firstFullBatch: number | null;
  lastFullBatch: number | null;
  evaluated: number | null;
  reportWritten: number | null;
  exited: number;
  batchesPerWorker: Record<string, number>;
}

export interface PipelineResult {
  name: string;
  ok: boolean;
  error?: string;
  prompts: number | null;
  wallS: number;
  cache: { hitRate: number | null; idealHitRate: number | null } | null;
  sim: SimulatorStats | null;
  /** The reporter's own account of the final build, with how its time split. */
  reporter: { files: number; seconds: number; readS: number; writeS: number; swapS: number; tree: string } | null;
  replay: { seconds: number; ok: boolean; files: number | null; identical: boolean | null; error?: string } | null;
  rssMb: Record<string, number | null>;
  /** CPU seconds each process used from `assay run` start to its exit. */
  cpuS: Record<string, number | null>;
  /** Share of the machine's CPU time busy (any process) during `assay run`. */
  machineBusy: number | null;
  /**
   * CPU seconds during `assay run` of the stack's processes, of Postgres + NATS, of the CLI, of
   * this bench process (its samplers), and of everything else (other users of the machine).
   */
  cpuSplit: { stack: number; infra: number; cli: number | null; bench: number; other: number; capacity: number } | null;
  phases: Phases | null;
  /** CPU of services, simulators and Postgres + NATS during the inference phase (sampled from /proc). */
  inferenceCpu: WindowCpu | null;
  runDir: string | null;
  profile?: ProfileSummary[];
  answered?: AnsweredOnce;
  killedAtS?: number;
  /** The bare client's run (see PipelineOptions.bareClient). */
  bare?: { prompts: number; seconds: number; errors: number; cpuS: number };
  /** The run's model answers by phase, from its inference.completed events. */
  calls?: CallsByPhase;
  followUp?: FollowUpResult;
}

function sumStats(all: SimulatorStats[]): SimulatorStats {
  const sum = (k: keyof SimulatorStats) => all.reduce((a, s) => a + s[k], 0);
  const max = (k: keyof SimulatorStats) => Math.max(...all.map((s) => s[k]));
  return { requests: sum('requests'), promptTokens: sum('promptTokens'), cachedTokens: sum('cachedTokens'), completionTokens: sum('completionTokens'), busyMs: sum('busyMs') / all.length, wallMs: max('wallMs'), maxRunning: max('maxRunning'), maxWaiting: max('maxWaiting'), errorsInjected: sum('errorsInjected') };
}

/** Reads the full phase's inference.completed events of the run: every planned prompt answered exactly once? */
async function answeredOnce(databaseUrl: string, identity: string, planned: number): Promise<AnsweredOnce> {
  const store = await EventStore.open({ url: databaseUrl });
  try {
    const events = await store.read((sql) => readStream(sql, experimentStream(identity), { types: ['inference.completed'] }));
    const results = events.map((e) => (e as unknown as InferenceCompleted).data).filter((d) => d.phase === 'full').flatMap((d) => d.results);
    const perReplica: Record<string, number> = {};
    for (const r of results) perReplica[r.replica ?? '?'] = (perReplica[r.replica ?? '?'] ?? 0) + 1;
    return {
      planned,
      results: results.length,
      distinct: new Set(results.map((r) => r.promptId)).size,
      failed: results.filter((r) => r.status !== 'ok').length,
      failedOver: results.filter((r) => r.failoverFrom !== undefined).length,
      perReplica,
    };
  } finally {
    await store.close();
  }
}

async function callsByPhase(databaseUrl: string, identity: string): Promise<CallsByPhase> {
  const store = await EventStore.open({ url: databaseUrl });
  try {
    const events = await store.read((sql) => readStream(sql, experimentStream(identity), { types: ['inference.completed'] }));
    const calls: CallsByPhase = {};
    for (const e of events) {
      const d = (e as unknown as InferenceCompleted).data;
      const c = (calls[d.phase] ??= { called: 0, reused: 0 });
      for (const r of d.results) {
        if (r.reusedFrom === undefined) c.called++;
        else c.reused++;
      }
    }
    return calls;
  } finally {
    await store.close();
  }
}

const STAMP = /^\[([^\]]+)\] (.*)$/;

function stamped(file: string): Array<{ at: number; msg: string }> {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => STAMP.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ at: Date.parse(m[1]), msg: m[2] }));
}

function phasesOf(runDir: string, t0: number, run: CliResult): Phases {
  const logs = join(runDir, 'logs');
  const rel = (at: number | undefined) => (at === undefined ? null : (at - t0) / 1000);
  const planner = stamped(join(logs, 'planner.attempt-1.log'));
  const worker = stamped(join(logs, 'inference-worker.attempt-1.log'));
  const evaluator = stamped(join(logs, 'evaluator.attempt-1.log'));
  const reporter = stamped(join(logs, 'reporter.attempt-1.log'));
  const full = worker.filter((l) => /: full batch \d+ .*prompts in /.test(l.msg));
  const batchesPerWorker: Record<string, number> = {};
  for (const l of full) {
    const w = l.msg.split(':')[0];
    batchesPerWorker[w] = (batchesPerWorker[w] ?? 0) + 1;
  }
  return {
    started: rel(planner.find((l) => /step 1: started/.test(l.msg))?.at),
    // CLI lines are timed from its start, which t0 is.
    fullPlanned: run.lines.find((l) => /^full run: \d+ prompts/.test(l.line))?.t ?? null,
    planWritten: rel(planner.find((l) => /full run planned/.test(l.msg))?.at),
    firstFullBatch: rel(worker.find((l) => /step 1: full batch 1 /.test(l.msg))?.at),
    lastFullBatch: full.length ? rel(Math.max(...full.map((l) => l.at))) : null,
    evaluated: rel(evaluator.find((l) => /evaluation of \d+ predictions complete/.test(l.msg))?.at),
    reportWritten: rel(reporter.find((l) => REPORT_WRITTEN.test(l.msg))?.at),
    exited: run.seconds,
    batchesPerWorker,
  };
}

async function deleteStream(stack: Stack): Promise<void> {
  const settings = natsSettings(stack.env);
  const handle = await connectJetStream(settings, 'assay-bench-cleanup');
  try {
    await handle.jsm.streams.delete(settings.stream);
  } catch {
    // Already gone or never created: nothing to clean.
  } finally {
    await handle.nc.close();
  }
}

export async function runPipeline(o: PipelineOptions, log: (line: string) => void): Promise<PipelineResult> {
  rmSync(o.logsOut, { recursive: true, force: true });
  const result: PipelineResult = {
    name: o.name,
    ok: false,
    prompts: null,
    wallS: NaN,
    cache: null,
    sim: null,
    reporter: null,
    replay: null,
    rssMb: {},
    cpuS: {},
    machineBusy: null,
    cpuSplit: null,
    phases: null,
    inferenceCpu: null,
    runDir: null,
  };
  // startStack copies process.env into every process it starts (and into stack.env for the CLI).
  const saved: Record<string, string | undefined> = { NODE_OPTIONS: process.env.NODE_OPTIONS, ASSAY_BENCH_PROFILE_DIR: process.env.ASSAY_BENCH_PROFILE_DIR };
  for (const [key, value] of Object.entries(o.env ?? {})) {
    saved[key] = process.env[key];
    process.env[key] = value;
  }
  if (o.profileDir) {
    mkdirSync(o.profileDir, { recursive: true });
    process.env.NODE_OPTIONS = `${saved.NODE_OPTIONS ?? ''} --require ${join(__dirname, 'cpu-profile-hook.js')}`.trim();
    process.env.ASSAY_BENCH_PROFILE_DIR = o.profileDir;
  }
  let stack: Stack;
  try {
    stack = await startStack({ workers: o.workers, simulatorArgs: o.simulatorArgs });
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
  const teardown = async () => {
    await stack.stop().catch((error: unknown) => log(`  stopping the stack: ${(error as Error).message}`));
    await deleteStream(stack).catch(() => undefined);
  };
  cleanups.add(teardown);
  const extra: SpawnedSimulator[] = [];
  const stopExtra = async () => {
    await Promise.all(extra.map((s) => s.stop().catch(() => undefined)));
  };
  cleanups.add(stopExtra);
  for (let i = 1; i < (o.replicas ?? 1); i++) extra.push(await spawnSimulator(o.simulatorArgs, join(stack.logDir, `simulator-${i + 1}.log`)));
  log(`  stack up (${o.workers} worker(s), simulator ${o.simulatorArgs.join(' ') || 'defaults'}); logs in ${stack.logDir}`);
  try {
    const replicaUrls = [stack.simulatorUrl, ...extra.map((s) => s.url)];
    const configOf = (name: string, more: Record<string, unknown>) =>
      writeConfig(stack, name, {
        ...o.workload.configOverrides,
        ...o.configOverrides,
        ...more,
        // With replicas, no failed prompt is tolerated: the run fails if failover loses one.
        // A fitted method's config has no model section (writeConfig leaves out an undefined key).
        ...(o.fitted
          ? { model: undefined, prompt: undefined }
          : { model: { concurrency: o.concurrency, max_tokens: o.maxTokens, ...(replicaUrls.length > 1 ? { base_url: replicaUrls, max_failure_share: 0 } : {}) }, smoke: { enabled: true, examples: o.smokeExamples } }),
      });
    const { path } = configOf(`bench-${o.name}`, {});
    const sim = SimClient.fromV1(stack.simulatorUrl);
    const sims = [sim, ...extra.map((s) => s.client)];
    await Promise.all(sims.map((s) => s.reset()));
    // The victim: the last replica, killed once it has served its share of requests for a while.
    const victim = o.killReplicaAfterRequests === undefined ? undefined : extra[extra.length - 1];
    let killing: Promise<void> = Promise.resolve();
    let victimStats: SimulatorStats | null = null;
    if (victim) {
      const started = Date.now();
      killing = (async () => {
        for (;;) {
          const stats = await victim.client.stats().catch(() => null);
          if (stats && stats.requests >= o.killReplicaAfterRequests!) break;
          if (Date.now() - started > o.runTimeoutS * 1000) return;
          await new Promise((r) => setTimeout(r, 200));
        }
        victimStats = await victim.client.stats();
        victim.child.kill('SIGKILL');
        result.killedAtS = (Date.now() - started) / 1000;
        log(`  killed replica ${victim.url} after ${victimStats.requests} requests, ${result.killedAtS.toFixed(1)} s into the run`);
      })();
    }
    const cpuBefore = new Map([...stack.processes].map(([name, child]) => [name, cpuSeconds(child.pid)]));
    const infraBefore = cpuOfCommands(INFRA_COMMANDS);
    const machineBefore = machineCpu();
    const sampler = new CpuSampler(() => [
      ...[...stack.processes].map(([name, child]) => ({ group: name === 'simulator' ? ('simulators' as const) : ('services' as const), pid: child.pid })),
      ...extra.map((s) => ({ group: 'simulators' as const, pid: s.child.pid })),
    ]);
    const t0 = Date.now();
    const benchBefore = process.cpuUsage();
    const run = await runCli(stack.env, ['run', path], o.runTimeoutS).finally(() => sampler.stop());
    const benchUsage = process.cpuUsage(benchBefore);
    const benchCpu = (benchUsage.user + benchUsage.system) / 1e6;
    const machineAfter = machineCpu();
    const infra = cpuOfCommands(INFRA_COMMANDS) - infraBefore;
    result.machineBusy = (machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total);
    for (const [name, child] of stack.processes) {
      const [before, after] = [cpuBefore.get(name), cpuSeconds(child.pid)];
      result.cpuS[name] = before === null || before === undefined || after === null ? null : after - before;
    }
    const stackCpu = Object.values(result.cpuS).reduce<number>((a, b) => a + (b ?? 0), 0);
    const busyS = (machineAfter.busy - machineBefore.busy) / 100;
    result.cpuSplit = { stack: stackCpu, infra, cli: run.cpuS, bench: benchCpu, other: Math.max(0, busyS - stackCpu - infra - (run.cpuS ?? 0) - benchCpu), capacity: (machineAfter.total - machineBefore.total) / 100 };
    mkdirSync(o.logsOut, { recursive: true });
    writeFileSync(join(o.logsOut, 'cli-run.log'), run.lines.map((l) => `[+${l.t.toFixed(2)} s] ${l.line}`).join('\n') + `\nstdout: ${run.stdout}`);
    result.wallS = run.seconds;
    await killing;
    const alive = victim ? sims.filter((s) => s !== victim.client) : sims;
    result.sim = sumStats([...(await Promise.all(alive.map((s) => s.stats()))), ...(victimStats ? [victimStats] : [])]);
    const planned = run.lines.find((l) => /full run: \d+ prompts/.test(l.line));
    result.prompts = planned ? Number(/full run: (\d+) prompts/.exec(planned.line)![1]) : null;
    if (run.timedOut || run.code !== 0) {
      result.error = run.timedOut ? `assay run timed out after ${o.runTimeoutS} s` : `assay run exited ${run.code}: ${run.stderr.trim().split('\n').slice(-3).join(' | ')}`;
      log(`  ${result.error}`);
      return result;
    }
    const runDir = run.stdout.trim().split('\n').pop()!;
    result.runDir = runDir;
    const metrics = JSON.parse(readFileSync(join(runDir, 'metrics.json'), 'utf8')) as { cache?: { hitRate: number | null; idealHitRate: number | null } };
    result.cache = metrics.cache ?? null;
    result.phases = phasesOf(runDir, t0, run);
    const { fullPlanned, lastFullBatch } = result.phases;
    if (fullPlanned !== null && lastFullBatch !== null) result.inferenceCpu = cpuInWindow(sampler.samples, t0 + fullPlanned * 1000, t0 + lastFullBatch * 1000);
    if (replicaUrls.length > 1 && result.prompts !== null) {
      result.answered = await answeredOnce(stack.databaseUrl, basename(runDir), result.prompts);
      const a = result.answered;
      log(`  answered: ${a.distinct} distinct of ${a.planned} planned prompts in ${a.results} results, ${a.failed} failed, ${a.failedOver} failed over; per replica ${Object.values(a.perReplica).join('/')}`);
    }
    const written = stamped(join(runDir, 'logs', 'reporter.attempt-1.log'))
      .map((l) => REPORT_WRITTEN.exec(l.msg))
      .find((m) => m !== null);
    if (written) {
      const [files, seconds, readS, writeS, swapS] = written.slice(1, 6).map(Number);
      result.reporter = { files, seconds, readS, writeS, swapS, tree: written[6] };
    }
    const r = result.reporter;
    const reported = r ? `${r.files} files in ${r.seconds} s (reading the log ${r.readS} s, writing ${r.writeS} s, swapping in ${r.swapS} s)` : 'no "report written" line';
    log(`  run: ${result.prompts} prompts in ${run.seconds.toFixed(1)} s; report: ${reported}`);

    const identity = basename(runDir);
    result.calls = await callsByPhase(stack.databaseUrl, identity);
    const replay = await runCli(stack.env, ['replay', identity], o.replayTimeoutS);
    writeFileSync(join(o.logsOut, 'cli-replay.log'), `${replay.stderr}\nstdout: ${replay.stdout}`);
    const rebuilt = /rebuilt (\d+) files, tree ([0-9a-f]+)/.exec(replay.stderr);
    result.replay = {
      seconds: replay.seconds,
      ok: !replay.timedOut && replay.code === 0,
      files: rebuilt ? Number(rebuilt[1]) : null,
      identical: rebuilt && result.reporter ? rebuilt[2].startsWith(result.reporter.tree) : null,
      error: replay.timedOut ? `timed out after ${o.replayTimeoutS} s` : replay.code !== 0 ? replay.stderr.trim().split('\n').slice(-2).join(' | ') : undefined,
    };
    log(`  replay: ${replay.seconds.toFixed(1)} s${result.replay.error ? ` (${result.replay.error})` : ''}, same tree: ${result.replay.identical}`);
    if (o.bareClient) {
      await sim.resetPrefixCache();
      // The bench process does nothing else meanwhile: its CPU is what sending the prompts costs a client.
      const cpuBefore = process.cpuUsage();
      const bare = await drive(o.bareClient, { url: stack.simulatorUrl, client: sim, concurrency: o.concurrency, maxTokens: o.maxTokens, mode: 'warm', batchesInFlight: 16, capSeconds: o.runTimeoutS });
      const cpu = process.cpuUsage(cpuBefore);
      result.bare = { prompts: bare.done, seconds: bare.seconds, errors: bare.errors, cpuS: (cpu.user + cpu.system) / 1e6 };
      log(`  bare client (warm-then-fan-out, ${o.concurrency} in flight, 16 entities at once, same simulator): ${bare.done} prompts in ${bare.seconds.toFixed(1)} s${bare.errors ? `, ${bare.errors} errors` : ''}`);
    }
    if (o.followUp) {
      await Promise.all(sims.map((s) => s.reset()));
      const second = configOf(`bench-${o.name}-2`, o.followUp.configOverrides);
      const again = await runCli(stack.env, ['run', second.path], o.runTimeoutS);
      writeFileSync(join(o.logsOut, 'cli-run-2.log'), again.lines.map((l) => `[+${l.t.toFixed(2)} s] ${l.line}`).join('\n') + `\nstdout: ${again.stdout}`);
      const follow: FollowUpResult = { ok: false, wallS: again.seconds, sim: sumStats(await Promise.all(sims.map((s) => s.stats()))), cache: null, calls: null };
      result.followUp = follow;
      if (again.timedOut || again.code !== 0) {
        follow.error = again.timedOut ? `second assay run timed out after ${o.runTimeoutS} s` : `second assay run exited ${again.code}: ${again.stderr.trim().split('\n').slice(-3).join(' | ')}`;
        log(`  ${follow.error}`);
      } else {
        const dir = again.stdout.trim().split('\n').pop()!;
        follow.cache = (JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')) as { cache?: FollowUpResult['cache'] }).cache ?? null;
        follow.calls = await callsByPhase(stack.databaseUrl, basename(dir));
        follow.ok = true;
        log(`  second run: ${again.seconds.toFixed(1)} s; model answers by phase ${JSON.stringify(follow.calls)}`);
      }
    }
    result.ok = true;
    return result;
  } catch (error) {
    result.error = (error as Error).message;
    return result;
  } finally {
    // Peak RSS of every process the stack started, read just before they stop.
    for (const [name, child] of stack.processes) result.rssMb[name] = peakRssMb(child.pid);
    try {
      mkdirSync(o.logsOut, { recursive: true });
      for (const f of readdirSync(stack.logDir)) if (f.endsWith('.log')) copyFileSync(join(stack.logDir, f), join(o.logsOut, f));
      if (result.runDir && existsSync(join(result.runDir, 'logs'))) {
        const runLogs = join(o.logsOut, 'run-dir-logs');
        mkdirSync(runLogs, { recursive: true });
        for (const f of readdirSync(join(result.runDir, 'logs'))) copyFileSync(join(result.runDir, 'logs', f), join(runLogs, f));
        if (existsSync(join(result.runDir, 'metrics.json'))) copyFileSync(join(result.runDir, 'metrics.json'), join(o.logsOut, 'metrics.json'));
      }
    } catch (error) {
      log(`  copying logs: ${(error as Error).message}`);
    }
    const pids = new Map([...stack.processes].map(([name, child]) => [name, child.pid]));
    await teardown();
    await stopExtra();
    cleanups.delete(teardown);
    cleanups.delete(stopExtra);
    if (o.profileDir) result.profile = summarizeDir(o.profileDir, pids);
    if (!o.keepTree) rmSync(join(stack.logDir, 'runs'), { recursive: true, force: true });
  }
}
