-- The first answer to every command sent with an `Idempotency-Key`, so a retry (to
-- any gateway, after any restart) gets that answer again instead of recording twice.
-- Not a read model: it lives outside `read_model` and a rebuild leaves it alone.
CREATE TABLE idempotency_keys (
    -- Whose key: the account the request acts on.
    scope text NOT NULL,
    idempotency_key text NOT NULL,
    -- SHA-256 of method, path and canonical body: the same key with another body is refused.
    fingerprint bytea NOT NULL,
    -- While the first request runs; a crashed request's lease runs out and a retry takes over.
    locked_until timestamptz,
    -- The answer, once there is one.
    response_status smallint,
    response_headers jsonb,
    response_body bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, idempotency_key),
    CHECK ((response_status IS NULL) = (locked_until IS NOT NULL))
);

-- For purging keys past their retention.
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
