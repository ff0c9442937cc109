import { errorMessage, InvalidEventError, parseEvent, type AssayEvent } from '@assay/contracts';
import { isInfrastructureOutage } from '@assay/event-store';
import type { JsMsg } from '@nats-io/jetstream';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_DURABLE_OPTIONS, ensureDurable, type DurableOptions, type JetStreamHandle } from './connection';
import { decideAfterFailure, decideOnArrival, outageDelayMs } from './delivery-policy';
import { durableName, logicalSubject, wireSubject } from './nats-config';

export interface DeadLetter {
  consumer: string;
  subject: string;
  messageId: string | null;
  reason: string;
  payload: string;
  /** The message as a validated event; null when it did not parse (then only the payload is kept). */
  event: AssayEvent | null;
}

export interface ConsumerLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface ConsumerSpec {
  service: string;
  /** The logical subject (without prefix), e.g. `inference.completed.v1`. */
  subject: string;
  /** Messages handled at once by this process. */
  concurrency: number;
  handle(event: AssayEvent, msg: JsMsg): Promise<void>;
  /** Keeps a terminated message (Postgres dead_letters): it is never silently dropped. */
  deadLetter(letter: DeadLetter): Promise<void>;
  logger: ConsumerLogger;
  durable?: Partial<DurableOptions>;
}

/**
 * A durable pull consumer that re-establishes itself after errors: bounded concurrency, ack only
 * after the handler's effects committed, nak with backoff on failures, term (after recording a
 * dead letter) for messages that can never be valid or have failed too often. It pulls only as
 * many messages as it has free slots and heartbeats each from the moment it arrives: a message
 * waiting in a client-side buffer would pass its ack wait and be redelivered to another worker
 * while this one still meant to run it (every model call of that batch made twice).
 * While Postgres or NATS is unreachable a message is kept and retried here, without spending a
 * delivery, for as long as the outage lasts.
 */
export class DurableConsumerRunner {
  readonly durable: string;
  private readonly options: DurableOptions;
  private stopped = false;
  private readonly stopping = new AbortController();
  private batch: { stop(): void } | null = null;
  private loop: Promise<void> | null = null;
  private readonly inflight = new Set<Promise<void>>();
  private readonly waiters: Array<() => void> = [];

  constructor(
    private readonly handle: JetStreamHandle,
    private readonly spec: ConsumerSpec,
  ) {
    this.durable = durableName(spec.service, spec.subject);
    this.options = { ...DEFAULT_DURABLE_OPTIONS, ...spec.durable };
  }

  async start(): Promise<void> {
    await ensureDurable(this.handle, this.durable, wireSubject(this.handle.settings, this.spec.subject), this.options);
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        const consumer = await this.handle.js.consumers.get(this.handle.settings.stream, this.durable);
        while (!this.stopped) {
          await this.slot();
          if (this.stopped) break;
          // Ask for no more than the free slots: every message received starts (and heartbeats) at once.
          const batch = await consumer.fetch({ max_messages: this.spec.concurrency - this.inflight.size, expires: 5000 });
          this.batch = batch;
          if (this.stopped) batch.stop();
          for await (const msg of batch) {
            if (this.stopped) {
              msg.nak();
              continue;
            }
            const work = this.process(msg).finally(() => {
              this.inflight.delete(work);
              this.waiters.shift()?.();
            });
            this.inflight.add(work);
          }
          this.batch = null;
        }
      } catch (error) {
        if (this.stopped) break;
        this.spec.logger.warn(`consumer ${this.durable}: ${errorMessage(error)}; re-subscribing in 1 s`);
        await this.pause(1000);
      }
    }
  }

  private async slot(): Promise<void> {
    while (this.inflight.size >= this.spec.concurrency && !this.stopped) await new Promise<void>((r) => this.waiters.push(r));
  }

  private async process(msg: JsMsg): Promise<void> {
    // Long handlers (a batch of model calls) and waits for Postgres keep the message theirs.
    const heartbeat = setInterval(() => this.heartbeat(msg), Math.max(1000, this.options.ackWaitMs / 3));
    try {
      await this.processHeld(msg);
    } finally {
      clearInterval(heartbeat);
    }
  }

  private async processHeld(msg: JsMsg): Promise<void> {
    const subject = logicalSubject(this.handle.settings, msg.subject);
    const payload = msg.string();
    let event: AssayEvent;
    try {
      event = parseEvent(JSON.parse(payload), subject);
    } catch (error) {
      const reason = error instanceof InvalidEventError ? error.reason : `not JSON: ${errorMessage(error)}`;
      await this.terminate(msg, subject, null, reason, payload);
      return;
    }
    const arrival = decideOnArrival(msg.info.deliveryCount, this.options);
    if (arrival.action === 'give-up') {
      await this.terminate(msg, subject, event, arrival.reason, payload);
      return;
    }
    for (let outageRetries = 0; ; outageRetries++) {
      try {
        await this.spec.handle(event, msg);
      } catch (error) {
        const deliveries = msg.info.deliveryCount;
        const decision = decideAfterFailure(error, deliveries, outageRetries, this.options);
        const message = errorMessage(error);
        if (decision.action === 'give-up') {
          await this.terminate(msg, subject, event, decision.reason, payload);
        } else if (decision.action === 'wait-for-infrastructure') {
          // The first time and then about once a minute (at the capped backoff): an outage of minutes should not flood the log.
          if (outageRetries % 6 === 0) this.spec.logger.warn(`${subject} ${event.id}: ${message}; keeping it and trying again in ${decision.delayMs} ms (no delivery spent)`);
          if (await this.pause(decision.delayMs)) continue;
          msg.nak(); // stopping: another process takes it over
        } else {
          const line = `${subject} ${event.id} (delivery ${deliveries}): ${message}; redelivering in ${decision.delayMs} ms`;
          if (decision.expected) this.spec.logger.log(line);
          else this.spec.logger.error(`${line}\n${(error as Error)?.stack ?? ''}`);
          msg.nak(decision.delayMs);
        }
        return;
      }
      break;
    }
    try {
      await msg.ackAck();
    } catch (error) {
      // The effects committed; a redelivery finds the message processed and does nothing again.
      this.spec.logger.warn(`${subject} ${event.id}: ack not confirmed (${errorMessage(error)}); a redelivery will be a no-op`);
    }
  }

  /** Records the give-up (dead letter, and the run's failure) before terminating; while it cannot be recorded, the message stays. */
  private async terminate(msg: JsMsg, subject: string, event: AssayEvent | null, reason: string, payload: string): Promise<void> {
    const messageId = event?.id ?? null;
    for (let outageRetries = 0; ; outageRetries++) {
      try {
        await this.spec.deadLetter({ consumer: this.durable, subject, messageId, reason, payload, event });
        break;
      } catch (error) {
        const message = errorMessage(error);
        if (isInfrastructureOutage(error)) {
          const delay = outageDelayMs(outageRetries + 1, this.options);
          if (outageRetries % 6 === 0) this.spec.logger.warn(`dead letter for ${subject} not recorded yet (${message}); trying again in ${delay} ms`);
          if (await this.pause(delay)) continue;
          msg.nak();
          return;
        }
        // Not an outage, yet not recorded: a redelivery gives up again (the server never stops delivering), never lost.
        const delay = outageDelayMs(msg.info.deliveryCount, this.options);
        this.spec.logger.error(`dead letter for ${subject} not recorded (${message}); redelivering in ${delay} ms`);
        msg.nak(delay);
        return;
      }
    }
    this.spec.logger.error(`dead letter on ${subject}${messageId ? ` (${messageId})` : ''}: ${reason}`);
    // No reason argument: nats-server 2.9 ignores a `+TERM <reason>` ack and would redeliver.
    msg.term();
  }

  private heartbeat(msg: JsMsg): void {
    try {
      msg.working();
    } catch (error) {
      // A closed connection: the server redelivers after the ack wait, and the effects are idempotent.
      this.spec.logger.warn(`heartbeat for ${msg.subject} failed: ${errorMessage(error)}`);
    }
  }

  /** Waits `ms`; false when the runner is stopping (then the caller hands its message back). */
  private async pause(ms: number): Promise<boolean> {
    if (this.stopped) return false;
    try {
      await sleep(ms, undefined, { signal: this.stopping.signal });
      return true;
    } catch {
      return false; // aborted by stop()
    }
  }

  /** Stops taking messages and waits for the ones in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    this.batch?.stop();
    for (const wake of this.waiters.splice(0)) wake();
    await Promise.allSettled([...this.inflight]);
    if (this.loop) await this.loop;
  }
}
