import { methodCatalog } from '@assay/methods/registry';
import { loadExperimentConfig, modelBaseUrls, toDict, type AnyExperimentConfig } from '@assay/config';
import {
  createEvent,
  diagnoseStall,
  progressSubject,
  requestStream,
  subjectOf,
  type ExperimentCancelled,
  type ExperimentCompleted,
  type ExperimentFailed,
  type ProgressUpdate,
} from '@assay/contracts';
import { applyProgress, describeEnd, enterStage, loggedProgress, newProgress, progressLine, quietSeconds, type AttemptEnd, type ProgressState } from '@assay/experiments';
import { probeReplicas } from '@assay/inference';
import { JetStreamPublisher, wireSubject, type JetStreamHandle } from '@assay/messaging';
import { randomUUID } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { checkServicesRunning, checkStoreReady, CliError, cliCodeVersion, eventsOn, openNats, openStore, pingServices } from './nats-session';
import { concernsRun, type Following } from './run-events';
import { plannerWarnings } from './run-warnings';

export interface RunOptions {
  force: boolean;
  smokeOnly: boolean;
  /** Seconds to wait for the planner's first answer. */
  answerTimeout: number;
  /** Print one JSON document on stdout (the outcome) instead of the run directory. */
  json?: boolean;
  /** Seconds without progress before the CLI says what it can find wrong (and again as often). */
  stallAfter?: number;
  /** With force: seconds of silence after which a running attempt is abandoned for a new one. */
  staleAfter: number;
}

/** What `assay run --json` prints: the outcome, for scripts. */
export interface RunOutcome {
  status: 'completed' | 'smoke_passed' | 'already_completed' | 'failed' | 'interrupted';
  requestId: string;
  identity: string | null;
  attempt: number | null;
  runDir: string | null;
  summary?: Record<string, unknown>;
  stage?: string;
  error?: string;
  details?: string[];
  exitCode: number;
}

/** A frozen server must not hold a stall report up: the probe waits at most this (and half the stall threshold). */
const MODEL_PROBE_TIMEOUT_MS = 5000;
/** Exit code of a command stopped by Ctrl-C (128 + SIGINT), as shells report it. */
export const INTERRUPTED_EXIT = 130;

const err = (line: string) => process.stderr.write(`${line}\n`);

/**
 * `assay run CONFIG`: validate locally, publish experiment.requested, follow the run live, print
 * the run directory as the last line of stdout (or, with --json, the outcome as one JSON
 * document). Exit 0 on success (or already completed), 1 when the run failed, 2 for a bad config,
 * 3 when infrastructure or services are missing, 130 on Ctrl-C (the run goes on).
 */
export async function runCommand(configPath: string, opts: RunOptions): Promise<number> {
  const { config, warnings } = loadExperimentConfig(configPath, { methods: methodCatalog() });
  const said = new LocalWarnings(warnings);
  try {
    const handle = await openNats();
    try {
      // Both checks at once, neither waiting for the other; a missing event log is still said first.
      const [store, services] = await Promise.allSettled([checkStoreReady(), checkServicesRunning(handle)]);
      if (store.status === 'rejected') throw store.reason;
      if (services.status === 'rejected') throw services.reason;
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

/** How to follow or stop a run this terminal no longer follows. */
export function interruptedAdvice(f: Following): string[] {
  if (f.identity === null) {
    return [`interrupted: request ${f.requestId} was sent; if the planner accepts it the run goes on without this terminal.`, "  follow it: 'assay status' lists it; running the same command again attaches to it"];
  }
  const short = f.identity.slice(0, 8);
  return [
    `interrupted: ${f.identity} attempt ${f.attempt} goes on without this terminal.`,
    `  follow it:  assay status ${short}   (or run the same command again: it attaches)`,
    `  stop it:    assay cancel ${short}`,
  ];
}

async function requestAndFollow(handle: JetStreamHandle, config: AnyExperimentConfig, configPath: string, localWarnings: LocalWarnings, opts: RunOptions): Promise<number> {
  const warnings = localWarnings.all;
  const requestId = randomUUID();
  const settings = handle.settings;
  const stallAfterS = opts.stallAfter ?? 45;
  // Subscribe before publishing, so no answer can slip past.
  const events = handle.nc.subscribe(wireSubject(settings, 'experiment.>'));
  const evaluations = handle.nc.subscribe(wireSubject(settings, 'evaluation.completed.>'));
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

  const following: Following = { requestId, identity: null, attempt: null };
  let state: ProgressState | null = null;
  let lastPrint = 0;
  const interactive = process.stderr.isTTY === true;
  const show = (force = false) => {
    if (!state) return;
    const now = Date.now();
    if (!force && now - lastPrint < (interactive ? 200 : 2000)) return;
    lastPrint = now;
    const line = progressLine(state, now, stallAfterS);
    if (interactive) process.stderr.write(`\r\x1b[2K${line}`);
    else err(line);
  };
  const endLine = () => {
    if (interactive && state) process.stderr.write('\n');
  };
  /** A line said between progress lines: on a terminal, below the current one, which is redrawn after. */
  const say = (lines: string[]) => {
    if (interactive && state) process.stderr.write('\r\x1b[2K');
    for (const line of lines) err(line);
    show(true);
  };
  const outcome = (o: Omit<RunOutcome, 'requestId' | 'identity' | 'attempt'>): number => {
    if (opts.json) process.stdout.write(`${JSON.stringify({ requestId, identity: following.identity, attempt: following.attempt, ...o })}\n`);
    else if (o.runDir && o.status !== 'failed' && o.status !== 'interrupted') process.stdout.write(`${o.runDir}\n`);
    return o.exitCode;
  };

  // When nothing moves, say what can be found wrong; and again each stallAfter seconds.
  let lastDiagnosisAt = 0;
  let diagnosing = false;
  const diagnose = async () => {
    if (!state || diagnosing) return;
    const now = Date.now();
    const quiet = quietSeconds(state, now);
    if (quiet < stallAfterS || now - lastDiagnosisAt < stallAfterS * 1000) return;
    diagnosing = true;
    lastDiagnosisAt = now;
    try {
      const stage = state.stage;
      const [services, probe] = await Promise.all([
        pingServices(handle, { attempts: 2, timeoutMs: 2000, pauseMs: 250 }),
        stage === 'inference' && config.model !== undefined ? probeReplicas(modelBaseUrls(config.model), Math.min(MODEL_PROBE_TIMEOUT_MS, stallAfterS * 500)) : Promise.resolve(null),
      ]);
      if (!state) return;
      const at = Date.now();
      const lines = diagnoseStall({
        stage,
        quietS: quietSeconds(state, at),
        services: { alive: Object.keys(services.alive), silent: services.silent },
        modelServer: probe && {
          url: probe.url,
          answered: probe.answered,
          detail: probe.answered ? `/health answered ${probe.status} in ${probe.ms} ms` : probe.reason,
        },
        retriesSinceProgress: state.retries - state.retriesAtLastProgress,
        lastReport: state.lastReport && { source: state.lastReport.source, agoS: (at - state.lastReport.atMs) / 1000 },
        lastMessage: state.lastMessage && { source: state.lastMessage.source, text: state.lastMessage.text, agoS: (at - state.lastMessage.atMs) / 1000 },
      });
      say([`stalled: ${lines[0]}`, ...lines.slice(1).map((l) => `  ${l}`)]);
    } finally {
      diagnosing = false;
    }
  };

  let onInterrupt: (() => void) | null = null;
  const done = new Promise<number>((resolve, reject) => {
    const answerTimer = setTimeout(
      () => reject(new CliError(`the planner did not answer within ${opts.answerTimeout} s (request ${requestId}); check its log`, 3)),
      opts.answerTimeout * 1000,
    );
    const ticker = setInterval(() => {
      show();
      diagnose().catch((error: unknown) => say([`could not look into the stall: ${error instanceof Error ? error.message : String(error)}`]));
    }, 1000);
    let settled = false;
    const finish = (code: number) => {
      if (settled) return;
      settled = true;
      clearTimeout(answerTimer);
      clearInterval(ticker);
      resolve(code);
    };
    onInterrupt = () => {
      if (settled) return;
      endLine();
      for (const line of interruptedAdvice(following)) err(line);
      finish(outcome({ status: 'interrupted', runDir: null, exitCode: INTERRUPTED_EXIT }));
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
        finish(outcome({ status: event.data.smokeOnly ? 'smoke_passed' : 'completed', runDir: event.data.runDir, summary: event.data.summary, exitCode: 0 }));
        return;
      }
      endLine();
      localWarnings.flush([event.data.error, ...event.data.details].join('\n'));
      err(`FAILED at ${event.data.stage}: ${event.data.error}`);
      for (const line of event.data.details) err(`  ${line}`);
      const exitCode = event.data.stage === 'config' ? 2 : 1;
      finish(outcome({ status: 'failed', runDir: null, stage: event.data.stage, error: event.data.error, details: event.data.details, exitCode }));
    };

    void (async () => {
      for await (const msg of progress) {
        if (!following.identity || !state) continue;
        const update = msg.json() as ProgressUpdate;
        if (update.identity !== following.identity || update.attempt !== following.attempt || update.phase !== state.phase) continue;
        state = applyProgress(state, update, Date.now());
        if (update.message) say([`${update.source}: ${update.message}`]);
        else show();
      }
    })();

    void (async () => {
      for await (const event of eventsOn(handle, evaluations)) {
        if (state?.phase === 'full' && event.type === 'evaluation.completed' && concernsRun(event, following)) {
          state = enterStage(state, 'report', Date.now());
          show(true);
        }
      }
    })();

    void (async () => {
      for await (const event of eventsOn(handle, events)) {
        if (!concernsRun(event, following)) continue;
        if (event.type !== 'experiment.requested' && event.type !== 'experiment.failed') localWarnings.flush();
        switch (event.type) {
          case 'experiment.started':
            clearTimeout(answerTimer);
            following.identity = event.data.identity;
            following.attempt = event.data.attempt;
            err(`started ${event.data.identity} attempt ${event.data.attempt} → ${event.data.runDir}`);
            for (const w of plannerWarnings(event.data.warnings, warnings)) err(`warning: ${w}`);
            if (event.data.previousFailure) err(`note: attempt ${event.data.previousFailure.attempt} failed at ${event.data.previousFailure.stage}: ${event.data.previousFailure.error}`);
            err(`live log: tail -f '${event.data.runDir}/logs/'*.attempt-${event.data.attempt}.log`);
            break;
          case 'experiment.skipped':
            clearTimeout(answerTimer);
            following.identity = event.data.identity;
            following.attempt = event.data.attempt;
            if (event.data.reason === 'already_completed') {
              err(`${event.data.identity} already completed (attempt ${event.data.attempt}) in ${event.data.runDir}; nothing to run. Use --force to run it again.`);
              finish(outcome({ status: 'already_completed', runDir: event.data.runDir, exitCode: 0 }));
              return;
            }
            err(`${event.data.identity} is already running (attempt ${event.data.attempt}, ${event.data.runDir}): attaching to it`);
            {
              // The run may have ended between the planner's answer and this line (its end event
              // then went past before we knew the identity): the log says so. Progress starts
              // from the prompts the log already holds.
              const attached = await attachedProgress(event.data.identity, event.data.attempt);
              state = attached.state;
              if (attached.end) {
                finished(attached.end);
                return;
              }
              show(true);
            }
            break;
          case 'experiment.planned':
            endLine();
            state = newProgress(event.data.phase, Date.now(), event.data.prompts);
            err(`${event.data.phase === 'smoke' ? 'smoke test' : event.data.phase === 'summary' ? 'persona summaries' : 'full run'}: ${event.data.prompts} prompts in ${event.data.batches} entity batches`);
            for (const w of event.data.preflightWarnings) err(`warning: ${w}`);
            show(true);
            break;
          case 'experiment.completed':
          case 'experiment.failed':
            finished(event);
            return;
          case 'experiment.cancelled':
            // Ours, or the silent attempt our forced request replaced (said before our start).
            if (event.data.identity === following.identity && event.data.attempt === following.attempt) {
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
  const interrupt = () => onInterrupt?.();
  process.once('SIGINT', interrupt);
  try {
    return await done;
  } finally {
    process.removeListener('SIGINT', interrupt);
    events.unsubscribe();
    evaluations.unsubscribe();
    progress.unsubscribe();
  }
}

/** Progress of a run we did not start: its plan, its committed prompts and its end if it already ended, from the log. */
async function attachedProgress(identity: string, attempt: number): Promise<{ state: ProgressState; end: AttemptEnd | null }> {
  const store = await openStore();
  try {
    return await store.read((sql) => loggedProgress(sql, identity, attempt, Date.now()));
  } finally {
    await store.close();
  }
}

function cancelledLine(event: ExperimentCancelled): string {
  return `attempt ${event.data.attempt} of ${event.data.identity} was ${describeEnd(event)}`;
}
