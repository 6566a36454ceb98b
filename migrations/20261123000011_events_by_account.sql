-- An account's history in commit order, for auditors' exports: without it every
-- export would read the whole store.
CREATE INDEX events_account_commit_order
    ON events ((metadata->>'account_id'), transaction_id, global_position);
