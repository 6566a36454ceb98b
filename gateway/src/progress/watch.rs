//! The loop that keeps a role's progress up to date: it measures the role's
//! backlog every second, judges whether the role is stalled, and says so where an
//! operator looks — readiness (a blocker naming the cause) and one log line when
//! the stall begins and one when it ends. Metrics and `/health/status` read the
//! same measurement.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use ledger_projections::lag::Backlog;
use tokio_util::sync::CancellationToken;

use super::{RoleProgress, Verdict};
use crate::readiness::Blockers;
use crate::run::Role;

/// Time between two measurements.
const EVERY: Duration = Duration::from_secs(1);
/// The pause after a measurement lasts at least this many times what it took, so
/// measuring never takes more than 2% of the time: counting a backlog of a
/// million events takes tens of milliseconds, and the role catching up needs the
/// machine more than the watch does.
const PAUSE_PER_MEASURING: u32 = 50;

/// How readiness names a stalled role.
pub fn blocker(role: Role) -> &'static str {
    match role {
        Role::Gateway => "gateway stalled",
        Role::Relay => "relay stalled",
        Role::Projector => "projector stalled",
    }
}

/// Measures `progress`'s backlog with `measure` until `shutdown`, and reports a
/// stall of more than `stall_after` in `blockers` and the log.
pub async fn watch<F, Fut>(
    progress: Arc<RoleProgress>,
    blockers: Arc<Blockers>,
    stall_after: Duration,
    shutdown: CancellationToken,
    mut measure: F,
) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Backlog>>,
{
    let role = progress.role();
    let part = blocker(role);
    let mut measuring_failed = false;
    while !shutdown.is_cancelled() {
        let started = tokio::time::Instant::now();
        match measure().await {
            Ok(backlog) => {
                progress.record(backlog, Utc::now());
                measuring_failed = false;
            }
            // What was measured last stands; the role's own loop logs the outage.
            Err(error) if !measuring_failed => {
                tracing::warn!(
                    role = role.as_str(),
                    error = format!("{error:#}"),
                    "cannot measure the backlog; judging by the last measurement"
                );
                measuring_failed = true;
            }
            Err(_) => {}
        }
        let took = started.elapsed();
        match progress.judge(Utc::now(), stall_after) {
            Verdict::Fine => {}
            Verdict::Stalled(reason) => {
                tracing::error!(role = role.as_str(), "{part}: {reason}");
                blockers.set(part, reason);
            }
            Verdict::StillStalled(reason) => blockers.set(part, reason),
            Verdict::Recovered => {
                tracing::info!(role = role.as_str(), "{} advancing again", role.as_str());
                blockers.clear(part);
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = tokio::time::sleep(EVERY.max(took * PAUSE_PER_MEASURING)) => {}
        }
    }
    blockers.clear(part);
    Ok(())
}
