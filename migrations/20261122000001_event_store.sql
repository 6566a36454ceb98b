-- The event store. Columns up to `metadata` are exactly what postgres-es writes
-- (it names its insert columns); the rest are filled by defaults.
CREATE TABLE events
(
    aggregate_type  text                         NOT NULL,
    aggregate_id    text                         NOT NULL,
    sequence        bigint CHECK (sequence >= 0) NOT NULL,
    event_type      text                         NOT NULL,
    event_version   text                         NOT NULL,
    payload         json                         NOT NULL,
    metadata        json                         NOT NULL,
    -- Order of insertion across all streams. Not commit order: see transaction_id.
    global_position bigint GENERATED ALWAYS AS IDENTITY,
    -- The writing transaction. The relay reads in (transaction_id, global_position)
    -- order below the oldest transaction still running, so it can never skip an
    -- event whose transaction commits late.
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);

CREATE UNIQUE INDEX events_global_position ON events (global_position);
CREATE INDEX events_commit_order ON events (transaction_id, global_position);

-- Events are facts: once written they are never changed or removed.
CREATE FUNCTION events_are_append_only() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    RAISE EXCEPTION 'events are append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER events_append_only_rows
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_are_append_only();
CREATE TRIGGER events_append_only_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_are_append_only();

-- Wakes the relay when a transaction that wrote events commits (NOTIFY is
-- delivered at commit, and one per statement is enough to wake it).
CREATE FUNCTION notify_events_written() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    PERFORM pg_notify('ledger_events', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER events_notify
    AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION notify_events_written();

-- Where the relay has published up to, in commit order.
CREATE TABLE relay_checkpoints
(
    relay           text PRIMARY KEY,
    transaction_id  xid8        NOT NULL,
    global_position bigint      NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
