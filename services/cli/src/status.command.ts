import { EventStore, EVENT_COLUMNS, toStoredEvent, type EventRow } from '@assay/event-store';
import { foldRegistry, REGISTRY_EVENT_TYPES, type RegistryEntry } from '@assay/experiments';
import { CliError } from './nats-session';

export async function loadRegistry(): Promise<RegistryEntry[]> {
  let store: EventStore;
  try {
    store = await EventStore.open({ poolSize: 1 });
  } catch (error) {
    throw new CliError((error as Error).message, 3);
  }
  try {
    const rows = await store.read((sql) =>
      sql.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM events WHERE type = ANY($1::text[]) ORDER BY global_position`, [REGISTRY_EVENT_TYPES]),
    );
    return foldRegistry(rows.map(toStoredEvent));
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
    `run dir:    ${e.runDir}`,
  ];
  if (e.status === 'smoke_passed') lines.push('            the smoke test passed (--smoke-only); the full experiment has not run: `assay run` runs it');
  for (const [k, v] of Object.entries(e.summary)) lines.push(`  ${k}: ${typeof v === 'number' ? Number(v.toFixed(6)) : v}`);
  if (e.cancellation) lines.push(`${e.cancellation.kind === 'abandoned' ? 'abandoned' : `cancelled by ${e.cancellation.by}`}: ${e.cancellation.reason}; 'assay run' starts attempt ${e.attempt + 1}`);
  if (e.failure) lines.push(`last failure: attempt ${e.failure.attempt} at ${e.failure.stage}: ${e.failure.error}`);
  if (e.skippedRequests) lines.push(`requests answered from the registry: ${e.skippedRequests}`);
  return lines.join('\n');
}

export async function statusCommand(identity: string | undefined): Promise<number> {
  const entries = await loadRegistry();
  if (!identity) {
    process.stdout.write(`${formatRegistry(entries)}\n`);
    return 0;
  }
  const entry = entries.find((e) => e.identity === identity);
  if (!entry) throw new CliError(`no experiment '${identity}' in the registry (assay status lists them)`, 1);
  process.stdout.write(`${formatEntry(entry)}\n`);
  return 0;
}
