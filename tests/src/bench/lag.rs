//! Projection lag: how long after a command's answer the read model shows its
//! event. A sampler reads the projector's checkpoint (commit-order pair) every
//! couple of milliseconds; each answered position is matched, afterwards, with the
//! first sample that covers it. Read from PostgreSQL directly so that the
//! measurement does not depend on the gateway's own waiting.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::stats::Samples;

/// How often the checkpoint is read.
const SAMPLE_EVERY: Duration = Duration::from_millis(2);

/// A commit-order pair `(transaction id, global position)` applied by then.
type Sample = (Instant, (i64, i64));

/// A running sampler of one projection's checkpoint.
pub struct CheckpointSampler {
    stop: Arc<AtomicBool>,
    latest: watch::Receiver<(i64, i64)>,
    task: JoinHandle<anyhow::Result<Vec<Sample>>>,
}

impl CheckpointSampler {
    /// Starts reading `projection`'s checkpoint.
    pub fn start(pool: PgPool, projection: &'static str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let (publish, latest) = watch::channel((0, 0));
        let task = tokio::spawn(async move {
            let mut samples = Vec::new();
            while !stopped.load(Ordering::Relaxed) {
                let applied: Option<(i64, i64)> = sqlx::query_as(
                    "SELECT transaction_id::text::bigint, global_position
                       FROM read_model.checkpoints WHERE projection = $1",
                )
                .bind(projection)
                .fetch_optional(&pool)
                .await?;
                // Stamped after the read: the read model showed this by then.
                let applied = applied.unwrap_or((0, 0));
                samples.push((Instant::now(), applied));
                publish.send_replace(applied);
                tokio::time::sleep(SAMPLE_EVERY).await;
            }
            Ok(samples)
        });
        Self { stop, latest, task }
    }

    /// Waits (up to `timeout`) until every answer `(answered at, position)` is
    /// applied, stops, and returns for each the time until the checkpoint covered
    /// its position. An answer never covered counts as an error.
    pub async fn lags(
        mut self,
        pool: &PgPool,
        answered: &[(Instant, i64)],
        timeout: Duration,
    ) -> anyhow::Result<Samples> {
        let positions: Vec<i64> = answered.iter().map(|(_, position)| *position).collect();
        let commit_order: std::collections::HashMap<i64, i64> = sqlx::query_as::<_, (i64, i64)>(
            "SELECT global_position, transaction_id::text::bigint
               FROM events WHERE global_position = ANY($1)",
        )
        .bind(&positions)
        .fetch_all(pool)
        .await?
        .into_iter()
        .collect();
        if let Some(last) = commit_order.iter().map(|(p, t)| (*t, *p)).max() {
            // Not reached in time: those answers count as errors below.
            let _ = tokio::time::timeout(timeout, self.latest.wait_for(|applied| *applied >= last))
                .await;
        }
        self.stop.store(true, Ordering::Relaxed);
        let samples = self.task.await.context("the sampler panicked")??;
        let mut lags = Samples::default();
        for (at, position) in answered {
            let Some(transaction) = commit_order.get(position) else {
                lags.record_error();
                continue;
            };
            let target = (*transaction, *position);
            // The checkpoint only moves forward, so the samples are sorted by pair.
            let first = samples.partition_point(|(_, applied)| *applied < target);
            match samples.get(first) {
                Some((seen, _)) => lags.record(seen.saturating_duration_since(*at)),
                None => lags.record_error(),
            }
        }
        Ok(lags)
    }
}
