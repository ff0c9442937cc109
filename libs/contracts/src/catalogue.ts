import { z } from 'zod';
import { AnyEnvelope, subjectOf } from './envelope';
import { EvaluationEvent } from './events/evaluation.events';
import { ExperimentEvent } from './events/experiment.events';
import { InferenceEvent } from './events/inference.events';
import { ReportEvent } from './events/report.events';
import { upcast } from './upcast';

/** Every event assay knows, one discriminated union per family, joined here. */
export const AssayEvent = z.discriminatedUnion('type', [
  ...ExperimentEvent.options,
  ...InferenceEvent.options,
  ...EvaluationEvent.options,
  ...ReportEvent.options,
]);
export type AssayEvent = z.infer<typeof AssayEvent>;
export type AssayEventType = AssayEvent['type'];
export type EventOfType<T extends AssayEventType> = Extract<AssayEvent, { type: T }>;
export type EventData<T extends AssayEventType> = EventOfType<T>['data'];

const schemasByType = new Map<string, z.ZodType>(AssayEvent.options.map((o) => [o.shape.type.value, o]));

/** Raised when a message is not a valid event: the consumer terminates it (dead letter), never retries it. */
export class InvalidEventError extends Error {
  constructor(
    readonly subject: string,
    readonly reason: string,
  ) {
    super(`invalid event on '${subject}': ${reason}`);
    this.name = 'InvalidEventError';
  }
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}

/**
 * Parses an event from the wire or the log. Older shapes are upcast here (upcast.ts), before
 * validation: stored rows are never rewritten.
 */
export function parseEvent(stored: unknown, subject: string): AssayEvent {
  const raw = upcast(stored);
  const envelope = AnyEnvelope.safeParse(raw);
  if (!envelope.success) throw new InvalidEventError(subject, `not an assay envelope: ${describeIssues(envelope.error)}`);
  const schema = schemasByType.get(envelope.data.type);
  if (!schema) throw new InvalidEventError(subject, `unknown event type '${envelope.data.type}'`);
  // The subject names the version the producer wrote, not the one it was upcast to.
  const storedVersion = (stored as { schemaVersion: number }).schemaVersion;
  const expectedSubject = subjectOf(envelope.data.type, storedVersion);
  if (subject !== expectedSubject && !subject.startsWith('log:')) {
    throw new InvalidEventError(subject, `event of type '${envelope.data.type}' v${storedVersion} arrived on '${subject}' (expected '${expectedSubject}')`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new InvalidEventError(subject, describeIssues(parsed.error));
  return parsed.data as AssayEvent;
}

/**
 * Validates an event read back from the log (parseEvent: upcast, then the catalogue's schema) and
 * returns it as stored, upcast only: a schema's parse rebuilds objects in the schema's key order,
 * and run directories and replays are built from the log's data as Postgres keeps it, so reading
 * it typed must not reorder a single key.
 */
export function parseStoredEvent(stored: unknown, where: string): AssayEvent {
  parseEvent(stored, where);
  return upcast(stored) as AssayEvent;
}

/** Parses and narrows to one type, for consumers bound to a single subject. */
export function parseEventOfType<T extends AssayEventType>(type: T, raw: unknown, subject: string): EventOfType<T> {
  const event = parseEvent(raw, subject);
  if (event.type !== type) throw new InvalidEventError(subject, `expected '${type}', got '${event.type}'`);
  return event as EventOfType<T>;
}

export function subjectOfEvent(event: { type: string; schemaVersion: number }): string {
  return subjectOf(event.type, event.schemaVersion);
}

/** Subjects by event type, current schema versions: what publishers send and consumers bind to. */
export const Subjects = Object.fromEntries(
  AssayEvent.options.map((o) => [o.shape.type.value, subjectOf(o.shape.type.value, o.shape.schemaVersion.value)]),
) as { [E in AssayEvent as E['type']]: `${E['type']}.v${E['schemaVersion']}` };
