//! Keeping a long-running loop alive: the projector here and the relay in the
//! gateway both restart after a failure (database or NATS away) with a growing
//! pause, and stop only when asked to. The last failure is kept, so that what
//! reports a stalled loop can say why it stalls.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

/// First pause after a failure; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(100);
/// An attempt that ran this long before failing counts as a fresh failure.
const HEALTHY_RUN: Duration = Duration::from_secs(60);
/// Longest pause between restarts. It bounds how long a loop stays down after its
/// engine is back: with 5 s, a PostgreSQL crash recovery of about 2 s cost 6.3 s
/// (0.1 + 0.2 + … + 3.2 s of pauses) before the loops ran again. A retry a second
/// against an engine that is away costs it nothing.
const MAX_PAUSE: Duration = Duration::from_secs(1);

/// A loop's failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// When it failed.
    pub at: DateTime<Utc>,
    /// The error with every cause.
    pub error: String,
}

/// The last failure of a loop, shared with what reports on it.
#[derive(Debug, Clone, Default)]
pub struct LastFailure(Arc<Mutex<Option<Failure>>>);

impl LastFailure {
    /// Keeps `error` as the last failure, at `at`.
    pub fn record(&self, at: DateTime<Utc>, error: &anyhow::Error) {
        *self.lock() = Some(Failure {
            at,
            error: format!("{error:#}"),
        });
    }

    /// The last failure, if the loop ever failed.
    pub fn get(&self) -> Option<Failure> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Failure>> {
        // A panic while holding the lock leaves a value that is still whole.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Runs `attempt` until it returns `Ok` or `shutdown` is cancelled, logging each
/// failure with `what`, keeping it in `last_failure`, and pausing before the next
/// attempt.
pub async fn restart_on_failure<F, Fut>(
    what: &str,
    shutdown: &CancellationToken,
    last_failure: &LastFailure,
    mut attempt: F,
) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let mut pause = FIRST_PAUSE;
    while !shutdown.is_cancelled() {
        let started = tokio::time::Instant::now();
        match attempt().await {
            Ok(()) => return Ok(()),
            Err(error) => {
                // A loop that ran well for a while failed afresh: start small again.
                if started.elapsed() > HEALTHY_RUN {
                    pause = FIRST_PAUSE;
                }
                tracing::error!(error = format!("{error:#}"), "{what} failed; restarting");
                last_failure.record(Utc::now(), &error);
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    () = tokio::time::sleep(pause) => {}
                }
                pause = (pause * 2).min(MAX_PAUSE);
            }
        }
    }
    Ok(())
}
