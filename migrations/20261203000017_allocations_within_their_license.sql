-- An allocation is named within its license: every route reaches it under its
-- license, and a client may choose its id. Keyed by the id alone, two licenses
-- given the same allocation id wrote one row (the second license's events
-- overwrote the first's allocation), and a projector or replay batch holding both
-- failed ("ON CONFLICT DO UPDATE command cannot affect row a second time").
DO $$
DECLARE
    primary_key text;
BEGIN
    -- Found by kind, not by name: a rebuild's swap may have renamed the schema
    -- the table was created in.
    SELECT conname INTO primary_key
      FROM pg_constraint
     WHERE conrelid = 'read_model.license_allocations'::regclass AND contype = 'p';
    EXECUTE format('ALTER TABLE read_model.license_allocations DROP CONSTRAINT %I', primary_key);
END $$;
ALTER TABLE read_model.license_allocations ADD PRIMARY KEY (license_id, allocation_id);
-- The key's first column serves every lookup by license.
DROP INDEX IF EXISTS read_model.license_allocations_license;
