import { randomUUID } from 'node:crypto';
import { AssayEvent, parseEvent, type AssayEventType, type EventData, type EventOfType } from './catalogue';
import { subjectOf, type AnyEnvelope } from './envelope';

const currentVersion = new Map<string, number>(AssayEvent.options.map((o) => [o.shape.type.value, o.shape.schemaVersion.value]));

export interface EventContext {
  stream: string;
  correlationId: string;
  /** The event (or request) this one answers; a root event names itself. */
  causationId: string | null;
  producer: string;
  codeVersion: string;
}

/** The context for events caused by `parent`, produced by `producer`, in `stream`. */
export function causedBy(parent: AnyEnvelope, stream: string, producer: string, codeVersion: string): EventContext {
  return { stream, correlationId: parent.metadata.correlationId, causationId: parent.id, producer, codeVersion };
}

/** Builds an event of the current schema version and validates it before it goes anywhere. */
export function createEvent<T extends AssayEventType>(type: T, data: EventData<T>, ctx: EventContext): EventOfType<T> {
  const id = randomUUID();
  const schemaVersion = currentVersion.get(type);
  if (schemaVersion === undefined) throw new Error(`unknown event type '${type}'`);
  const envelope = {
    id,
    type,
    schemaVersion,
    stream: ctx.stream,
    occurredAt: new Date().toISOString(),
    data,
    metadata: { correlationId: ctx.correlationId, causationId: ctx.causationId ?? id, producer: ctx.producer, codeVersion: ctx.codeVersion },
  };
  return parseEvent(envelope, subjectOf(type, schemaVersion)) as EventOfType<T>;
}
