import { parseStored, readEventsOfTypes } from '@assay/event-store';
import { foldRegistry, REGISTRY_EVENT_TYPES, type RegistryEntry } from '@assay/experiments';
import { resolveIdentity } from './identity-prefix';
import { CliError, openStore } from './nats-session';

/** The registry, and the one identity a prefix names (when given), from one connection. */
export async function loadRegistry(prefix?: string): Promise<{ entries: RegistryEntry[]; identity: string | null }> {
  const store = await openStore();
  try {
    const identity = prefix === undefined ? null : await resolveIdentity(prefix, store);
    const events = await store.read((sql) => readEventsOfTypes(sql, REGISTRY_EVENT_TYPES));
    return { entries: foldRegistry(events.map(parseStored)), identity };
  } finally {
    await store.close();
  }
}

const num = (v: unknown) => (typeof v === 'number' ? v.toFixed(4) : '-');

export function formatRegistry(entries: RegistryEntry[]): string {
  if (entries.length === 0) return 'no experiments in the registry yet';
  const header = ['identity', 'name', 'method', 'status', 'attempt', 'norm_mae', 'finished', 'run_dir'];
  const rows = entries.map((e) => [e.identity, e.name, e.method, statusCell(e), String(e.attempt), num(e.summary.normalized_mae), e.finishedAt ?? '-', e.runDir]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n');
}

/** A failed run says at which stage in the list; the error is in `assay status <identity>`. */
function statusCell(e: RegistryEntry): string {
  return e.status === 'failed' && e.failure?.attempt === e.attempt ? `failed at ${e.failure.stage}` : e.status;
}

export function formatEntry(e: RegistryEntry): string {
  const lines = [
    `identity:   ${e.identity}`,
    `name:       ${e.name}`,
    `method:     ${e.method}`,
    `status:     ${e.status} (attempt ${e.attempt})`,
    `code:       ${e.codeVersion}`,
    `started:    ${e.startedAt}`,
    `finished:   ${e.finishedAt ?? '-'}`,
    ...(e.reevaluatedAt === null ? [] : [`re-evaluated: ${e.reevaluatedAt} (latest round: ${e.summary.evaluation_round ?? '?'}; the numbers below are its)`]),
    `run dir:    ${e.runDir}`,
  ];
  if (e.status === 'smoke_passed') lines.push('            the smoke test passed (--smoke-only); the full experiment has not run: `assay run` runs it');
  for (const [k, v] of Object.entries(e.summary)) lines.push(`  ${k}: ${typeof v === 'number' ? Number(v.toFixed(6)) : v}`);
  if (e.cancellation) lines.push(`${e.cancellation.kind === 'abandoned' ? 'abandoned' : `cancelled by ${e.cancellation.by}`}: ${e.cancellation.reason}; 'assay run' starts attempt ${e.attempt + 1}`);
  if (e.failure) lines.push(`last failure: attempt ${e.failure.attempt} at ${e.failure.stage}: ${e.failure.error}`);
  if (e.skippedRequests) lines.push(`requests answered from the registry: ${e.skippedRequests}`);
  return lines.join('\n');
}

/** `assay status [identity]`: the registry, or one entry in detail; --json prints it as one JSON document. */
export async function statusCommand(prefix: string | undefined, opts: { json?: boolean } = {}): Promise<number> {
  const { entries, identity } = await loadRegistry(prefix);
  const entry = identity === null ? null : entries.find((e) => e.identity === identity);
  if (identity !== null && !entry) throw new CliError(`no experiment '${identity}' in the registry (assay status lists them)`, 1);
  if (opts.json) process.stdout.write(`${JSON.stringify(entry ?? { experiments: entries })}\n`);
  else process.stdout.write(`${entry ? formatEntry(entry) : formatRegistry(entries)}\n`);
  return 0;
}
