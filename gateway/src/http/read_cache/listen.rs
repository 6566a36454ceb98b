//! Hearing the projector's notices for the gateway's page cache: connect (a
//! gateway without the projector has no NATS connection of its own), subscribe,
//! read where the projector's last batch ended, then hand each notice to the
//! cache; start over whenever the connection or the subscription is lost.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use futures::StreamExt as _;
use ledger_projections::applied::{notice_subject, AppliedNotice};
use ledger_projections::consumer::LICENSES_PROJECTION;
use ledger_projections::lag::applied_sequence;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use super::ReadCache;
use crate::nats::Disconnects;

/// Pause before subscribing again after a failure.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The NATS connection notices come over.
pub enum Connection {
    /// The process's own (it runs the relay or the projector too), and its losses.
    Shared(async_nats::Client, Disconnects),
    /// One to make for the cache, to this URL: a gateway serves without NATS,
    /// reading every page from the database until it connects.
    Own(String),
}

/// Feeds `cache` with the notices of the licenses projection, named after the
/// stream's `subject_prefix`, until `shutdown`. Failures never end it: the cache
/// serves nothing while it is deaf, and the log says why.
pub async fn listen(
    cache: Arc<ReadCache>,
    connection: Connection,
    subject_prefix: String,
    pool: PgPool,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let subject = notice_subject(&subject_prefix, LICENSES_PROJECTION);
    let (client, disconnects) = match connection {
        Connection::Shared(client, disconnects) => (client, disconnects),
        Connection::Own(url) => loop {
            match crate::nats::connect_watched(&url).await {
                Ok(connected) => break connected,
                Err(error) => tracing::warn!(
                    error = format!("{error:#}"),
                    "the page cache cannot reach NATS: pages are read from the database until it can"
                ),
            }
            if !paused(&shutdown).await {
                return Ok(());
            }
        },
    };
    loop {
        let outcome = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            outcome = hear(&cache, &client, &disconnects, &pool, &subject) => outcome,
        };
        cache.deaf();
        match outcome {
            Ok(()) => {
                tracing::warn!(%subject, "lost the NATS connection: pages are read from the database until notices are heard again")
            }
            Err(error) => {
                tracing::warn!(%subject, error = format!("{error:#}"), "not hearing applied notices: pages are read from the database until they are")
            }
        }
        if !paused(&shutdown).await {
            return Ok(());
        }
    }
}

/// Waits [`RETRY_AFTER`]; false if `shutdown` came first.
async fn paused(shutdown: &CancellationToken) -> bool {
    tokio::select! {
        () = shutdown.cancelled() => false,
        () = tokio::time::sleep(RETRY_AFTER) => true,
    }
}

/// One subscription's life: returns when the connection was lost (`Ok`) or the
/// subscription could not be made or ended (`Err`).
async fn hear(
    cache: &ReadCache,
    client: &async_nats::Client,
    disconnects: &Disconnects,
    pool: &PgPool,
    subject: &str,
) -> anyhow::Result<()> {
    let losses = disconnects.seen();
    if client.connection_state() != async_nats::connection::State::Connected {
        // Subscribing now would only queue until the connection is back.
        anyhow::bail!("the NATS connection is down");
    }
    let mut notices = client
        .subscribe(subject.to_owned())
        .await
        .context("subscribing to the applied notices")?;
    // Flushed, the subscription is in place at the server: every batch
    // committed after the checkpoint read next is announced to it.
    client
        .flush()
        .await
        .context("subscribing to the applied notices")?;
    let reached = applied_sequence(pool, LICENSES_PROJECTION).await?;
    cache.listening(reached);
    tracing::info!(%subject, reached, "hearing applied notices: pages are kept in memory");
    loop {
        tokio::select! {
            () = disconnects.after(losses) => return Ok(()),
            message = notices.next() => {
                let Some(message) = message else {
                    anyhow::bail!("the subscription ended");
                };
                match AppliedNotice::decode(&message.payload) {
                    Ok(notice) => cache.heard(&notice),
                    Err(error) => {
                        tracing::warn!(%error, "a message on the applied subject is not a notice: every kept page is dropped");
                        cache.malformed();
                    }
                }
            }
        }
    }
}
