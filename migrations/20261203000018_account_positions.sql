-- Conditional GETs on an account's pages (issue 17): how far the read models have
-- applied each account's license events, kept by the projector in the same
-- transaction as the license rows. A page's ETag is built from it, so a client
-- holding a current page is answered 304 after one index lookup instead of the
-- page's queries.
CREATE TABLE read_model.account_positions
(
    account_id       uuid PRIMARY KEY,
    -- Global position of the newest license event applied for the account.
    license_position bigint NOT NULL
);

INSERT INTO read_model.account_positions (account_id, license_position)
SELECT account_id, max(last_position) FROM read_model.licenses GROUP BY account_id;
