/**
 * Where and under which names assay talks to NATS. The prefix and stream name exist so that a
 * test run can live beside a real deployment on one server without seeing its messages.
 */
export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

export interface NatsSettings {
  url: string;
  /** JetStream stream holding every assay event subject. */
  stream: string;
  /** Prepended to every subject on the wire, e.g. `e2e123.` (empty in production). */
  subjectPrefix: string;
}

export function natsSettings(env: NodeJS.ProcessEnv = process.env): NatsSettings {
  const subjectPrefix = env.ASSAY_SUBJECT_PREFIX ?? '';
  if (subjectPrefix && !/^[A-Za-z0-9_-]+\.$/.test(subjectPrefix)) {
    throw new Error(`ASSAY_SUBJECT_PREFIX '${subjectPrefix}' must be one subject token followed by a dot, e.g. 'test1.'`);
  }
  return { url: env.NATS_URL || DEFAULT_NATS_URL, stream: env.ASSAY_STREAM || 'ASSAY', subjectPrefix };
}

/** The event families; the stream captures all of them. */
export const EVENT_FAMILIES = ['experiment', 'inference', 'evaluation', 'report'];

export function wireSubject(settings: NatsSettings, subject: string): string {
  return settings.subjectPrefix + subject;
}

export function logicalSubject(settings: NatsSettings, wire: string): string {
  if (!wire.startsWith(settings.subjectPrefix)) throw new Error(`subject '${wire}' lacks prefix '${settings.subjectPrefix}'`);
  return wire.slice(settings.subjectPrefix.length);
}

/** Durable consumer names: a service and the subject it consumes, in characters NATS accepts. */
export function durableName(service: string, subject: string): string {
  return `${service}__${subject}`.replace(/[^A-Za-z0-9_-]/g, '_');
}

/** Core NATS subject a service answers on, so the CLI can tell "not running" from "busy". */
export function healthSubject(service: string): string {
  return `assay.health.${service}`;
}
