//! How far behind a role is: the events it has yet to handle, and how long the
//! oldest of them has waited. The relay's backlog is measured in the gateway; the
//! projector's here, from the stream's end and the projection's checkpoint. What
//! reports progress (readiness, `/health/status`, `/metrics`) reads these.

use anyhow::Context as _;
use async_nats::jetstream::context::GetStreamErrorKind;
use async_nats::jetstream::{self, stream::LastRawMessageErrorKind};
use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// A role's backlog at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Where the role has got to (the relay: the global position of the last
    /// event it published; the projector: the last stream sequence it applied).
    /// It changes exactly when the role advances.
    pub position: u64,
    /// Events waiting for the role.
    pub events: u64,
    /// When the oldest of them was recorded (or reached the stream); `None` when
    /// none waits or its time cannot be read.
    pub oldest: Option<DateTime<Utc>>,
}

/// The stream sequence `projection`'s last committed batch reached (0 before any).
pub async fn applied_sequence(pool: &PgPool, projection: &str) -> anyhow::Result<u64> {
    let applied: Option<i64> = sqlx::query_scalar(
        "SELECT stream_sequence FROM read_model.checkpoints WHERE projection = $1",
    )
    .bind(projection)
    .fetch_optional(pool)
    .await
    .context("reading the projection's checkpoint")?;
    Ok(applied.and_then(|seq| u64::try_from(seq).ok()).unwrap_or(0))
}

/// The backlog of `projection`: the messages of `stream` after its checkpoint.
pub async fn projector_backlog(
    pool: &PgPool,
    jetstream: &jetstream::Context,
    stream: &str,
    projection: &str,
) -> anyhow::Result<Backlog> {
    let position = applied_sequence(pool, projection).await?;
    let stream = match jetstream.get_stream(stream).await {
        Ok(stream) => stream,
        // Not created yet (the projector creates it when it starts): nothing waits.
        Err(error) if is_not_found(&error) => {
            return Ok(Backlog {
                position,
                ..Backlog::default()
            })
        }
        Err(error) => return Err(anyhow::Error::new(error).context("reading the stream's state")),
    };
    let end = stream.cached_info().state.last_sequence;
    let events = end.saturating_sub(position);
    let oldest = if events == 0 {
        None
    } else {
        match stream.get_raw_message(position + 1).await {
            Ok(message) => Some(message.time),
            // Deleted from the stream: the projector skips it, nothing waits on it.
            Err(error) if error.kind() == LastRawMessageErrorKind::NoMessageFound => None,
            Err(error) => {
                return Err(anyhow::anyhow!(
                    "reading stream sequence {}: {error}",
                    position + 1
                ))
            }
        }
    };
    Ok(Backlog {
        position,
        events,
        oldest,
    })
}

fn is_not_found(error: &jetstream::context::GetStreamError) -> bool {
    matches!(error.kind(), GetStreamErrorKind::JetStream(error)
        if error.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND)
}

/// How many messages of `projection` were set aside (`read_model.rejected_messages`):
/// each waits for an operator.
pub async fn set_aside(pool: &PgPool, projection: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM read_model.rejected_messages WHERE projection = $1")
        .bind(projection)
        .fetch_one(pool)
        .await
}
