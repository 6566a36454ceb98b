//! Hearing the projector's notices for the gateway's page cache: subscribe, read
//! where the projector's last batch ended, then hand each notice to the cache;
//! start over whenever the connection or the subscription is lost.

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

/// Where the notices come from.
pub struct NoticeSource {
    /// The NATS connection: the process's own, or one made for the cache.
    pub client: async_nats::Client,
    /// Its losses.
    pub disconnects: Disconnects,
    /// The stream's subject prefix, which the notice subject is named after.
    pub subject_prefix: String,
}

/// Feeds `cache` with the notices of the licenses projection until `shutdown`.
/// Failures never end it: the cache serves nothing while it is deaf, and the
/// log says why.
pub async fn listen(
    cache: Arc<ReadCache>,
    source: NoticeSource,
    pool: PgPool,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let subject = notice_subject(&source.subject_prefix, LICENSES_PROJECTION);
    loop {
        let outcome = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            outcome = hear(&cache, &source, &pool, &subject) => outcome,
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
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(RETRY_AFTER) => {}
        }
    }
}

/// One subscription's life: returns when the connection was lost (`Ok`) or the
/// subscription could not be made or ended (`Err`).
async fn hear(
    cache: &ReadCache,
    source: &NoticeSource,
    pool: &PgPool,
    subject: &str,
) -> anyhow::Result<()> {
    let losses = source.disconnects.seen();
    if source.client.connection_state() != async_nats::connection::State::Connected {
        // Subscribing now would only queue until the connection is back.
        anyhow::bail!("the NATS connection is down");
    }
    let mut notices = source
        .client
        .subscribe(subject.to_owned())
        .await
        .context("subscribing to the applied notices")?;
    // Flushed, the subscription is in place at the server: every batch
    // committed after the checkpoint read next is announced to it.
    source
        .client
        .flush()
        .await
        .context("subscribing to the applied notices")?;
    let reached = applied_sequence(pool, LICENSES_PROJECTION).await?;
    cache.listening(reached);
    tracing::info!(%subject, reached, "hearing applied notices: pages are kept in memory");
    loop {
        tokio::select! {
            () = source.disconnects.after(losses) => return Ok(()),
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
