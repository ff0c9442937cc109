import { loadExperimentConfig, toDict, type ExperimentConfig } from '@assay/config';
import {
  createEvent,
  progressSubject,
  requestStream,
  subjectOf,
  type ExperimentCancelled,
  type ExperimentCompleted,
  type ExperimentFailed,
  type ExperimentPlanned,
  type ProgressUpdate,
} from '@assay/contracts';
import { findInStream } from '@assay/event-store';
import { attemptEnd, describeEnd, type AttemptEnd } from '@assay/experiments';
import { JetStreamPublisher, wireSubject, type JetStreamHandle } from '@assay/messaging';
import { experimentStream } from '@assay/contracts';
import { randomUUID } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { checkServicesRunning, CliError, cliCodeVersion, eventsOn, openNats, openStore } from './nats-session';
import { newProgress, progressLine, type ProgressState } from './progress-view';

export interface RunOptions {
  force: boolean;
  smokeOnly: boolean;
  /** Seconds to wait for the planner's first answer. */
  answerTimeout: number;
  /** With force: seconds of silence after which a running attempt is abandoned for a new one. */
  staleAfter: number;
}

const err = (line: string) => process.stderr.write(`${line}\n`);

/**
 * `assay run CONFIG`: validate locally, publish experiment.requested, follow the run live, print
 * the run directory as the last line of stdout. Exit 0 on success (or already completed), 1 when
 * the run failed, 2 for a bad config, 3 when infrastructure or services are missing.
 */
export async function runCommand(configPath: string, opts: RunOptions): Promise<number> {
  const { config, warnings } = loadExperimentConfig(configPath);
  const said = new LocalWarnings(warnings);
  try {
    const handle = await openNats();
    try {
      const store = await openStore();
      await store.close();
      await checkServicesRunning(handle);
      return await requestAndFollow(handle, config, configPath, said, opts);
    } finally {
      await handle.nc.close();
    }
  } finally {
    said.flush();
  }
}

/**
 * The config's local warnings (e.g. a data file this machine cannot see) are said once the planner
 * has answered, minus any its failure restates: "file not found: X" once, not as a warning and
 * again as the failure. If the planner never answers they are said before the error.
 */
class LocalWarnings {
  private pending: string[];
  constructor(readonly all: string[]) {
    this.pending = [...all];
  }
  flush(restatedBy = ''): void {
    for (const w of this.pending) if (!restatedBy.includes(w)) err(`warning: ${w}`);
    this.pending = [];
  }
}

async function requestAndFollow(handle: JetStreamHandle, config: ExperimentConfig, configPath: string, localWarnings: LocalWarnings, opts: RunOptions): Promise<number> {
  const warnings = localWarnings.all;
  const requestId = randomUUID();
  const settings = handle.settings;
  // Subscribe before publishing, so no answer can slip past.
  const events = handle.nc.subscribe(wireSubject(settings, 'experiment.>'));
  const progress = handle.nc.subscribe(wireSubject(settings, progressSubject('*')));
  const request = createEvent(
    'experiment.requested',
    {
      requestId,
      configPath,
      config: toDict(config) as Record<string, unknown>,
      warnings,
      force: opts.force,
      smokeOnly: opts.smokeOnly,
      staleAfterS: opts.staleAfter,
      requestedBy: { host: hostname(), user: userInfo().username },
    },
    { stream: requestStream(requestId), correlationId: requestId, causationId: null, producer: 'cli', codeVersion: cliCodeVersion() },
  );
  await new JetStreamPublisher(handle).publish(subjectOf(request.type, request.schemaVersion), request);
  err(`requested ${config.name} (request ${requestId})`);

  let identity: string | null = null;
  let attempt = 0;
  let state: ProgressState | null = null;
  let lastPrint = 0;
  const interactive = process.stderr.isTTY === true;
  const show = (force = false) => {
    if (!state) return;
    const now = Date.now();
    if (!force && now - lastPrint < (interactive ? 200 : 2000)) return;
    lastPrint = now;
    const line = progressLine(state, now);
    if (interactive) process.stderr.write(`\r\x1b[2K${line}`);
    else err(line);
  };
  const endLine = () => {
    if (interactive && state) process.stderr.write('\n');
  };

  const done = new Promise<number>((resolve, reject) => {
    const answerTimer = setTimeout(
      () => reject(new CliError(`the planner did not answer within ${opts.answerTimeout} s (request ${requestId}); check its log`, 3)),
      opts.answerTimeout * 1000,
    );
    const ticker = setInterval(() => show(), 1000);
    let settled = false;
    const finish = (code: number) => {
      if (settled) return;
      settled = true;
      clearTimeout(answerTimer);
      clearInterval(ticker);
      resolve(code);
    };
    /** The run's end, from the live events or (when attaching) from the log: said once. */
    const finished = (event: ExperimentCompleted | ExperimentFailed | ExperimentCancelled) => {
      if (settled) return;
      if (event.type === 'experiment.cancelled') {
        endLine();
        err(`${cancelledLine(event)}; 'assay run' again starts a new attempt`);
        finish(1);
        return;
      }
      if (event.type === 'experiment.completed') {
        show(true);
        endLine();
        if (event.data.smokeOnly && !opts.smokeOnly) err('the run this request attached to was --smoke-only: its smoke test passed, but the full experiment has not run; `assay run` again to run it');
        else if (event.data.smokeOnly) err('smoke test passed (--smoke-only): stopping before the full run');
        else err(`completed: ${Object.entries(event.data.summary).map(([k, v]) => `${k}=${typeof v === 'number' ? Number(v.toFixed(4)) : v}`).join(', ')}`);
        process.stdout.write(`${event.data.runDir}\n`);
        finish(0);
        return;
      }
      endLine();
      localWarnings.flush([event.data.error, ...event.data.details].join('\n'));
      err(`FAILED at ${event.data.stage}: ${event.data.error}`);
      for (const line of event.data.details) err(`  ${line}`);
      finish(event.data.stage === 'config' ? 2 : 1);
    };

    void (async () => {
      for await (const msg of progress) {
        if (!identity || !state) continue;
        const update = msg.json() as ProgressUpdate;
        if (update.identity !== identity || update.attempt !== attempt || update.phase !== state.phase) continue;
        state.done += update.promptsDone;
        state.retries += update.retries;
        state.inferenceFailures += update.inferenceFailures;
        state.parseFailures += update.parseFailures;
        show();
      }
    })();

    void (async () => {
      for await (const event of eventsOn(handle, events)) {
        const d = event.data as { identity?: string | null; attempt?: number | null };
        const mine = event.metadata.correlationId === requestId || (identity !== null && d.identity === identity && d.attempt === attempt);
        if (!mine) continue;
        if (event.type !== 'experiment.requested' && event.type !== 'experiment.failed') localWarnings.flush();
        switch (event.type) {
          case 'experiment.started':
            clearTimeout(answerTimer);
            identity = event.data.identity;
            attempt = event.data.attempt;
            err(`started ${identity} attempt ${attempt} → ${event.data.runDir}`);
            if (event.data.previousFailure) err(`note: attempt ${event.data.previousFailure.attempt} failed at ${event.data.previousFailure.stage}: ${event.data.previousFailure.error}`);
            err(`live log: tail -f '${event.data.runDir}/logs/'*.log`);
            break;
          case 'experiment.skipped':
            clearTimeout(answerTimer);
            if (event.data.reason === 'already_completed') {
              err(`${event.data.identity} already completed (attempt ${event.data.attempt}) in ${event.data.runDir}; nothing to run. Use --force to run it again.`);
              process.stdout.write(`${event.data.runDir}\n`);
              finish(0);
              return;
            }
            identity = event.data.identity;
            attempt = event.data.attempt;
            err(`${identity} is already running (attempt ${attempt}, ${event.data.runDir}): attaching to it`);
            {
              // The run may have ended between the planner's answer and this line (its end event
              // then went past before we knew the identity): the log says so.
              const attached = await attachedProgress(identity, attempt);
              state = attached.state;
              if (attached.end) {
                finished(attached.end);
                return;
              }
            }
            break;
          case 'experiment.planned':
            endLine();
            state = newProgress(event.data.phase, Date.now(), event.data.prompts);
            err(`${event.data.phase === 'smoke' ? 'smoke test' : 'full run'}: ${event.data.prompts} prompts in ${event.data.batches} entity batches`);
            for (const w of event.data.preflightWarnings) err(`warning: ${w}`);
            show(true);
            break;
          case 'experiment.completed':
          case 'experiment.failed':
            finished(event);
            return;
          case 'experiment.cancelled':
            // Ours, or the silent attempt our forced request replaced (said before our start).
            if (event.data.identity === identity && event.data.attempt === attempt) {
              finished(event);
              return;
            }
            err(`note: ${cancelledLine(event)}`);
            break;
          default:
            break;
        }
      }
    })();
  });
  try {
    return await done;
  } finally {
    events.unsubscribe();
    progress.unsubscribe();
  }
}

/** Progress of a run we did not start: its plan, and its end if it already ended, come from the log. */
async function attachedProgress(identity: string, attempt: number): Promise<{ state: ProgressState; end: AttemptEnd | null }> {
  const store = await openStore();
  try {
    const stream = experimentStream(identity);
    const [planned, end] = await store.read(async (sql) => [
      (await findInStream(sql, stream, 'experiment.planned', { attempt })) as unknown as ExperimentPlanned[],
      await attemptEnd(sql, identity, attempt),
    ]);
    const latest = planned[planned.length - 1];
    return { state: newProgress(latest?.data.phase ?? 'full', Date.now(), latest?.data.prompts ?? null), end };
  } finally {
    await store.close();
  }
}

function cancelledLine(event: ExperimentCancelled): string {
  return `attempt ${event.data.attempt} of ${event.data.identity} was ${describeEnd(event)}`;
}
