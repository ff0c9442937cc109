import type { AnyEnvelope } from '@assay/contracts';
import type { EventPublisher } from '@assay/event-store';
import type { JetStreamHandle } from './connection';
import { wireSubject } from './nats-config';

/** Publishes envelopes to JetStream with the event id as message id: the server drops re-sends. */
export class JetStreamPublisher implements EventPublisher {
  constructor(private readonly handle: JetStreamHandle) {}

  async publish(subject: string, event: AnyEnvelope): Promise<void> {
    await this.handle.js.publish(wireSubject(this.handle.settings, subject), JSON.stringify(event), { msgID: event.id });
  }

  /** Fire-and-forget core NATS (live progress): not persisted, not part of the log. */
  publishCore(subject: string, payload: unknown): void {
    this.handle.nc.publish(wireSubject(this.handle.settings, subject), JSON.stringify(payload));
  }
}
