-- Daily peaks reported by license servers: the latest report per account, server,
-- day and feature. "Installed" is not stored: the overdraft query computes it from
-- the allocations live at the end of that day.
CREATE TABLE read_model.server_usage
(
    account_id  uuid        NOT NULL,
    host        text        NOT NULL,
    day         date        NOT NULL,
    feature     text        NOT NULL,
    peak_in_use integer     NOT NULL CHECK (peak_in_use >= 0),
    -- The usage stream's sequence of the report this peak came from.
    revision    bigint      NOT NULL,
    reported_at timestamptz NOT NULL,
    PRIMARY KEY (account_id, day, host, feature)
);

CREATE INDEX license_allocations_host_history
    ON read_model.license_allocations (account_id, host, allocated_at);
