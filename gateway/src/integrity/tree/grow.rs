//! Growing the tree: the active relay appends every settled event, in commit
//! order, as a leaf (O(log n) hashes a leaf), and stores what each append
//! completed in one transaction a batch. It starts wherever the stored tree ends,
//! so on a store that had events before the tree existed the same loop is the
//! backfill, and it runs beside publishing. A log that cannot grow (its rows
//! damaged, say) never stops publishing: readiness names it instead.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use ledger_domain::transparency::merkle::{leaf_hash, Frontier, Hash};
use sqlx::{Connection as _, PgPool};
use tokio_util::sync::CancellationToken;

use super::store;
use crate::readiness::Blockers;
use crate::write::event_store::CommitPosition;

/// The tree in memory as far as it is stored, and where in commit order it ends.
pub struct Grower {
    frontier: Frontier,
    position: CommitPosition,
}

impl Grower {
    /// The stored tree, read back.
    pub async fn resume(pool: &PgPool) -> anyhow::Result<Self> {
        let mut connection = pool
            .acquire()
            .await
            .context("connecting to grow the tree")?;
        let size = store::size(&mut connection)
            .await
            .context("reading the tree's size")?;
        let frontier = store::frontier(&mut connection, size).await?;
        let position = store::last_leaf_position(&mut connection)
            .await
            .context("reading where the tree ends")?;
        Ok(Self { frontier, position })
    }

    /// Leaves in the tree.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// Appends up to `batch_size` settled events; returns how many.
    pub async fn step(&mut self, pool: &PgPool, batch_size: usize) -> anyhow::Result<usize> {
        let mut connection = pool
            .acquire()
            .await
            .context("connecting to grow the tree")?;
        let events = store::events_after(&mut connection, self.position, batch_size)
            .await
            .context("reading events for the tree")?;
        let settled: Vec<_> = events.into_iter().take_while(|e| e.settled).collect();
        let Some(last) = settled.last() else {
            return Ok(0);
        };
        let last = CommitPosition {
            transaction_id: last.transaction_id,
            global_position: last.global_position,
        };
        // Appended to a copy: if storing fails, the tree in memory is still the stored one.
        let mut grown = self.frontier.clone();
        let mut completed = Vec::with_capacity(settled.len() * 2);
        let mut positions = Vec::with_capacity(settled.len());
        for event in &settled {
            let hash = Hash::try_from(event.hash.as_slice()).map_err(|_| {
                anyhow::anyhow!(
                    "the event at global position {} has a hash of {} bytes, not 32",
                    event.global_position,
                    event.hash.len()
                )
            })?;
            completed.extend(grown.append(leaf_hash(&hash)));
            positions.push(event.global_position);
        }
        let mut tx = connection
            .begin()
            .await
            .context("beginning a tree append")?;
        store::append(&mut tx, self.frontier.size(), &positions, &completed)
            .await
            .context("storing the tree's new leaves")?;
        tx.commit().await.context("committing a tree append")?;
        self.frontier = grown;
        self.position = last;
        Ok(settled.len())
    }
}

/// How the log names itself in readiness.
pub const PART: &str = "transparency log";
/// How long growing waits after a failure before it reads the stored tree again
/// (short, so the log follows the database back within a second of its restart).
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// Grows the tree until `shutdown`: at once while it finds full batches, else
/// every `poll_interval`. A failure does not stop publishing: it is logged and
/// named in readiness (`blockers`), and growing starts over from the stored tree
/// after a pause.
pub async fn grow(
    pool: PgPool,
    batch_size: usize,
    poll_interval: Duration,
    blockers: Arc<Blockers>,
    shutdown: CancellationToken,
) {
    loop {
        let error =
            match grow_from_stored(&pool, batch_size, poll_interval, &blockers, &shutdown).await {
                Ok(()) => return,
                Err(error) => error,
            };
        let reason = format!(
            "not growing, retrying every {} s: {error:#}",
            RETRY_PAUSE.as_secs()
        );
        tracing::error!(
            error = format!("{error:#}"),
            "the transparency log is not growing"
        );
        blockers.set(PART, reason);
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(RETRY_PAUSE) => {}
        }
    }
}

async fn grow_from_stored(
    pool: &PgPool,
    batch_size: usize,
    poll_interval: Duration,
    blockers: &Blockers,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let mut grower = Grower::resume(pool).await?;
    tracing::info!(size = grower.size(), "transparency log resuming");
    loop {
        let appended = grower.step(pool, batch_size).await?;
        blockers.clear(PART);
        if appended == batch_size && !shutdown.is_cancelled() {
            continue;
        }
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(poll_interval) => {}
        }
    }
}
