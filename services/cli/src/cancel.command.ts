import { cancelRunning } from '@assay/experiments';
import { hostname, userInfo } from 'node:os';
import { resolveIdentity } from './identity-prefix';
import { checkIdentityAndReason, CliError, cliCodeVersion, openNats, openStore } from './nats-session';

export interface CancelOptions {
  reason?: string;
}

/**
 * `assay cancel IDENTITY` (or a prefix of it): records experiment.cancelled for the identity's running attempt. Workers
 * drop its remaining prompts and cut their calls in flight, nothing completes it, `assay status`
 * shows it cancelled, and the next `assay run` of the config starts a new attempt. Exit 0 when
 * cancelled, 1 for an unknown identity or one not running, 2 for a usage error, 3 when Postgres
 * or NATS is unreachable.
 */
export async function cancelCommand(prefix: string, opts: CancelOptions): Promise<number> {
  checkIdentityAndReason(prefix, opts.reason, 'cancel');
  const nats = await openNats();
  try {
    const store = await openStore(nats);
    try {
      const identity = await resolveIdentity(prefix, store);
      const outcome = await cancelRunning(store, identity, {
        reason: opts.reason ?? 'cancelled with assay cancel',
        by: { host: hostname(), user: userInfo().username },
        producer: 'cli',
        codeVersion: cliCodeVersion(),
      });
      if (outcome.kind === 'refuse') throw new CliError(outcome.reason, 1);
      const { attempt } = outcome.event.data;
      process.stderr.write(`cancelled ${identity} attempt ${attempt}: its workers drop the remaining prompts; 'assay run' of its config starts attempt ${attempt + 1}\n`);
      process.stdout.write(`${outcome.runDir}\n`);
      return 0;
    } finally {
      await store.close();
    }
  } finally {
    await nats.nc.close();
  }
}
