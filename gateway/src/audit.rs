//! `ledger audit`: the auditor's replay. The read models are rebuilt from the
//! event store itself (not from NATS) into a scratch schema, up to exactly the
//! event the live projector has applied last, and compared with the live tables
//! row by row while the live projector is held still.
//!
//! The stream is the store in commit order, so the live read models are the fold
//! of every event up to the live checkpoint's commit position; replaying the store
//! up to that position through the same fold must give the same rows. Anything
//! else — a row edited by hand, an event the projector set aside, a projector bug
//! — is a difference.

use anyhow::{bail, Context as _};
use ledger_projections::audit::{differences, Difference, AUDIT_SCHEMA};
use ledger_projections::consumer::{project_stored, Target, LICENSES_PROJECTION, LIVE_SCHEMA};
use ledger_projections::rebuild::create_empty_copy;
use sqlx::{PgConnection, PgPool};

use crate::event_store::{events_after, CommitPosition, Horizon};

/// Most differences listed per table and side.
const LISTED_PER_TABLE: i64 = 100;
/// Times the comparison is retried when the live projector moved meanwhile.
const ATTEMPTS: usize = 20;

/// What an audit found.
#[derive(Debug)]
pub struct AuditReport {
    /// Events replayed from the store.
    pub events: u64,
    /// The live checkpoint compared at.
    pub position: CommitPosition,
    /// Rows on one side only; none when the read models agree with the store.
    pub differences: Vec<Difference>,
}

/// Replays, compares, and drops the scratch schema.
pub async fn audit(pool: &PgPool, batch_size: usize) -> anyhow::Result<AuditReport> {
    let mut tx = pool.begin().await?;
    create_empty_copy(&mut tx, AUDIT_SCHEMA).await?;
    tx.commit().await.context("creating the audit schema")?;
    let report = replay_and_compare(pool, batch_size).await;
    let dropped = sqlx::query(&format!("DROP SCHEMA IF EXISTS {AUDIT_SCHEMA} CASCADE"))
        .execute(pool)
        .await;
    let report = report?;
    dropped.context("dropping the audit schema")?;
    Ok(report)
}

async fn replay_and_compare(pool: &PgPool, batch_size: usize) -> anyhow::Result<AuditReport> {
    let target = Target {
        schema: AUDIT_SCHEMA,
        projection: LICENSES_PROJECTION,
    };
    let mut replayed = CommitPosition::default();
    let mut events = 0;
    for _ in 0..ATTEMPTS {
        let live = live_checkpoint(&mut *pool.acquire().await?).await?;
        events += replay_until(pool, target, &mut replayed, live, batch_size).await?;
        // Hold the live projector still (it locks this row for each batch) and
        // compare, unless it moved since: then replay what it applied meanwhile.
        let mut tx = pool.begin().await?;
        sqlx::query(&format!(
            "SELECT 1 FROM {LIVE_SCHEMA}.checkpoints WHERE projection = $1 FOR UPDATE"
        ))
        .bind(LICENSES_PROJECTION)
        .execute(&mut *tx)
        .await?;
        if live_checkpoint(&mut tx).await? != live {
            tx.rollback().await?;
            continue;
        }
        let differences = differences(&mut tx, AUDIT_SCHEMA, LISTED_PER_TABLE).await?;
        tx.rollback().await?;
        return Ok(AuditReport {
            events,
            position: live,
            differences,
        });
    }
    bail!("the live projector kept moving during {ATTEMPTS} comparisons; try again")
}

async fn live_checkpoint(connection: &mut PgConnection) -> anyhow::Result<CommitPosition> {
    let found: Option<(i64, i64)> = sqlx::query_as(&format!(
        "SELECT transaction_id::text::bigint, global_position
           FROM {LIVE_SCHEMA}.checkpoints WHERE projection = $1"
    ))
    .bind(LICENSES_PROJECTION)
    .fetch_optional(&mut *connection)
    .await
    .context("reading the live checkpoint")?;
    Ok(found
        .map(|(transaction_id, global_position)| CommitPosition {
            transaction_id,
            global_position,
        })
        .unwrap_or_default())
}

/// Applies the store's events after `replayed` up to `until` to the scratch schema.
async fn replay_until(
    pool: &PgPool,
    target: Target<'_>,
    replayed: &mut CommitPosition,
    until: CommitPosition,
    batch_size: usize,
) -> anyhow::Result<u64> {
    let mut count = 0;
    while *replayed < until {
        let batch = events_after(
            &mut *pool.acquire().await?,
            *replayed,
            batch_size,
            Horizon::Settled,
            None,
            None,
        )
        .await
        .context("reading the event store")?;
        let events: Vec<_> = batch
            .events
            .into_iter()
            .take_while(|event| CommitPosition::from(event) <= until)
            .collect();
        let Some(last) = events.last() else {
            bail!("the live read models claim events the store does not have (up to {until:?})");
        };
        *replayed = CommitPosition::from(last);
        let mut tx = pool.begin().await?;
        project_stored(&mut tx, target, &events).await?;
        tx.commit().await.context("committing replayed events")?;
        count += events.len() as u64;
    }
    Ok(count)
}
