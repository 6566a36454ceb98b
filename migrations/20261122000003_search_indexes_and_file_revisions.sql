-- Indexes for "find a license by…" and the portal's filters at a million licenses:
-- each search is one account's, so every index leads with account_id.
CREATE INDEX licenses_account_order_number
    ON read_model.licenses (account_id, order_number text_pattern_ops, license_id);
CREATE INDEX licenses_account_access_code
    ON read_model.licenses (account_id, access_code text_pattern_ops, license_id);
CREATE INDEX licenses_account_product ON read_model.licenses (account_id, product, license_id);
CREATE INDEX licenses_account_feature ON read_model.licenses (account_id, feature, license_id);
CREATE INDEX licenses_account_quantity ON read_model.licenses (account_id, quantity, license_id);
CREATE INDEX licenses_account_expiry_order
    ON read_model.licenses (account_id, (COALESCE(expires_on, DATE '9999-12-31')), license_id);
DROP INDEX read_model.licenses_account_purchased;
CREATE INDEX licenses_account_purchased
    ON read_model.licenses (account_id, purchased_at DESC, license_id DESC);
CREATE INDEX license_allocations_live_host
    ON read_model.license_allocations (account_id, host, license_id) WHERE status = 'live';

-- The license's version at which an allocation's current file was issued: set when
-- the allocation is made, bumped when a renewal or upgrade re-issues live files.
ALTER TABLE read_model.license_allocations
    ADD COLUMN file_revision bigint NOT NULL DEFAULT 0;
