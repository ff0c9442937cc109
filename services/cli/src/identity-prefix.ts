import { identitiesStartingWith, type EventStore } from '@assay/event-store';
import { CliError, openStore } from './nats-session';

/**
 * The one identity a prefix names, among the identities that begin with it. An exact match wins
 * (an identity is never a prefix of another of the same shape, but a user may type it whole).
 * Unknown: exit 1, as for a full identity that is not in the registry; ambiguous: a usage error
 * (exit 2) listing the candidates, so the user can type more characters.
 */
export function chooseIdentity(prefix: string, candidates: readonly string[]): string {
  if (prefix.trim() === '') throw new CliError('name an identity (or its first characters); `assay status` lists them', 2);
  if (candidates.includes(prefix)) return prefix;
  if (candidates.length === 1) return candidates[0];
  if (candidates.length === 0) throw new CliError(`no experiment '${prefix}' in the registry (assay status lists them)`, 1);
  const shown = candidates.slice(0, 10).join(', ') + (candidates.length > 10 ? `, ... (${candidates.length - 10} more)` : '');
  throw new CliError(`'${prefix}' is ambiguous: it begins ${candidates.length} identities (${shown}); type more of it`, 2);
}

/**
 * Resolves an identity or a prefix of one against the log. Takes an open store to share its
 * connection, or opens (and closes) one.
 */
export async function resolveIdentity(prefix: string, store?: EventStore): Promise<string> {
  const own = store ? null : await openStore();
  try {
    const candidates = await (store ?? own!).read((sql) => identitiesStartingWith(sql, prefix));
    return chooseIdentity(prefix, candidates);
  } finally {
    await own?.close();
  }
}
