//! The relay's backlog: committed events after the relay's checkpoint, and when
//! the first of them (in commit order) was recorded. Read by the progress watch
//! of any process running the relay role, leader or standby.

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use ledger_projections::lag::Backlog;
use sqlx::PgPool;

use super::RELAY_NAME;

/// The events the relay has yet to publish, measured now.
pub async fn backlog(pool: &PgPool) -> anyhow::Result<Backlog> {
    // `count(*)` reads only the commit-order index; the oldest event is its first
    // entry. Events held back by a running transaction count: they wait too.
    let (position, events, oldest): (i64, i64, Option<DateTime<Utc>>) = sqlx::query_as(
        "WITH published AS (
             SELECT coalesce(max(transaction_id::text::bigint), 0) AS transaction_id,
                    coalesce(max(global_position), 0) AS global_position
               FROM relay_checkpoints WHERE relay = $1)
         SELECT p.global_position,
                (SELECT count(*) FROM public.events e
                  WHERE (e.transaction_id, e.global_position)
                        > (p.transaction_id::text::xid8, p.global_position)),
                (SELECT e.recorded_at FROM public.events e
                  WHERE (e.transaction_id, e.global_position)
                        > (p.transaction_id::text::xid8, p.global_position)
                  ORDER BY e.transaction_id, e.global_position LIMIT 1)
           FROM published p",
    )
    .bind(RELAY_NAME)
    .fetch_one(pool)
    .await
    .context("measuring the relay's backlog")?;
    Ok(Backlog {
        position: u64::try_from(position).unwrap_or(0),
        events: u64::try_from(events).unwrap_or(0),
        oldest,
    })
}
