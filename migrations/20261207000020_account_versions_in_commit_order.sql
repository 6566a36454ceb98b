-- An account's pages are versioned by the newest of its license events the read
-- models applied, compared in the stream's order, (transaction_id, global_position):
-- the order the relay publishes in and the projector applies in. The global
-- position alone is not that order: two gateways' transactions can commit in the
-- other order than their positions were drawn, so an event applied later can
-- carry the lower position, and the account's version did not move although its
-- pages did (a stale 304, a stale cached page).
ALTER TABLE read_model.account_positions
    ADD COLUMN license_transaction_id bigint NOT NULL DEFAULT 0;

-- Each account's newest applied license event, in that order: every license row
-- names the last of its events applied (last_sequence), so the account's newest is
-- the greatest (transaction_id, global_position) among those events.
UPDATE read_model.account_positions AS a
   SET (license_transaction_id, license_position) = (newest.transaction_id, newest.global_position)
  FROM (SELECT DISTINCT ON (l.account_id)
               l.account_id, e.transaction_id::text::bigint AS transaction_id, e.global_position
          FROM read_model.licenses l
          JOIN events e ON e.aggregate_type = 'License'
                       AND e.aggregate_id = l.license_id::text
                       AND e.sequence = l.last_sequence
         ORDER BY l.account_id, e.transaction_id DESC, e.global_position DESC) AS newest
 WHERE newest.account_id = a.account_id;
