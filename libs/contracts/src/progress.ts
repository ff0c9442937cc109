import { z } from 'zod';

/**
 * Live progress on core NATS `progress.<identity>`: for eyes only, never in the log. Messages
 * carry deltas so several workers can report without coordinating. `promptsDone` and
 * `inferenceFailures` count prompts whose batch outcome was committed (not a duplicate), so a
 * redelivered batch is never counted twice; `retries` are live.
 */
export const ProgressUpdate = z
  .object({
    identity: z.string(),
    attempt: z.number().int().positive(),
    phase: z.enum(['smoke', 'full', 'summary']),
    source: z.string(),
    promptsDone: z.number().int().nonnegative(),
    retries: z.number().int().nonnegative(),
    inferenceFailures: z.number().int().nonnegative(),
    parseFailures: z.number().int().nonnegative(),
    /** Something the people following the run should know, e.g. that the model server stopped answering. */
    message: z.string().optional(),
  })
  .strict();
export type ProgressUpdate = z.infer<typeof ProgressUpdate>;

export function progressSubject(identity: string): string {
  return `progress.${identity}`;
}

/** What a follower of a run can find out when the run makes no progress. */
export interface StallObservation {
  /** What the run waits for now. */
  stage: 'inference' | 'evaluation' | 'report';
  /** Seconds since the last prompt was done (or since following began). */
  quietS: number;
  /** Services that answered a health ping, and those that did not (after retries). */
  services: { alive: string[]; silent: string[] };
  /** The model server's answer to a short probe; null when not probed (not waiting on inference). */
  modelServer: { url: string; answered: boolean; detail: string } | null;
  /** Retries reported since the last prompt was done. */
  retriesSinceProgress: number;
  /** The last progress report of this run: which service instance, how many seconds ago. */
  lastReport: { source: string; agoS: number } | null;
  /** The last message a service sent with its progress (e.g. the model server stopped answering). */
  lastMessage: { source: string; text: string; agoS: number } | null;
}

/** Which service carries each stage (a stage stalls for certain when none of its service answers). */
const STAGE_SERVICE: Record<StallObservation['stage'], string> = { inference: 'inference-worker', evaluation: 'evaluator', report: 'reporter' };

function ago(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/**
 * What is wrong with a run that stopped moving, as far as can be told: lines for a person, the
 * most certain cause first. Pure, so each case is tested without stopping anything.
 */
export function diagnoseStall(o: StallObservation): string[] {
  const lines = [`no progress for ${ago(o.quietS)} (waiting for ${o.stage})`];
  const needed = STAGE_SERVICE[o.stage];
  if (o.services.silent.includes(needed)) lines.push(`no ${needed} is running (none answers a health ping): start one ('npm run up', or 'npm run start:${needed}')`);
  const others = o.services.silent.filter((s) => s !== needed);
  if (others.length > 0) lines.push(`not answering health pings: ${others.join(', ')}`);
  if (o.modelServer && !o.modelServer.answered) lines.push(`the model server does not answer: ${o.modelServer.detail}`);
  if (o.retriesSinceProgress > 0) lines.push(`${o.retriesSinceProgress} model call retries since the last prompt was done`);
  if (o.lastMessage) lines.push(`${o.lastMessage.source} said ${ago(o.lastMessage.agoS)} ago: ${o.lastMessage.text}`);
  lines.push(o.lastReport ? `last progress report: ${o.lastReport.source}, ${ago(o.lastReport.agoS)} ago` : 'no service has reported progress on this run since it was followed');
  // Only the header and the last report: nothing found wrong.
  if (lines.length === 2) {
    if (o.stage === 'inference' && o.modelServer?.answered) lines.push(`every service and the model server answer (${o.modelServer.detail}): slow, not stuck, as far as can be told`);
    else if (o.stage !== 'inference') lines.push(`the ${needed} answers health pings: slow, not stuck, as far as can be told`);
  }
  return lines;
}
