-- License files. `file_issued_at` is when the allocation's current file (revision
-- `file_revision`) was issued: its ISSUED/START date, and the instant that picks
-- the key it is signed with. `file_revisions` lists every revision ever issued to
-- the allocation, oldest first, so an older file is known to be void, not unknown.
ALTER TABLE read_model.license_allocations
    ADD COLUMN file_issued_at timestamptz,
    ADD COLUMN file_revisions bigint[];

-- Existing rows, from the event store: the revision's event gives the instant; the
-- event that created the allocation, then every renewal and upgrade up to its
-- current revision, give the revisions (file_revision stops moving once an
-- allocation is no longer live).
UPDATE read_model.license_allocations a
   SET file_issued_at = (e.metadata ->> 'occurred_at')::timestamptz
  FROM events e
 WHERE e.aggregate_type = 'License'
   AND e.aggregate_id = a.license_id::text
   AND e.sequence = a.file_revision;

UPDATE read_model.license_allocations a
   SET file_revisions = issued.revisions
  FROM (SELECT x.allocation_id, array_agg(e.sequence ORDER BY e.sequence) AS revisions
          FROM read_model.license_allocations x
          JOIN LATERAL (SELECT min(c.sequence) AS sequence
                          FROM events c
                         WHERE c.aggregate_type = 'License'
                           AND c.aggregate_id = x.license_id::text
                           AND ((c.event_type = 'Allocated'
                                 AND c.payload -> 'Allocated' ->> 'allocation_id' = x.allocation_id::text)
                             OR (c.event_type = 'Modified'
                                 AND c.payload -> 'Modified' ->> 'new_allocation_id' = x.allocation_id::text))
               ) created ON true
          JOIN events e
            ON e.aggregate_type = 'License'
           AND e.aggregate_id = x.license_id::text
           AND e.sequence BETWEEN created.sequence AND x.file_revision
           AND (e.sequence = created.sequence OR e.event_type IN ('Renewed', 'Upgraded'))
         GROUP BY x.allocation_id) issued
 WHERE issued.allocation_id = a.allocation_id;

-- Only a row whose events are missing from this store is left: keep what it has.
UPDATE read_model.license_allocations SET file_issued_at = allocated_at WHERE file_issued_at IS NULL;
UPDATE read_model.license_allocations SET file_revisions = ARRAY[file_revision] WHERE file_revisions IS NULL;

ALTER TABLE read_model.license_allocations
    ALTER COLUMN file_issued_at SET NOT NULL,
    ALTER COLUMN file_revisions SET NOT NULL;
