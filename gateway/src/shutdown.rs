//! Stopping `ledger serve` in order, within its grace period. On SIGTERM or
//! SIGINT (or when a part fails: a half-running ledger is worse than none):
//!
//! 1. the HTTP server refuses new connections and answers the requests in
//!    flight ([`crate::http::serve`]), while the relay and the projector go on
//!    carrying what those last requests record;
//! 2. then the relay and the projector are told to stop, and each finishes its
//!    batch: published, acknowledged and checkpointed; applied, committed and
//!    acknowledged. Their stall watches ([`crate::progress::watch`]) stop with
//!    them, so readiness keeps reporting a stall while the HTTP server drains.
//!
//! The process then exits 0. Past `shutdown_grace_secs` it stops waiting, names
//! what was still running, and exits non-zero.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::{Id, JoinError, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::http::in_flight::InFlight;
use crate::run::Role;

/// A long-running part of a `ledger serve` process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    /// The HTTP server: the API, or only the health probes.
    Http,
    /// Store → JetStream.
    Relay,
    /// JetStream → read models.
    Projector,
    /// Forgetting expired `Idempotency-Key` answers.
    IdempotencyPurge,
    /// Hearing the projector's notices for the page cache.
    ReadCacheListener,
    /// Measuring a role's backlog and judging whether it stalls
    /// ([`crate::progress::watch`]).
    Watch(Role),
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Http => f.write_str("the HTTP server"),
            Self::Relay => f.write_str("the relay"),
            Self::Projector => f.write_str("the projector"),
            Self::IdempotencyPurge => f.write_str("the idempotency key purge"),
            Self::ReadCacheListener => f.write_str("the page cache's notice listener"),
            Self::Watch(role) => write!(f, "the {} stall watch", role.as_str()),
        }
    }
}

/// The parts a process runs, and the order they stop in.
pub struct Parts {
    tasks: JoinSet<anyhow::Result<()>>,
    running: HashMap<Id, Part>,
    behind_http: CancellationToken,
    in_flight: Arc<InFlight>,
}

impl Parts {
    /// No parts yet; `in_flight` counts the HTTP server's requests.
    pub fn new(in_flight: Arc<InFlight>) -> Self {
        Self {
            tasks: JoinSet::new(),
            running: HashMap::new(),
            behind_http: CancellationToken::new(),
            in_flight,
        }
    }

    /// What every part but the HTTP server stops on: cancelled once the HTTP
    /// server has answered its last request.
    pub fn behind_http(&self) -> CancellationToken {
        self.behind_http.clone()
    }

    /// Runs `part`.
    pub fn spawn(
        &mut self,
        part: Part,
        task: impl Future<Output = anyhow::Result<()>> + Send + 'static,
    ) {
        let handle = self.tasks.spawn(task);
        self.running.insert(handle.id(), part);
    }

    /// Whether every part has stopped.
    pub fn all_stopped(&self) -> bool {
        self.running.is_empty()
    }

    /// Runs until `stop` is cancelled (or a part ends, which cancels it), then
    /// stops the parts in order within `grace`. The first part's failure, else
    /// the grace period running out, is the error.
    pub async fn run_until_stopped(
        &mut self,
        stop: &CancellationToken,
        grace: Duration,
    ) -> anyhow::Result<()> {
        let mut failure = None;
        tokio::select! {
            () = stop.cancelled() => {}
            Some(ended) = self.tasks.join_next_with_id() => {
                self.ended(ended, &mut failure);
                stop.cancel();
            }
        }
        tracing::info!(
            grace_secs = grace.as_secs(),
            in_flight = self.in_flight.count(),
            "stopping: no new connections; answering the requests in flight"
        );
        let deadline = Instant::now() + grace;
        while self.running.values().any(|part| *part == Part::Http) {
            self.next_ended(deadline, &mut failure).await?;
        }
        tracing::info!(
            "the HTTP server has stopped; the relay and the projector finish their batch"
        );
        self.behind_http.cancel();
        while !self.all_stopped() {
            self.next_ended(deadline, &mut failure).await?;
        }
        match failure {
            Some(error) => Err(error),
            None => {
                tracing::info!("stopped");
                Ok(())
            }
        }
    }

    /// Waits for the next part to end, until `deadline`.
    async fn next_ended(
        &mut self,
        deadline: Instant,
        failure: &mut Option<anyhow::Error>,
    ) -> anyhow::Result<()> {
        match tokio::time::timeout_at(deadline, self.tasks.join_next_with_id()).await {
            Ok(Some(ended)) => self.ended(ended, failure),
            Ok(None) => self.running.clear(),
            Err(_) => {
                let unfinished = self.unfinished();
                tracing::error!(
                    still_running = %unfinished,
                    "the shutdown grace period (shutdown_grace_secs) is over; exiting with work unfinished"
                );
                anyhow::bail!(
                    "the shutdown grace period (shutdown_grace_secs) ran out while these still ran: {unfinished}"
                );
            }
        }
        Ok(())
    }

    fn ended(
        &mut self,
        ended: Result<(Id, anyhow::Result<()>), JoinError>,
        failure: &mut Option<anyhow::Error>,
    ) {
        let (id, result) = match ended {
            Ok((id, result)) => (id, result),
            Err(error) => (error.id(), Err(anyhow::anyhow!("it panicked: {error}"))),
        };
        let part = self.running.remove(&id);
        if let Err(error) = result {
            let error = error.context(format!(
                "{} stopped",
                part.map_or_else(|| "a part".to_owned(), |part| part.to_string())
            ));
            tracing::error!(error = format!("{error:#}"), "shutting down");
            failure.get_or_insert(error);
        }
    }

    /// What is still running, e.g. `the HTTP server (requests in flight: 2), the relay`.
    fn unfinished(&self) -> String {
        let mut parts: Vec<Part> = self.running.values().copied().collect();
        parts.sort();
        let named: Vec<String> = parts
            .into_iter()
            .map(|part| match part {
                Part::Http => format!("{part} (requests in flight: {})", self.in_flight.count()),
                other => other.to_string(),
            })
            .collect();
        named.join(", ")
    }
}
