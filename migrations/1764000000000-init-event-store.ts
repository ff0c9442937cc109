import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The append-only event log (emmett/message-db shape) plus the bookkeeping consumers need to be
 * exactly-once in effect: processed-message records, checkpoints, an outbox and dead letters.
 */
export class InitEventStore1764000000000 implements MigrationInterface {
  name = 'InitEventStore1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE events (
        global_position bigserial PRIMARY KEY,
        stream          text        NOT NULL,
        stream_position bigint      NOT NULL,
        message_id      uuid        NOT NULL,
        type            text        NOT NULL,
        schema_version  integer     NOT NULL,
        data            jsonb       NOT NULL,
        metadata        jsonb       NOT NULL,
        occurred_at     timestamptz NOT NULL,
        recorded_at     timestamptz NOT NULL DEFAULT now(),
        -- Readers stop below the oldest running transaction, so late commits are never skipped.
        transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
        CONSTRAINT events_message_id_unique UNIQUE (message_id),
        CONSTRAINT events_stream_position_unique UNIQUE (stream, stream_position)
      )`);
    await q.query(`CREATE INDEX events_transaction_position ON events (transaction_id, global_position)`);
    await q.query(`CREATE INDEX events_stream_type ON events (stream, type)`);
    await q.query(`CREATE INDEX events_type_position ON events (type, global_position)`);
    // Consumers look up one batch, or count a run's batches, without detoasting every event of the stream.
    await q.query(`CREATE INDEX events_stream_batch ON events (stream, type, (data->>'batchId'))`);
    await q.query(`CREATE INDEX events_stream_attempt_phase ON events (stream, type, (data->>'attempt'), (data->>'phase'))`);
    await q.query(`
      CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'events is append-only: % is not allowed', TG_OP;
      END $$`);
    await q.query(`CREATE TRIGGER events_no_update_delete BEFORE UPDATE OR DELETE ON events FOR EACH ROW EXECUTE FUNCTION events_append_only()`);
    await q.query(`CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events FOR EACH STATEMENT EXECUTE FUNCTION events_append_only()`);

    await q.query(`
      CREATE TABLE processed_messages (
        consumer     text        NOT NULL,
        message_id   uuid        NOT NULL,
        processed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (consumer, message_id)
      )`);
    await q.query(`
      CREATE TABLE checkpoints (
        subscription text        PRIMARY KEY,
        position     bigint      NOT NULL,
        updated_at   timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE outbox (
        global_position bigint      PRIMARY KEY REFERENCES events (global_position),
        subject         text        NOT NULL,
        created_at      timestamptz NOT NULL DEFAULT now(),
        published_at    timestamptz
      )`);
    await q.query(`CREATE INDEX outbox_unpublished ON outbox (global_position) WHERE published_at IS NULL`);
    await q.query(`
      CREATE TABLE dead_letters (
        id          bigserial   PRIMARY KEY,
        consumer    text        NOT NULL,
        subject     text        NOT NULL,
        message_id  text,
        reason      text        NOT NULL,
        payload     text        NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['dead_letters', 'outbox', 'checkpoints', 'processed_messages', 'events']) {
      await q.query(`DROP TABLE IF EXISTS ${table}`);
    }
    await q.query(`DROP FUNCTION IF EXISTS events_append_only()`);
  }
}
