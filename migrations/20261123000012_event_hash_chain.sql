-- Tamper evidence (DESIGN.md decision 8), part one: every event carries a SHA-256
-- over its content and the previous event's hash in the same stream, computed by
-- the database as the event is inserted, whoever inserts it. An auditor recomputes
-- the chains (`ledger verify history`): an altered event breaks its own hash, a
-- removed or reordered one breaks the chain. Signed checkpoints over the stream
-- heads (part two) pin the chains so they cannot be rewritten wholesale.
--
-- The hashed form, byte for byte (documented in the README so anyone can check it):
--   previous hash (32 bytes, none for sequence 1) followed by the UTF-8 text
--   aggregate_type LF aggregate_id LF sequence LF event_type LF event_version LF
--   payload LF metadata LF global_position LF recorded_at
-- where payload and metadata are the stored JSON text exactly as kept (the `json`
-- type keeps its input text), numbers are decimal, and recorded_at is UTC as
-- YYYY-MM-DDTHH:MM:SS.ffffffZ.
CREATE FUNCTION event_hash(
    previous bytea, aggregate_type text, aggregate_id text, sequence bigint,
    event_type text, event_version text, payload json, metadata json,
    global_position bigint, recorded_at timestamptz
) RETURNS bytea
    LANGUAGE sql STABLE AS
$$
SELECT sha256(coalesce(previous, ''::bytea) || convert_to(concat_ws(E'\n',
    aggregate_type, aggregate_id, sequence::text, event_type, event_version,
    payload::text, metadata::text, global_position::text,
    to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')), 'UTF8'))
$$;

ALTER TABLE events ADD COLUMN hash bytea;

-- Events already stored are chained as they are now, stream by stream in sequence
-- order (the append-only rule is lifted for this one migration only).
ALTER TABLE events DISABLE TRIGGER events_append_only_rows;
DO
$$
DECLARE
    at_sequence bigint := 1;
    top bigint;
BEGIN
    SELECT max(sequence) INTO top FROM events;
    WHILE at_sequence <= coalesce(top, 0) LOOP
        UPDATE events e
           SET hash = event_hash(
               (SELECT p.hash FROM events p
                 WHERE p.aggregate_type = e.aggregate_type AND p.aggregate_id = e.aggregate_id
                   AND p.sequence = e.sequence - 1),
               e.aggregate_type, e.aggregate_id, e.sequence, e.event_type, e.event_version,
               e.payload, e.metadata, e.global_position, e.recorded_at)
         WHERE e.sequence = at_sequence;
        at_sequence := at_sequence + 1;
    END LOOP;
END
$$;
ALTER TABLE events ENABLE TRIGGER events_append_only_rows;

CREATE FUNCTION events_chain_hash() RETURNS trigger
    LANGUAGE plpgsql AS
$$
DECLARE
    previous bytea;
BEGIN
    SELECT hash INTO previous FROM events
     WHERE aggregate_type = NEW.aggregate_type AND aggregate_id = NEW.aggregate_id
       AND sequence = NEW.sequence - 1;
    NEW.hash := event_hash(previous, NEW.aggregate_type, NEW.aggregate_id, NEW.sequence,
        NEW.event_type, NEW.event_version, NEW.payload, NEW.metadata,
        NEW.global_position, NEW.recorded_at);
    RETURN NEW;
END
$$;

CREATE TRIGGER events_hash_chain
    BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION events_chain_hash();

ALTER TABLE events ALTER COLUMN hash SET NOT NULL;
