import { subjectOf, type AnyEnvelope, errorMessage } from '@assay/contracts';
import type { DataSource } from 'typeorm';
import { appendToStream, type AppendResult, type ExpectedVersion } from './append';
import { markProcessed } from './bookkeeping';
import { checkDatabaseReady, createDataSource, databaseUrl, ensureDatabase, migrate } from './database';
import { claimAndPublish, markPublished, type EventPublisher } from './outbox';
import { sqlOf, type Sql } from './sql';
import { asUnavailable } from './unavailable';

export interface StreamAppend {
  stream: string;
  expected: ExpectedVersion;
  events: AnyEnvelope[];
}

export interface StoreOptions {
  /** Default: DATABASE_URL, else the local default. */
  url?: string;
  /** When given, appended events are published after commit. */
  publisher?: EventPublisher;
  poolSize?: number;
}

export interface HandleResult {
  /** The message had been handled before: nothing was done again. */
  duplicate: boolean;
  appended: AnyEnvelope[];
}

/**
 * The Postgres event log. Postgres is the source of truth; the broker only moves work: events
 * are published after the transaction that stored them commits (outbox), never before.
 */
export class EventStore {
  private relayTimer: NodeJS.Timeout | null = null;

  private constructor(
    readonly dataSource: DataSource,
    private readonly publisher: EventPublisher | null,
  ) {}

  /** Connects, creating the database and applying migrations when needed (the services). */
  static async open(opts: StoreOptions = {}): Promise<EventStore> {
    const url = opts.url ?? databaseUrl();
    await ensureDatabase(url);
    const dataSource = createDataSource(url, opts.poolSize);
    await dataSource.initialize();
    await migrate(dataSource, url);
    return new EventStore(dataSource, opts.publisher ?? null);
  }

  /**
   * Connects to a database the services already created and migrated, and never creates or
   * migrates one (appends still work): for the CLI, where a misspelt DATABASE_URL must fail with
   * DatabaseNotReadyError instead of yielding a new empty database.
   */
  static async openExisting(opts: StoreOptions = {}): Promise<EventStore> {
    const url = opts.url ?? databaseUrl();
    await checkDatabaseReady(url);
    const dataSource = createDataSource(url, opts.poolSize);
    await dataSource.initialize();
    return new EventStore(dataSource, opts.publisher ?? null);
  }

  /** Postgres being unreachable surfaces as InfrastructureUnavailableError, so consumers wait for it instead of giving up. */
  async transaction<T>(work: (sql: Sql) => Promise<T>): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    try {
      await runner.connect();
      await runner.startTransaction();
      const result = await work(sqlOf(runner));
      await runner.commitTransaction();
      return result;
    } catch (error) {
      // A rollback on a dead connection fails too; the first error is the one that explains.
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      throw asUnavailable('Postgres', error);
    } finally {
      await runner.release();
    }
  }

  /** Reads outside a transaction. */
  async read<T>(work: (sql: Sql) => Promise<T>): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    try {
      await runner.connect();
      return await work(sqlOf(runner));
    } catch (error) {
      throw asUnavailable('Postgres', error);
    } finally {
      await runner.release();
    }
  }

  /** Appends outside any consumer (e.g. a command), then publishes after commit. */
  async append(appends: StreamAppend[]): Promise<AppendResult[]> {
    const results = await this.transaction((sql) => Promise.all(appends.map((a) => appendToStream(sql, a.stream, a.events, a.expected))));
    await this.publishAfterCommit(appends, results);
    return results;
  }

  /**
   * A command's read-decide-append outside any consumer (e.g. a cancel): `decide` reads what it
   * needs and says what to append, all in one transaction (take the stream's lock first); the
   * events are published after commit.
   */
  async decideAndAppend<T>(decide: (sql: Sql) => Promise<{ appends: StreamAppend[]; result: T }>): Promise<T> {
    const outcome = await this.transaction(async (sql) => {
      const decided = await decide(sql);
      const results: AppendResult[] = [];
      for (const a of decided.appends) results.push(await appendToStream(sql, a.stream, a.events, a.expected));
      return { ...decided, results };
    });
    await this.publishAfterCommit(outcome.appends, outcome.results);
    return outcome.result;
  }

  /**
   * Runs a consumer's effects exactly once per message: the processed-message record, the
   * events it appends and anything else `effects` writes commit together; the events are
   * published after commit. A redelivered message that was already handled does nothing.
   */
  async handle(consumer: string, messageId: string, effects: (sql: Sql) => Promise<StreamAppend[]>): Promise<HandleResult> {
    const [result] = await this.handleEach(consumer, [messageId], (sql) => effects(sql));
    return result;
  }

  /**
   * handle() for several messages in one transaction (group commit: one lock, one commit for
   * messages that wait on the same stream): for each message in order, its processed-message
   * record and then its effects and appends, which see those of the messages before it. A
   * message already handled (before, or earlier in the same group) is skipped. One commit for
   * all: if anything fails, nothing of any message is stored, and every message fails.
   */
  async handleEach(consumer: string, messageIds: readonly string[], effects: (sql: Sql, index: number) => Promise<StreamAppend[]>): Promise<HandleResult[]> {
    const outcomes = await this.transaction(async (sql) => {
      const handled: Array<{ appends: StreamAppend[]; results: AppendResult[] } | null> = [];
      for (const [index, messageId] of messageIds.entries()) {
        if (!(await markProcessed(sql, consumer, messageId))) {
          handled.push(null);
          continue;
        }
        const appends = await effects(sql, index);
        // Sequential: appends to one stream in one transaction must see each other's positions.
        const results: AppendResult[] = [];
        for (const a of appends) results.push(await appendToStream(sql, a.stream, a.events, a.expected));
        handled.push({ appends, results });
      }
      return handled;
    });
    const stored = outcomes.filter((o) => o !== null);
    await this.publishAfterCommit(
      stored.flatMap((o) => o.appends),
      stored.flatMap((o) => o.results),
    );
    return outcomes.map((o) => (o ? { duplicate: false, appended: o.appends.flatMap((a) => a.events) } : { duplicate: true, appended: [] }));
  }

  private async publishAfterCommit(appends: StreamAppend[], results: AppendResult[]): Promise<void> {
    if (!this.publisher) return;
    const published: bigint[] = [];
    for (let i = 0; i < appends.length; i++) {
      if (results[i].alreadyAppended) continue;
      for (const [j, event] of appends[i].events.entries()) {
        // Committed already: if NATS is down the outbox relay publishes it later.
        await this.publisher.publish(subjectOf(event.type, event.schemaVersion), event).catch((error: unknown) => {
          throw asUnavailable('NATS', error);
        });
        published.push(results[i].globalPositions[j]);
      }
    }
    if (published.length > 0) await this.transaction((sql) => markPublished(sql, published));
  }

  /** Periodically publishes what a crashed writer left in the outbox. */
  startOutboxRelay(intervalMs = 2000, olderThanMs = 5000): void {
    if (!this.publisher || this.relayTimer) return;
    const publisher = this.publisher;
    const tick = async () => {
      try {
        while ((await this.transaction((sql) => claimAndPublish(sql, publisher, { olderThanMs, limit: 200 }))) === 200);
      } catch (error) {
        // The relay retries on its next tick; the failure is logged, not hidden.
        console.error(`[outbox] relay failed, will retry: ${errorMessage(error)}`);
      }
      if (this.relayTimer) this.relayTimer = setTimeout(tick, intervalMs);
    };
    this.relayTimer = setTimeout(tick, intervalMs);
  }

  async close(): Promise<void> {
    if (this.relayTimer) clearTimeout(this.relayTimer);
    this.relayTimer = null;
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}
