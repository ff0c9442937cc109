import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from 'pg';
import { EventStore } from '@assay/event-store';
import { connectJetStream, limitHeapGrowth, natsSettings } from '@assay/messaging';
import { ServiceInfo } from '@assay/messaging/nest';
import { startStack, writeConfig } from '@assay/testing';
import { ReportBuilder } from '../services/reporter/src/report-builder';
import { runCli, stopChild } from './bench/proc';
import { prepareWorkload } from './bench/workload';

/**
 * The reporter's tree writing and replay alone, on a full-size event log filled once
 * (`npm run bench` redoes the whole pipeline for every measurement).
 *
 *   node dist/scripts/report-bench.js fill [--workers N] [--entities N] [--test-fraction F] [--state FILE]
 *     runs the bench's workload (589 x 72, test fraction 0.8 unless given; 0.99 prompts 583 x 72,
 *     the full-size run the viewer bench browses; zero-latency simulator) through a
 *     fresh stack, then stops the processes but keeps the database; FILE records it.
 *   node dist/scripts/report-bench.js build [--state FILE]
 *     rebuilds that run's directory with the reporter's ReportBuilder in this process and prints
 *     seconds (and how they split: reading the log, writing, swapping in), CPU, files, tree hash
 *     and this process's peak RSS. The run directory already holds the tree, so this is a
 *     replay; delete it first to time a first write. Run it under `node --cpu-prof` to attribute
 *     the time.
 *   node dist/scripts/report-bench.js drop [--state FILE]
 *     drops the kept database and deletes the stack's folder (run trees, logs).
 */

const DEFAULT_STATE = '/tmp/assay-report-bench.json';

interface State {
  databaseUrl: string;
  identity: string;
  runDir: string;
  stackDir: string;
  workers: number;
  entities: number;
}

async function fill(workers: number, entities: number, statePath: string, testFraction: number): Promise<void> {
  const workload = await prepareWorkload({
    dir: join('/tmp', `assay-report-bench-data-${entities}`),
    entities,
    groups: 6,
    itemsPerGroup: 12,
    features: 250,
    seed: 7,
    splitSeed: 42,
    testFraction,
  });
  console.error(`workload: ${workload.prompts} prompts, ${workload.testEntities} test entities`);
  const stack = await startStack({ workers });
  const { path } = writeConfig(stack, 'report-bench', {
    ...workload.configOverrides,
    model: { concurrency: 64, max_tokens: 8 },
    smoke: { enabled: true, examples: 8 },
  });
  const run = await runCli(stack.env, ['run', path], 1800);
  // Stop the services but keep the database: the point is to rebuild from it many times.
  await Promise.all([...stack.processes.values()].map((child) => stopChild(child)));
  const settings = natsSettings(stack.env);
  const nats = await connectJetStream(settings, 'assay-report-bench');
  try {
    await nats.jsm.streams.delete(settings.stream);
  } finally {
    await nats.nc.close();
  }
  if (run.timedOut || run.code !== 0) throw new Error(`assay run failed (code ${run.code}, timed out: ${run.timedOut}): ${run.stderr.slice(-2000)}`);
  const runDir = run.stdout.trim().split('\n').pop()!;
  const state: State = { databaseUrl: stack.databaseUrl, identity: basename(runDir), runDir, stackDir: stack.logDir, workers, entities };
  writeFileSync(statePath, JSON.stringify(state, null, 2));
  console.error(`run took ${run.seconds.toFixed(1)} s; state in ${statePath}: ${JSON.stringify(state)}`);
}

async function build(statePath: string): Promise<void> {
  // As startService does for the reporter: the peak RSS printed is the service's.
  limitHeapGrowth();
  const state = JSON.parse(readFileSync(statePath, 'utf8')) as State;
  const store = await EventStore.open({ url: state.databaseUrl });
  try {
    const began = performance.now();
    const cpuBefore = process.cpuUsage();
    // A replay: the whole tree from the log, none of it staged during the run.
    const built = await new ReportBuilder(store, new ServiceInfo('reporter', 'report-bench', 'report-bench')).replay(state.identity);
    const seconds = (performance.now() - began) / 1000;
    // Whole process (both threads): user is our code, system mostly the file system's.
    const cpu = process.cpuUsage(cpuBefore);
    const peakRssMb = process.resourceUsage().maxRSS / 1024;
    const s = (x: number) => Number(x.toFixed(2));
    console.log(
      JSON.stringify({
        seconds: s(seconds),
        readS: s(built.took.readMs / 1000),
        writeS: s(built.took.writeMs / 1000),
        swapS: s(built.took.swapMs / 1000),
        userS: s(cpu.user / 1e6),
        systemS: s(cpu.system / 1e6),
        files: built.files,
        tree: built.treeHash.slice(0, 12),
        peakRssMb: Math.round(peakRssMb),
        workers: state.workers,
      }),
    );
  } finally {
    await store.close();
  }
}

async function drop(statePath: string): Promise<void> {
  const state = JSON.parse(readFileSync(statePath, 'utf8')) as State;
  const url = new URL(state.databaseUrl);
  const name = url.pathname.slice(1);
  url.pathname = '/postgres';
  const admin = new Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
  rmSync(state.stackDir, { recursive: true, force: true });
  rmSync(statePath);
  console.error(`dropped ${name}, deleted ${state.stackDir}`);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { workers: { type: 'string', default: '1' }, entities: { type: 'string', default: '589' }, 'test-fraction': { type: 'string', default: '0.8' }, state: { type: 'string', default: DEFAULT_STATE } },
  });
  const mode = positionals[0];
  if (mode === 'fill') await fill(Number(values.workers), Number(values.entities), values.state!, Number(values['test-fraction']));
  else if (mode === 'build') await build(values.state!);
  else if (mode === 'drop') await drop(values.state!);
  else throw new Error(`usage: report-bench.js fill|build|drop [--workers N] [--entities N] [--test-fraction F] [--state FILE], got ${JSON.stringify(positionals)}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
