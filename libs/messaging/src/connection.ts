import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager, type ConsumerConfig, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { DEFAULT_DELIVERY_POLICY, type DeliveryPolicy } from './delivery-policy';
import { EVENT_FAMILIES, type NatsSettings } from './nats-config';
import { errorMessage } from '@assay/contracts';

export interface JetStreamHandle {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  settings: NatsSettings;
}

export async function connectJetStream(settings: NatsSettings, name: string): Promise<JetStreamHandle> {
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: settings.url, name, maxReconnectAttempts: -1, reconnectTimeWait: 1000 });
  } catch (error) {
    throw new Error(`cannot reach NATS at ${settings.url}: ${errorMessage(error)}. Start nats-server with JetStream (-js); see README.`);
  }
  let jsm: JetStreamManager;
  try {
    jsm = await jetstreamManager(nc);
  } catch (error) {
    await nc.close();
    throw new Error(`NATS at ${settings.url} has no JetStream (${errorMessage(error)}): start nats-server with -js`);
  }
  return { nc, js: jetstream(nc), jsm, settings };
}

/**
 * Declares the stream idempotently. Only options nats-server 2.9 understands: no per-message
 * TTL, no subject transforms, no metadata, no atomic batches.
 */
export async function ensureEventStream(handle: JetStreamHandle): Promise<void> {
  const { jsm, settings } = handle;
  const subjects = EVENT_FAMILIES.map((f) => `${settings.subjectPrefix}${f}.>`);
  const config = {
    name: settings.stream,
    subjects,
    retention: 'limits' as const,
    storage: 'file' as const,
    // Postgres keeps every event forever; the broker only needs to hold work until it is done.
    max_age: 14 * 24 * 3600 * 1e9,
    duplicate_window: 2 * 60 * 1e9,
    num_replicas: 1,
  };
  try {
    const info = await jsm.streams.info(settings.stream);
    const missing = subjects.filter((s) => !info.config.subjects?.includes(s));
    if (missing.length) await jsm.streams.update(settings.stream, { ...info.config, subjects: [...(info.config.subjects ?? []), ...missing] });
  } catch (error) {
    if (!/stream not found/i.test(errorMessage(error))) throw error;
    try {
      await jsm.streams.add(config);
    } catch (addError) {
      // Another service created it at the same moment; anything else is real.
      if (!/already in use|exists/i.test(errorMessage(addError))) throw addError;
    }
  }
}

export interface DurableOptions extends DeliveryPolicy {
  /** How long the server waits for an ack before redelivering (workers call working() meanwhile). */
  ackWaitMs: number;
  maxAckPending: number;
}

export const DEFAULT_DURABLE_OPTIONS: DurableOptions = { ...DEFAULT_DELIVERY_POLICY, ackWaitMs: 15_000, maxAckPending: 256 };

/**
 * A durable pull consumer with explicit acks on one subject, declared idempotently. The server
 * delivers without limit (max_deliver -1): the consumer counts deliveries itself (DeliveryPolicy),
 * because a server-side limit silently stops delivering a message whose give-up could not be
 * recorded (Postgres down), and the run would wait for it forever. A durable declared by an older
 * version with a limit is updated in place.
 */
export async function ensureDurable(handle: JetStreamHandle, durable: string, wireSubject: string, opts: DurableOptions = DEFAULT_DURABLE_OPTIONS): Promise<void> {
  const config = {
    durable_name: durable,
    filter_subject: wireSubject,
    ack_policy: 'explicit' as const,
    deliver_policy: 'all' as const,
    ack_wait: opts.ackWaitMs * 1e6,
    max_deliver: -1,
    max_ack_pending: opts.maxAckPending,
  };
  let existing: ConsumerConfig;
  try {
    existing = (await handle.jsm.consumers.info(handle.settings.stream, durable)).config;
  } catch (error) {
    if (!/consumer not found/i.test(errorMessage(error))) throw error;
    await handle.jsm.consumers.add(handle.settings.stream, config);
    return;
  }
  if (existing.max_deliver !== undefined && existing.max_deliver > 0) {
    await handle.jsm.consumers.update(handle.settings.stream, durable, { max_deliver: -1 });
  }
}
