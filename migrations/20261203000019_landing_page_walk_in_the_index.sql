-- The landing page at a million licenses (issue 17): its expiring section walks an
-- account's purchases newest first until five expire within 90 days (about a
-- hundred entries at 10,000 licenses an account). The index it walks now carries
-- the expiry and the hidden flag, so the walk reads the index alone (an
-- index-only scan where the visibility map allows) and only the five licenses
-- picked are read from the table. Same key as before: the list's newest-first
-- pages and the page version keep using it.
DROP INDEX read_model.licenses_account_purchased;
CREATE INDEX licenses_account_purchased
    ON read_model.licenses (account_id, purchased_at DESC, license_id DESC)
    INCLUDE (expires_on, hidden);
