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
use ledger_projections::audit::{
    differences, drop_scratch, hold_live_projector, live_checkpoint, Difference, AUDIT_SCHEMA,
};
use ledger_projections::consumer::{Target, LICENSES_PROJECTION};
use ledger_projections::rebuild::create_empty_copy;
use sqlx::{PgConnection, PgPool};

use crate::write::event_store::CommitPosition;
use crate::write::replay::{Replay, Until};

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
    let dropped = drop_scratch(pool).await;
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
        let live = live_position(&mut *pool.acquire().await?).await?;
        let replay = Replay {
            target,
            account: None,
            until: Until::Position(live),
            batch_size,
        };
        let mut tx = pool.begin().await?;
        events += replay.run(&mut tx, &mut replayed).await?;
        tx.commit().await.context("committing replayed events")?;
        // Hold the live projector still and compare, unless it moved since: then
        // replay what it applied meanwhile.
        let mut tx = pool.begin().await?;
        hold_live_projector(&mut tx)
            .await
            .context("holding the live projector")?;
        if live_position(&mut tx).await? != live {
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

async fn live_position(connection: &mut PgConnection) -> anyhow::Result<CommitPosition> {
    let (transaction_id, global_position) = live_checkpoint(connection)
        .await
        .context("reading the live checkpoint")?;
    Ok(CommitPosition {
        transaction_id,
        global_position,
    })
}
