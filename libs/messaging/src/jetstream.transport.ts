import { Logger, type ArgumentsHost, type RpcExceptionFilter } from '@nestjs/common';
import { CustomTransportStrategy, EventPattern, Server } from '@nestjs/microservices';
import { isObservable, lastValueFrom, throwError, type Observable } from 'rxjs';
import type { AssayEvent } from '@assay/contracts';
import type { JsMsg } from '@nats-io/jetstream';
import type { JetStreamHandle } from './connection';
import { DurableConsumerRunner, type DeadLetter } from './consumer-runner';

/** What a handler receives besides the event: for heartbeats and delivery counts. */
export class JetStreamContext {
  constructor(readonly msg: JsMsg) {}
  get deliveryCount(): number {
    return this.msg.info.deliveryCount;
  }
}

export interface JetStreamTransportOptions {
  service: string;
  /** An open connection with the event stream declared. */
  handle: JetStreamHandle;
  /** Default messages in flight per consumer; a handler may set its own with `@EventPattern(subject, { concurrency })`. */
  concurrency: number;
  deadLetter(letter: DeadLetter): Promise<void>;
}

/**
 * @nestjs/microservices has no JetStream transport: this one makes each `@EventPattern(subject)`
 * handler a durable pull consumer. Handlers receive the validated event; returning means its
 * effects committed (ack), throwing means nak with backoff (or term for poison messages).
 */
export class JetStreamTransport extends Server implements CustomTransportStrategy {
  private handle: JetStreamHandle | null = null;
  private readonly runners: DurableConsumerRunner[] = [];
  private readonly log: Logger;

  constructor(private readonly options: JetStreamTransportOptions) {
    super();
    this.log = new Logger(`${options.service}:jetstream`);
  }

  async listen(callback: (...optionalParams: unknown[]) => void): Promise<void> {
    try {
      this.handle = this.options.handle;
      for (const [subject, handler] of this.messageHandlers) {
        const concurrency = Number(handler.extras?.concurrency ?? this.options.concurrency);
        const runner = new DurableConsumerRunner(this.handle, {
          service: this.options.service,
          subject,
          concurrency,
          logger: this.log,
          deadLetter: (letter) => this.options.deadLetter(letter),
          handle: async (event: AssayEvent, msg: JsMsg) => {
            const result: unknown = await handler(event, new JetStreamContext(msg));
            if (isObservable(result)) await lastValueFrom(result as Observable<unknown>, { defaultValue: undefined });
          },
        });
        await runner.start();
        this.runners.push(runner);
        this.log.log(`consuming ${subject} as ${runner.durable} (concurrency ${concurrency})`);
      }
      callback();
    } catch (error) {
      callback(error);
    }
  }

  async close(): Promise<void> {
    // The connection belongs to the service runtime, which drains it after the app closed.
    await Promise.all(this.runners.map((r) => r.stop()));
  }

  on(): never {
    throw new Error('JetStreamTransport has no event emitter');
  }

  unwrap<T>(): T {
    if (!this.handle) throw new Error('JetStreamTransport is not connected yet');
    return this.handle as T;
  }
}

/**
 * Nest's default RPC filter replaces unknown errors with "Internal server error", which would
 * hide whether a failure is transient or poison. This one passes the original error through.
 */
export class PassThroughRpcFilter implements RpcExceptionFilter<unknown> {
  catch(exception: unknown, _host: ArgumentsHost): Observable<never> {
    return throwError(() => exception);
  }
}

/**
 * Marks an `on<Event>` handler as the consumer of one event subject. The transport has already
 * validated the payload against that subject's schema, so the handler may take the event's type.
 */
export function OnEvent(subject: string, extras?: { concurrency?: number }): MethodDecorator {
  return extras ? EventPattern<string>(subject, extras) : EventPattern<string>(subject);
}
