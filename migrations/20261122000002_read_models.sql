-- Read models live in their own schema, owned by the projections crate. A rebuild
-- fills a fresh schema from the stream and swaps it in.
CREATE SCHEMA read_model;

-- How far each projection has applied the stream, committed with its rows.
CREATE TABLE read_model.checkpoints
(
    projection      text PRIMARY KEY,
    stream_sequence bigint      NOT NULL,
    transaction_id  xid8        NOT NULL,
    global_position bigint      NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- One row per license.
CREATE TABLE read_model.licenses
(
    license_id         uuid PRIMARY KEY,
    account_id         uuid        NOT NULL,
    product            text        NOT NULL,
    edition            text        NOT NULL,
    version            text        NOT NULL,
    license_model      text        NOT NULL,
    binding_type       text        NOT NULL,
    feature            text        NOT NULL,
    quantity           integer     NOT NULL CHECK (quantity >= 1),
    allocated          integer     NOT NULL CHECK (allocated >= 0 AND allocated <= quantity),
    expires_on         date,
    maintenance_until  date        NOT NULL,
    order_number       text        NOT NULL,
    access_code        text        NOT NULL,
    trial              boolean     NOT NULL,
    partial_allocation boolean     NOT NULL,
    hidden             boolean     NOT NULL,
    purchased_at       timestamptz NOT NULL,
    activated_at       timestamptz,
    -- The aggregate sequence last applied: the license's version.
    last_sequence      bigint      NOT NULL,
    last_position      bigint      NOT NULL,
    updated_at         timestamptz NOT NULL
);

CREATE INDEX licenses_account_purchased ON read_model.licenses (account_id, purchased_at DESC);
CREATE INDEX licenses_account_expiry ON read_model.licenses (account_id, expires_on)
    WHERE expires_on IS NOT NULL;

-- Every allocation ever made; live ones have a valid license file.
CREATE TABLE read_model.license_allocations
(
    allocation_id uuid PRIMARY KEY,
    license_id    uuid        NOT NULL,
    account_id    uuid        NOT NULL,
    host          text        NOT NULL,
    quantity      integer     NOT NULL CHECK (quantity >= 1),
    status        text        NOT NULL CHECK (status IN ('live', 'moved', 'returned')),
    replaced_by   uuid,
    allocated_at  timestamptz NOT NULL,
    ended_at      timestamptz
);

CREATE INDEX license_allocations_license ON read_model.license_allocations (license_id);
CREATE INDEX license_allocations_host ON read_model.license_allocations (account_id, host);

-- Messages a projection could not read (not ours, or from a newer writer). Kept, not
-- silently dropped, so an operator can look at them.
CREATE TABLE read_model.rejected_messages
(
    projection      text        NOT NULL,
    stream_sequence bigint      NOT NULL,
    subject         text        NOT NULL,
    reason          text        NOT NULL,
    headers         jsonb       NOT NULL,
    payload         text        NOT NULL,
    rejected_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, stream_sequence)
);
