-- The accounts the ledger serves, and a record of every bearer token issued (never
-- the token itself: only what it grants, so an operator can see who holds access).
-- Neither is a read model: a rebuild leaves them alone.
CREATE TABLE accounts (
    account_id uuid PRIMARY KEY,
    name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    -- The admin token's subject, or `migration` for accounts found in the store.
    created_by text NOT NULL
);

CREATE TABLE issued_tokens (
    token_id uuid PRIMARY KEY,
    -- NULL for admin tokens.
    account_id uuid REFERENCES accounts (account_id),
    role text NOT NULL,
    subject text NOT NULL,
    host text,
    issued_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    issued_by text NOT NULL,
    CHECK ((role = 'admin') = (account_id IS NULL)),
    CHECK ((role = 'license_server') = (host IS NOT NULL))
);

CREATE INDEX issued_tokens_by_account ON issued_tokens (account_id, issued_at);

-- A ledger that recorded events before accounts were kept: each account that holds
-- events becomes a known account, named after its id until an operator renames it.
INSERT INTO accounts (account_id, name, created_by)
SELECT DISTINCT (metadata ->> 'account_id')::uuid,
       'account ' || (metadata ->> 'account_id'),
       'migration'
FROM events
WHERE metadata ->> 'account_id' ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
ON CONFLICT DO NOTHING;
