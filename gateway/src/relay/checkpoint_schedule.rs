//! When the active relay writes checkpoints: every `checkpoint_interval_secs`,
//! and only when events were recorded since the last one. The relay is the one
//! writer because only its leader runs at a time (it holds an advisory lock).

use std::sync::Arc;
use std::time::Duration;

use ledger_domain::keys::Keyring;
use sqlx::PgPool;
use tokio::time::Instant;

use crate::integrity::checkpoint::write_checkpoint;

/// What the relay needs to write checkpoints.
#[derive(Debug, Clone)]
pub struct CheckpointSchedule {
    /// Signs them (at least one key can sign).
    pub keyring: Arc<Keyring>,
    /// Time between two.
    pub interval: Duration,
    /// The log's name on each (`checkpoint_origin`).
    pub origin: String,
}

/// The relay's checkpoint timer; idle when no schedule is given.
#[derive(Debug)]
pub struct CheckpointTimer {
    schedule: Option<CheckpointSchedule>,
    next: Instant,
}

impl CheckpointTimer {
    /// The first checkpoint comes one interval after the relay takes the lead.
    pub fn new(schedule: Option<CheckpointSchedule>) -> Self {
        let interval = schedule.as_ref().map_or(Duration::ZERO, |s| s.interval);
        Self {
            schedule,
            next: Instant::now() + interval,
        }
    }

    /// Completes when a checkpoint is due; never without a schedule.
    pub async fn due(&self) {
        if self.schedule.is_some() {
            tokio::time::sleep_until(self.next).await;
        } else {
            std::future::pending::<()>().await;
        }
    }

    /// Writes a checkpoint when one is due. A failure is logged, not returned:
    /// publishing must go on, and the next interval tries again.
    pub async fn write_if_due(&mut self, pool: &PgPool) {
        let Some(schedule) = &self.schedule else {
            return;
        };
        if Instant::now() < self.next {
            return;
        }
        self.next = Instant::now() + schedule.interval;
        let now = chrono::Utc::now();
        match write_checkpoint(pool, &schedule.keyring, &schedule.origin, now).await {
            Ok(Some(written)) => tracing::info!(
                checkpoint = written.head.checkpoint,
                key_id = %written.head.key_id,
                tree_size = written.head.tree_size,
                root_hash = %written.head.root_hash,
                "integrity checkpoint written"
            ),
            Ok(None) => tracing::debug!("no new events since the last checkpoint"),
            Err(error) => tracing::error!(
                error = format!("{error:#}"),
                "integrity checkpoint failed; retrying after the interval"
            ),
        }
    }
}
