import { resolveCodeVersion } from '@assay/config';
import { parseEvent, type AssayEvent } from '@assay/contracts';
import { EventStore } from '@assay/event-store';
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
 * The valid events arriving on a subscription of the CLI. Anything else is skipped: not ours to
 * judge, the services dead-letter invalid events.
 */
export async function* eventsOn(handle: JetStreamHandle, subscription: AsyncIterable<{ json(): unknown; subject: string }>): AsyncGenerator<AssayEvent> {
  for await (const msg of subscription) {
    let event: AssayEvent;
    try {
      event = parseEvent(msg.json(), logicalSubject(handle.settings, msg.subject));
    } catch {
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
    throw new CliError((error as Error).message, 3);
  }
}

/** Asks each service over NATS; "no responders" comes back at once when none runs. */
export async function checkServicesRunning(handle: JetStreamHandle): Promise<Record<string, string>> {
  const versions: Record<string, string> = {};
  const missing: string[] = [];
  await Promise.all(
    SERVICES.map(async (service) => {
      try {
        const reply = await handle.nc.request(wireSubject(handle.settings, healthSubject(service)), '', { timeout: 3000 });
        versions[service] = (reply.json() as { codeVersion: string }).codeVersion;
      } catch {
        missing.push(service);
      }
    }),
  );
  if (missing.length > 0) {
    throw new CliError(
      `not running: ${missing.sort().join(', ')} (no answer on NATS ${handle.settings.url}). Start the services with 'npm run up' (or 'docker compose up'), then run again.`,
      3,
    );
  }
  return versions;
}

/** The event log; with `nats`, events the CLI appends are published after commit. */
export async function openStore(nats?: JetStreamHandle): Promise<EventStore> {
  try {
    return await EventStore.open({ poolSize: 2, publisher: nats ? new JetStreamPublisher(nats) : undefined });
  } catch (error) {
    throw new CliError((error as Error).message, 3);
  }
}

/** The CLI's own code version, for a request's metadata (the services compute the identity's). */
export function cliCodeVersion(): string {
  const root = join(__dirname, '..', '..', '..', '..');
  return resolveCodeVersion(root, join(root, 'dist', 'code-version.txt'));
}
