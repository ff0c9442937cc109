import { repoRoot, resolveCodeVersion } from '@assay/config';
import { errorMessage, parseEvent, type AssayEvent } from '@assay/contracts';
import { checkDatabaseReady, databaseUrl, EventStore } from '@assay/event-store';
import { connectJetStream, healthSubject, JetStreamPublisher, logicalSubject, natsSettings, wireSubject, type JetStreamHandle } from '@assay/messaging';
import { join } from 'node:path';

export const SERVICES = ['planner', 'inference-worker', 'evaluator', 'reporter'] as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/**
 * The valid events arriving on a subscription of the CLI. Anything else is skipped (the services
 * dead-letter invalid events) but said once per subject on stderr: an event this CLI cannot read
 * (say, from services of another version) could be the one it waits for.
 */
export async function* eventsOn(
  handle: JetStreamHandle,
  subscription: AsyncIterable<{ json(): unknown; subject: string }>,
  warn: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): AsyncGenerator<AssayEvent> {
  const warned = new Set<string>();
  for await (const msg of subscription) {
    const subject = logicalSubject(handle.settings, msg.subject);
    let event: AssayEvent;
    try {
      event = parseEvent(msg.json(), subject);
    } catch (error) {
      if (!warned.has(subject)) {
        warned.add(subject);
        warn(`warning: ignored an event on ${subject} that this CLI cannot read (${errorMessage(error)}); further ones on this subject are ignored silently`);
      }
      continue;
    }
    yield event;
  }
}

/** Usage checks shared by the commands that act on one identity with an optional --reason (exit 2). */
export function checkIdentityAndReason(identity: string, reason: string | undefined, what: string): void {
  if (identity.trim() === '') throw new CliError(`name the identity to ${what} (assay status lists them)`, 2);
  if (reason !== undefined && reason.trim() === '') throw new CliError('--reason is empty: say why, or leave it out', 2);
}

export async function openNats(): Promise<JetStreamHandle> {
  try {
    return await connectJetStream(natsSettings(), 'assay-cli');
  } catch (error) {
    throw new CliError(errorMessage(error), 3);
  }
}

export interface PingOptions {
  /** Rounds of pings; a service that answers in any round is alive. */
  attempts: number;
  /** The first round's timeout; each later round waits one more of it (3, 6, 9 s by default). */
  timeoutMs: number;
  /** Pause before a later round, so a service busy starting up (or a loaded machine) gets its turn. */
  pauseMs: number;
}

/** A loaded machine can take more than 3 s to answer a ping: a service is declared absent only after every round. */
export const SERVICE_CHECK: PingOptions = { attempts: 3, timeoutMs: 3000, pauseMs: 500 };

/**
 * Pings each service over NATS ("no responders" comes back at once when none runs), asking again
 * those that did not answer, with a longer timeout each round.
 */
export async function pingServices(handle: Pick<JetStreamHandle, 'nc' | 'settings'>, opts: PingOptions = SERVICE_CHECK): Promise<{ alive: Record<string, string>; silent: string[] }> {
  const alive: Record<string, string> = {};
  let silent: string[] = [...SERVICES];
  for (let round = 1; round <= opts.attempts && silent.length > 0; round++) {
    if (round > 1) await new Promise((r) => setTimeout(r, opts.pauseMs));
    const answers = await Promise.all(
      silent.map(async (service) => {
        try {
          const reply = await handle.nc.request(wireSubject(handle.settings, healthSubject(service)), '', { timeout: opts.timeoutMs * round });
          return [service, (reply.json() as { codeVersion: string }).codeVersion] as const;
        } catch {
          return [service, null] as const; // no answer this round: asked again in the next
        }
      }),
    );
    for (const [service, version] of answers) if (version !== null) alive[service] = version;
    silent = silent.filter((s) => !(s in alive));
  }
  return { alive, silent: silent.sort() };
}

/** Every service must answer before a run is requested: says which do not and how to start them. */
export async function checkServicesRunning(handle: JetStreamHandle, opts: PingOptions = SERVICE_CHECK): Promise<Record<string, string>> {
  const { alive, silent } = await pingServices(handle, opts);
  if (silent.length > 0) {
    throw new CliError(
      `not running: ${silent.join(', ')} (no answer on NATS ${handle.settings.url}). Start the services with 'npm run up' (or 'docker compose up'), then run again.`,
      3,
    );
  }
  return alive;
}

/**
 * The event log; with `nats`, events the CLI appends are published after commit. The database must
 * exist and be migrated already (the services do both): the CLI never creates or migrates one, so
 * a misspelt DATABASE_URL fails here (exit 3) instead of showing an empty registry.
 */
export async function openStore(nats?: JetStreamHandle): Promise<EventStore> {
  try {
    return await EventStore.openExisting({ poolSize: 2, publisher: nats ? new JetStreamPublisher(nats) : undefined });
  } catch (error) {
    throw new CliError(errorMessage(error), 3);
  }
}

/**
 * What openStore checks (the database exists and is migrated: exit 3 otherwise), without opening
 * a connection pool: for a command that only needs to know before it asks the services.
 */
export async function checkStoreReady(): Promise<void> {
  try {
    await checkDatabaseReady(databaseUrl());
  } catch (error) {
    throw new CliError(errorMessage(error), 3);
  }
}

/** The CLI's own code version, for a request's metadata (the services compute the identity's). */
export function cliCodeVersion(): string {
  const root = repoRoot(__dirname);
  return resolveCodeVersion(root, join(root, 'dist', 'code-version.txt'));
}
