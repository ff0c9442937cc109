import 'reflect-metadata';
import { Logger, Module, type DynamicModule, type INestApplication, type INestMicroservice, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { repoRoot, resolveCodeVersion } from '@assay/config';
import type { AssayEvent } from '@assay/contracts';
import { EventStore, recordDeadLetter, type Sql, type StreamAppend } from '@assay/event-store';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { AttemptWatch } from './attempt-watch';
import { limitHeapGrowth } from './heap';
import { connectJetStream, ensureEventStream, type JetStreamHandle } from './connection';
import type { DeadLetter } from './consumer-runner';
import { JetStreamTransport, PassThroughRpcFilter } from './jetstream.transport';
import { healthSubject, natsSettings, wireSubject } from './nats-config';
import { ProgressFeed } from './progress-feed';
import { ProgressReporter } from './progress-reporter';
import { JetStreamPublisher } from './publisher';
import { RunLog } from './run-log';
import { errorMessage } from '@assay/contracts';

/** What every service knows about itself; injected into consumers. */
export class ServiceInfo {
  constructor(
    readonly service: string,
    readonly instance: string,
    readonly codeVersion: string,
  ) {}
}

/** git commit with a dirty marker; a build without .git uses the version baked into dist/. */
export function codeVersion(): string {
  const root = repoRoot(__dirname);
  return resolveCodeVersion(root, join(root, 'dist', 'code-version.txt'));
}

interface Runtime {
  store: EventStore;
  handle: JetStreamHandle;
  info: ServiceInfo;
  /** One per process: live progress deltas, flushed a few times a second. */
  progress: ProgressReporter;
  /** One per process: aborts work of attempts that ended (subscribes only when a consumer uses it). */
  attempts: AttemptWatch;
}

function coreModule(runtime: Runtime, feature: Type<unknown>): DynamicModule {
  @Module({})
  class ServiceRuntimeModule {}
  return {
    module: ServiceRuntimeModule,
    imports: [feature],
    global: true,
    providers: [
      { provide: EventStore, useValue: runtime.store },
      { provide: JetStreamPublisher, useValue: new JetStreamPublisher(runtime.handle) },
      { provide: ServiceInfo, useValue: runtime.info },
      { provide: RunLog, useValue: new RunLog(runtime.info.service) },
      { provide: ProgressReporter, useValue: runtime.progress },
      { provide: AttemptWatch, useValue: runtime.attempts },
      { provide: ProgressFeed, useValue: new ProgressFeed(runtime.handle) },
    ],
    exports: [EventStore, JetStreamPublisher, ServiceInfo, RunLog, ProgressReporter, AttemptWatch, ProgressFeed],
  };
}

async function openRuntime(service: string, instance: string): Promise<Runtime> {
  const settings = natsSettings();
  const handle = await connectJetStream(settings, `${service}:${instance}`);
  await ensureEventStream(handle);
  const store = await EventStore.open({ publisher: new JetStreamPublisher(handle) });
  store.startOutboxRelay();
  const info = new ServiceInfo(service, instance, codeVersion());
  // Reply to health pings with who we are and which code we run.
  handle.nc.subscribe(wireSubject(settings, healthSubject(service)), {
    callback: (error, msg) => {
      if (!error) msg.respond(JSON.stringify({ service, instance, codeVersion: info.codeVersion, pid: process.pid }));
    },
  });
  return { store, handle, info, progress: new ProgressReporter(new JetStreamPublisher(handle), instance), attempts: new AttemptWatch(handle) };
}

export interface ServiceOptions {
  service: string;
  /** The feature module: its controllers hold the `on<Event>` consumers. */
  module: Type<unknown>;
  /** Messages in flight per consumer. */
  concurrency: number;
  /** Start an HTTP server too (the reporter). */
  /** `host`: the bind address (default 127.0.0.1, reachable from this machine only). */
  http?: { port: number; host?: string; configure?: (app: INestApplication) => void | Promise<void> };
  /**
   * What else to append when this service gives up on a message (e.g. its run's failure), in the
   * transaction that keeps the dead letter.
   */
  onGiveUp?: (sql: Sql, event: AssayEvent, reason: string, producer: string, codeVersion: string) => Promise<StreamAppend[]>;
}

/** Keeps a dead letter, and commits what the service appends on giving up with it (published after commit). */
async function keepDeadLetter(runtime: Runtime, onGiveUp: ServiceOptions['onGiveUp'], letter: DeadLetter): Promise<void> {
  const { event } = letter;
  if (!event || !onGiveUp) {
    await runtime.store.transaction((sql) => recordDeadLetter(sql, letter));
    return;
  }
  // Keyed by the durable and the message: a redelivered give-up records nothing twice.
  await runtime.store.handle(`${letter.consumer}:gave-up`, event.id, async (sql) => {
    await recordDeadLetter(sql, letter);
    return onGiveUp(sql, event, letter.reason, runtime.info.service, runtime.info.codeVersion);
  });
}

/**
 * Boots a service: Postgres (migrated), JetStream, the Nest app whose `@EventPattern` handlers
 * become durable consumers, and clean shutdown on SIGINT/SIGTERM (drain in-flight messages).
 */
export async function runService(opts: ServiceOptions): Promise<void> {
  const logger = new Logger(opts.service);
  // The host name as well as the pid: in containers every process is pid 1, each with its own host name.
  const instance = process.env.ASSAY_WORKER_ID || `${opts.service}-${hostname()}-${process.pid}`;
  const runtime = await openRuntime(opts.service, instance);
  const transport = new JetStreamTransport({
    service: opts.service,
    handle: runtime.handle,
    concurrency: opts.concurrency,
    deadLetter: (letter) => keepDeadLetter(runtime, opts.onGiveUp, letter),
  });
  const module = coreModule(runtime, opts.module);
  let app: INestApplication | INestMicroservice;
  if (opts.http) {
    const http = await NestFactory.create(module, { logger: ['error', 'warn', 'log'] });
    await opts.http.configure?.(http);
    // Before connecting: the microservice builds its handlers, filters included, when connected;
    // a filter added later never applies, and every error would reach the consumer as a bare
    // "Internal server error" (a PoisonMessageError retried as if it could pass).
    http.useGlobalFilters(new PassThroughRpcFilter());
    http.connectMicroservice({ strategy: transport }, { inheritAppConfig: true });
    await http.startAllMicroservices();
    const host = opts.http.host ?? '127.0.0.1';
    await http.listen(opts.http.port, host);
    logger.log(`HTTP on http://${host.includes(':') ? `[${host}]` : host}:${opts.http.port}`);
    app = http;
  } else {
    const micro = await NestFactory.createMicroservice(module, { strategy: transport, logger: ['error', 'warn', 'log'] });
    micro.useGlobalFilters(new PassThroughRpcFilter());
    await micro.listen();
    app = micro;
  }
  logger.log(`${instance} ready (code ${runtime.info.codeVersion})`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal}: draining in-flight messages`);
    await app.close();
    runtime.progress.close();
    runtime.attempts.close();
    await runtime.store.close();
    if (!runtime.handle.nc.isClosed()) await runtime.handle.nc.drain();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

/** main.ts of every service: run, or say why it could not start and exit non-zero. */
export function startService(opts: ServiceOptions): void {
  limitHeapGrowth();
  runService(opts).catch((error: unknown) => {
    console.error(`${opts.service} failed to start: ${errorMessage(error)}`);
    process.exit(1);
  });
}
