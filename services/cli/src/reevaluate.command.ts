import {
  createEvent,
  experimentStream,
  requestStream,
  subjectOf,
  type EvaluationCompleted,
} from '@assay/contracts';
import { loggedEvaluationResult } from '@assay/evaluation';
import { readTypedEvents } from '@assay/event-store';
import { evaluationSummary, roundOf } from '@assay/experiments';
import { JetStreamPublisher, wireSubject, type JetStreamHandle } from '@assay/messaging';
import { randomUUID } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { checkIdentityAndReason, checkServicesRunning, CliError, cliCodeVersion, eventsOn, openNats, openStore } from './nats-session';
import { resolveIdentity } from './identity-prefix';
import { roundComparison, type Summary } from './reevaluate-view';

export interface ReevaluateOptions {
  attempt?: number;
  reason?: string;
  /** Seconds to wait for the evaluator's answer (the new round, or its refusal). */
  answerTimeout: number;
  /** Seconds to wait, after that, for the reporter to rewrite the run directory. */
  reportTimeout: number;
  /** Print the outcome as one JSON document on stdout instead of the run directory. */
  json?: boolean;
}

const err = (line: string) => process.stderr.write(`${line}\n`);

function headline(event: EvaluationCompleted): { round: number; summary: Summary } {
  const round = roundOf(event);
  return { round, summary: evaluationSummary(loggedEvaluationResult(event.data.result, `evaluation.completed ${event.id}`), event.data.cache, round) };
}

/**
 * `assay reevaluate IDENTITY`: score an attempt's logged inference results again with the
 * evaluator's current parse/score code, as a new evaluation round; no model is called. Waits for
 * the rewritten run directory, prints the headline numbers before/after and the directory last.
 * Exit 0 done, 1 refused or failed, 3 infrastructure or services missing.
 */
export async function reevaluateCommand(prefix: string, opts: ReevaluateOptions): Promise<number> {
  checkIdentityAndReason(prefix, opts.reason, 're-evaluate');
  const identity = await resolveIdentity(prefix);
  const handle = await openNats();
  try {
    const before = await latestRound(identity);
    await checkServicesRunning(handle);
    return await requestAndWait(handle, identity, before, opts);
  } finally {
    await handle.nc.close();
  }
}

/** The round the run directory shows now (of the latest evaluated attempt), for the before/after. */
async function latestRound(identity: string): Promise<{ attempt: number; round: number; summary: Summary } | null> {
  const store = await openStore();
  try {
    const events = await store.read((sql) => readTypedEvents(sql, experimentStream(identity), ['evaluation.completed']));
    const latest = [...events].sort((a, b) => a.data.attempt - b.data.attempt || roundOf(a) - roundOf(b)).pop();
    return latest ? { attempt: latest.data.attempt, ...headline(latest) } : null;
  } finally {
    await store.close();
  }
}

async function requestAndWait(
  handle: JetStreamHandle,
  identity: string,
  before: { attempt: number; round: number; summary: Summary } | null,
  opts: ReevaluateOptions,
): Promise<number> {
  const requestId = randomUUID();
  const settings = handle.settings;
  // Subscribe before publishing, so no answer can slip past.
  const answers = handle.nc.subscribe(wireSubject(settings, 'evaluation.>'));
  const reports = handle.nc.subscribe(wireSubject(settings, 'report.>'));
  const request = createEvent(
    'evaluation.requested',
    { requestId, identity, attempt: opts.attempt ?? null, reason: opts.reason ?? null, requestedBy: { host: hostname(), user: userInfo().username } },
    { stream: requestStream(requestId), correlationId: requestId, causationId: null, producer: 'cli', codeVersion: cliCodeVersion() },
  );
  await new JetStreamPublisher(handle).publish(subjectOf(request.type, request.schemaVersion), request);
  err(`requested re-evaluation of ${identity}${opts.attempt ? ` attempt ${opts.attempt}` : ''} (request ${requestId}); no model will be called`);

  const done = new Promise<number>((resolve, reject) => {
    let timer = setTimeout(
      () => reject(new CliError(`the evaluator did not answer within ${opts.answerTimeout} s (request ${requestId}); check its log`, 3)),
      opts.answerTimeout * 1000,
    );
    let evaluated: { attempt: number; round: number; summary: Summary } | null = null;
    let reportedRunDir: string | null = null;
    const finish = (code: number) => {
      clearTimeout(timer);
      resolve(code);
    };
    // The two subscriptions are read concurrently: the report may be seen before its evaluation.
    const finishIfReported = () => {
      if (!evaluated || reportedRunDir === null) return;
      const previous = before && before.attempt === evaluated.attempt ? before : null;
      for (const line of roundComparison(previous, evaluated)) err(line);
      if (opts.json) process.stdout.write(`${JSON.stringify({ identity, attempt: evaluated.attempt, round: evaluated.round, summary: evaluated.summary, previous, runDir: reportedRunDir })}\n`);
      else process.stdout.write(`${reportedRunDir}\n`);
      finish(0);
    };
    const follow = async (subscription: typeof answers) => {
      for await (const event of eventsOn(handle, subscription)) {
        if (event.metadata.correlationId !== requestId) continue;
        if (event.type === 'evaluation.rejected') {
          err(`refused: ${event.data.reason}`);
          if (opts.json) process.stdout.write(`${JSON.stringify({ identity, refused: event.data.reason })}\n`);
          finish(1);
          return;
        }
        if (event.type === 'evaluation.completed') {
          evaluated = { attempt: event.data.attempt, ...headline(event) };
          err(`evaluation round ${evaluated.round} of attempt ${evaluated.attempt} done (${event.data.evaluatorVersion}); waiting for the reporter to rewrite the run directory`);
          clearTimeout(timer);
          const round = evaluated.round;
          timer = setTimeout(
            () => reject(new CliError(`round ${round} is in the log, but the reporter has not rewritten the run directory within ${opts.reportTimeout} s; check its log ('assay replay ${identity}' rebuilds it)`, 1)),
            opts.reportTimeout * 1000,
          );
          finishIfReported();
        }
        if (event.type === 'report.generated') {
          reportedRunDir = event.data.runDir;
          finishIfReported();
        }
      }
    };
    void follow(answers);
    void follow(reports);
  });
  try {
    return await done;
  } finally {
    answers.unsubscribe();
    reports.unsubscribe();
  }
}
