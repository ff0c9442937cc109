import { InvalidEventError, parseEvent, type AssayEvent, errorMessage } from '@assay/contracts';
import type { JsMsg } from '@nats-io/jetstream';
import { DEFAULT_DURABLE_OPTIONS, ensureDurable, type DurableOptions, type JetStreamHandle } from './connection';
import { backoffDelayMs, PoisonMessageError, TransientError } from './errors';
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
 * A durable pull consumer in a consume() loop that re-establishes itself after errors: bounded
 * concurrency, ack only after the handler's effects committed, nak with backoff on failures,
 * term (after recording a dead letter) for messages that can never be valid.
 */
export class DurableConsumerRunner {
  readonly durable: string;
  private readonly options: DurableOptions;
  private stopped = false;
  private messages: { stop(): void; close(): Promise<void | Error> } | null = null;
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
        const messages = await consumer.consume({ max_messages: this.spec.concurrency, expires: 5000 });
        this.messages = messages;
        for await (const msg of messages) {
          if (this.stopped) {
            msg.nak();
            break;
          }
          await this.slot();
          const work = this.process(msg).finally(() => {
            this.inflight.delete(work);
            this.waiters.shift()?.();
          });
          this.inflight.add(work);
        }
      } catch (error) {
        if (this.stopped) break;
        this.spec.logger.warn(`consumer ${this.durable}: ${errorMessage(error)}; re-subscribing in 1 s`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private async slot(): Promise<void> {
    while (this.inflight.size >= this.spec.concurrency) await new Promise<void>((r) => this.waiters.push(r));
  }

  private async process(msg: JsMsg): Promise<void> {
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
    // Long handlers (a batch of model calls) keep the message theirs while they work.
    const heartbeat = setInterval(() => msg.working(), Math.max(1000, this.options.ackWaitMs / 3));
    try {
      await this.spec.handle(event, msg);
      await msg.ackAck();
    } catch (error) {
      const err = error as Error;
      const deliveries = msg.info.deliveryCount;
      if (err instanceof PoisonMessageError || err instanceof InvalidEventError) {
        await this.terminate(msg, subject, event, errorMessage(err), payload);
      } else if (deliveries >= this.options.maxDeliver) {
        await this.terminate(msg, subject, event, `gave up after ${deliveries} deliveries; last error: ${errorMessage(err)}`, payload);
      } else {
        const delay = err instanceof TransientError && err.retryAfterMs !== undefined ? err.retryAfterMs : backoffDelayMs(deliveries, 250, 15_000);
        const line = `${subject} ${event.id} (delivery ${deliveries}): ${errorMessage(err)}; redelivering in ${delay} ms`;
        if (err instanceof TransientError) this.spec.logger.log(line);
        else this.spec.logger.error(`${line}\n${err.stack ?? ''}`);
        msg.nak(delay);
      }
    } finally {
      clearInterval(heartbeat);
    }
  }

  private async terminate(msg: JsMsg, subject: string, event: AssayEvent | null, reason: string, payload: string): Promise<void> {
    const messageId = event?.id ?? null;
    try {
      await this.spec.deadLetter({ consumer: this.durable, subject, messageId, reason, payload, event });
    } catch (error) {
      // Could not keep it: better redelivered later than lost now.
      this.spec.logger.error(`dead letter for ${subject} not recorded (${errorMessage(error)}); redelivering`);
      msg.nak(5000);
      return;
    }
    this.spec.logger.error(`dead letter on ${subject}${messageId ? ` (${messageId})` : ''}: ${reason}`);
    // No reason argument: nats-server 2.9 ignores a `+TERM <reason>` ack and would redeliver.
    msg.term();
  }

  /** Stops taking messages and waits for the ones in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.messages?.stop();
    await Promise.allSettled([...this.inflight]);
    if (this.loop) await this.loop;
  }
}
