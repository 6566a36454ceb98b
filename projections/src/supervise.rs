//! Keeping a long-running loop alive: the projector here and the relay in the
//! gateway both restart after a failure (database or NATS away) with a growing
//! pause, and stop only when asked to.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// First pause after a failure; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(100);
/// An attempt that ran this long before failing counts as a fresh failure.
const HEALTHY_RUN: Duration = Duration::from_secs(60);
/// Longest pause between restarts.
const MAX_PAUSE: Duration = Duration::from_secs(5);

/// Runs `attempt` until it returns `Ok` or `shutdown` is cancelled, logging each
/// failure with `what` and pausing before the next attempt.
pub async fn restart_on_failure<F, Fut>(
    what: &str,
    shutdown: &CancellationToken,
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
