/**
 * Upcasters: stored rows are never rewritten, so an event whose shape changed is brought to its
 * type's current shape when it is read (from the log or the wire), before validation. Code after
 * parseEvent sees one shape per type and never asks "was this logged before field X existed?".
 *
 * Each upcaster takes rows of one type stored as schema version `from` and returns data of version
 * `to`. A shape change that kept the version (a field added later with a meaning for the old rows)
 * has `from === to` and must leave a row that already has the field alone.
 */
export interface Upcaster {
  type: string;
  from: number;
  to: number;
  /** What changed, for the reader of this table. */
  change: string;
  up(data: Record<string, unknown>): Record<string, unknown>;
}

/** Evaluation rounds were added after the first runs: a row without one is the run's own evaluation, round 1. */
const roundOne = (data: Record<string, unknown>) => (data.round === undefined ? { ...data, round: 1 } : data);

export const UPCASTERS: readonly Upcaster[] = [
  { type: 'evaluation.batch.scored', from: 1, to: 1, change: 'round added (absent: round 1)', up: roundOne },
  { type: 'evaluation.completed', from: 1, to: 1, change: 'round added (absent: round 1)', up: roundOne },
  {
    type: 'evaluation.completed',
    from: 1,
    to: 1,
    change: 'reevaluation added (absent: null, the run made it itself)',
    up: (data) => (data.reevaluation === undefined ? { ...data, reevaluation: null } : data),
  },
  { type: 'report.generated', from: 1, to: 1, change: 'round added (absent: round 1)', up: roundOne },
];

/**
 * The envelope with its data brought to the current shape: every upcaster of the type, in table
 * order, whose `from` is the version reached so far. Anything that is not an object passes
 * through unchanged, for validation to reject with its own message.
 */
export function upcast(raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
  const envelope = raw as { type?: unknown; schemaVersion?: unknown; data?: unknown };
  if (typeof envelope.type !== 'string' || typeof envelope.schemaVersion !== 'number') return raw;
  if (typeof envelope.data !== 'object' || envelope.data === null || Array.isArray(envelope.data)) return raw;
  let version = envelope.schemaVersion;
  let data = envelope.data as Record<string, unknown>;
  for (const u of UPCASTERS) {
    if (u.type !== envelope.type || u.from !== version) continue;
    data = u.up(data);
    version = u.to;
  }
  return data === envelope.data && version === envelope.schemaVersion ? raw : { ...envelope, schemaVersion: version, data };
}
