//! The relay: publishes every committed event to JetStream, in commit order, exactly
//! once in effect (DESIGN.md decision 2).
//!
//! - It reads `events` in `(transaction_id, global_position)` order and only rows of
//!   transactions older than the oldest one still running, so an event whose
//!   transaction commits late can never be skipped.
//! - Each message carries `Nats-Msg-Id = <aggregate_id>/<sequence>`; a batch is
//!   published pipelined and every ack awaited before the checkpoint moves.
//! - On taking over it resumes from the later of its checkpoint and the stream's
//!   last message, so a crash between publish and checkpoint republishes nothing
//!   even past JetStream's de-duplication window.
//! - One relay is active per database: a session advisory lock on a dedicated
//!   connection. Standbys poll for the lock and take over when the holder dies.

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::{self, stream::Stream};
use chrono::{DateTime, Utc};
use futures::future::try_join_all;
use ledger_projections::contract::{ensure_stream, header, StoredEvent, StreamConfig};
use serde_json::Value;
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

/// Advisory lock key held by the active relay ("LDGRELAY" in ASCII).
const RELAY_LOCK_KEY: i64 = 0x4C44_4752_454C_4159;
/// The relay's checkpoint row.
const RELAY_NAME: &str = "main";
/// First pause when committed events wait behind a running transaction.
const HELD_BACK_FIRST_PAUSE: Duration = Duration::from_millis(2);
/// `application_name` of the relay's lock connection, followed by ` pid=<os pid>`.
pub const RELAY_APPLICATION_NAME: &str = "ledger-relay";
/// Channel the `events` trigger notifies on commit.
const EVENTS_CHANNEL: &str = "ledger_events";

/// How the relay runs.
#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// The database (the relay opens its own connection for the lock).
    pub database_url: String,
    /// The stream to publish to.
    pub stream: StreamConfig,
    /// Events per round trip.
    pub batch_size: usize,
    /// Fallback poll when no notification arrives.
    pub poll_interval: Duration,
}

/// A position in commit order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct CommitPosition {
    /// The writing transaction.
    pub transaction_id: i64,
    /// The event's global position.
    pub global_position: i64,
}

/// Runs until `shutdown`: waits for leadership, then relays; on any failure lets go
/// of leadership and starts over after a pause.
pub async fn run(
    pool: PgPool,
    jetstream: jetstream::Context,
    settings: RelaySettings,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    ledger_projections::supervise::restart_on_failure("relay", &shutdown, || {
        lead(&pool, &jetstream, &settings, &shutdown)
    })
    .await
}

async fn lead(
    pool: &PgPool,
    jetstream: &jetstream::Context,
    settings: &RelaySettings,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let name = format!("{RELAY_APPLICATION_NAME} pid={}", std::process::id());
    let mut lock = crate::db::dedicated_connection(&settings.database_url, &name).await?;
    loop {
        let acquired: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(RELAY_LOCK_KEY)
            .fetch_one(&mut lock)
            .await
            .context("trying the relay lock")?;
        if acquired {
            break;
        }
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
    tracing::info!("relay is the active leader");
    let mut listener = PgListener::connect_with(pool)
        .await
        .context("connecting the relay's listener")?;
    listener
        .listen(EVENTS_CHANNEL)
        .await
        .context("listening for committed events")?;
    let mut stream = ensure_stream(jetstream, &settings.stream).await?;
    let mut position = resume_position(&mut lock, &mut stream).await?;
    tracing::info!(?position, "relay resuming");
    let mut held_back_pause = HELD_BACK_FIRST_PAUSE;
    loop {
        let batch = settled_events_after(&mut lock, position, settings.batch_size).await?;
        if let Some(last) = batch.events.last() {
            publish(jetstream, &settings.stream.subject_prefix, &batch.events).await?;
            position = CommitPosition {
                transaction_id: last.transaction_id,
                global_position: last.global_position,
            };
            save_checkpoint(&mut lock, position).await?;
            if batch.events.len() == settings.batch_size {
                continue;
            }
        }
        // Committed events held back by an older running transaction are released
        // when it ends, which may not notify us: look again soon, backing off while
        // that transaction keeps running.
        let pause = if batch.held_back {
            let pause = held_back_pause.min(settings.poll_interval);
            held_back_pause = (held_back_pause * 2).min(settings.poll_interval);
            pause
        } else {
            held_back_pause = HELD_BACK_FIRST_PAUSE;
            settings.poll_interval
        };
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            notification = listener.recv() => {
                notification.context("waiting for event notifications")?;
            }
            () = tokio::time::sleep(pause) => {}
        }
    }
}

/// Where to resume: the later of the stored checkpoint and the stream's last message.
async fn resume_position(
    lock: &mut PgConnection,
    stream: &mut Stream,
) -> anyhow::Result<CommitPosition> {
    let stored: Option<(i64, i64)> = sqlx::query_as(
        "SELECT transaction_id::text::bigint, global_position FROM relay_checkpoints WHERE relay = $1",
    )
    .bind(RELAY_NAME)
    .fetch_optional(&mut *lock)
    .await
    .context("reading the relay checkpoint")?;
    let stored = stored
        .map(|(transaction_id, global_position)| CommitPosition {
            transaction_id,
            global_position,
        })
        .unwrap_or_default();
    let last_sequence = stream
        .info()
        .await
        .context("reading stream info")?
        .state
        .last_sequence;
    if last_sequence == 0 {
        return Ok(stored);
    }
    let last = stream
        .get_raw_message(last_sequence)
        .await
        .with_context(|| format!("reading stream message {last_sequence}"))?;
    let parse = |name: &str| -> Option<i64> { last.headers.get(name)?.as_str().parse().ok() };
    let published = match (
        parse(header::TRANSACTION_ID),
        parse(header::GLOBAL_POSITION),
    ) {
        (Some(transaction_id), Some(global_position)) => CommitPosition {
            transaction_id,
            global_position,
        },
        _ => CommitPosition::default(),
    };
    Ok(stored.max(published))
}

struct Batch {
    events: Vec<StoredEvent>,
    /// Committed events exist past `events` but an older transaction is still running.
    held_back: bool,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    event_version: String,
    payload: Value,
    metadata: Value,
    global_position: i64,
    transaction_id: i64,
    recorded_at: DateTime<Utc>,
    settled: bool,
}

async fn settled_events_after(
    lock: &mut PgConnection,
    after: CommitPosition,
    limit: usize,
) -> anyhow::Result<Batch> {
    let rows: Vec<EventRow> = sqlx::query_as(
        "SELECT aggregate_type, aggregate_id, sequence, event_type, event_version, payload,
                metadata, global_position, transaction_id::text::bigint AS transaction_id,
                recorded_at,
                transaction_id < pg_snapshot_xmin(pg_current_snapshot()) AS settled
           FROM events
          WHERE (transaction_id, global_position) > ($1::text::xid8, $2)
          ORDER BY transaction_id, global_position
          LIMIT $3",
    )
    .bind(after.transaction_id.to_string())
    .bind(after.global_position)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(&mut *lock)
    .await
    .context("reading committed events")?;
    let total = rows.len();
    let events: Vec<StoredEvent> = rows
        .into_iter()
        .take_while(|row| row.settled)
        .map(|row| StoredEvent {
            aggregate_type: row.aggregate_type,
            aggregate_id: row.aggregate_id,
            sequence: row.sequence,
            event_type: row.event_type,
            event_version: row.event_version,
            payload: row.payload,
            metadata: row.metadata,
            global_position: row.global_position,
            transaction_id: row.transaction_id,
            recorded_at: row.recorded_at,
        })
        .collect();
    Ok(Batch {
        held_back: events.len() < total,
        events,
    })
}

/// Publishes a batch pipelined, in order, and waits for every ack.
#[tracing::instrument(name = "ledger.relay.publish", skip_all, fields(events = events.len()), err)]
async fn publish(
    jetstream: &jetstream::Context,
    subject_prefix: &str,
    events: &[StoredEvent],
) -> anyhow::Result<()> {
    let mut acks = Vec::with_capacity(events.len());
    for event in events {
        let message = event.to_message(subject_prefix)?;
        let ack = jetstream
            .publish_with_headers(message.subject, message.headers, message.payload)
            .await
            .context("publishing to JetStream")?;
        acks.push(std::future::IntoFuture::into_future(ack));
    }
    try_join_all(acks)
        .await
        .context("waiting for JetStream acks")?;
    Ok(())
}

async fn save_checkpoint(lock: &mut PgConnection, position: CommitPosition) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO relay_checkpoints (relay, transaction_id, global_position)
         VALUES ($1, $2::text::xid8, $3)
         ON CONFLICT (relay) DO UPDATE
            SET transaction_id = EXCLUDED.transaction_id,
                global_position = EXCLUDED.global_position, updated_at = now()",
    )
    .bind(RELAY_NAME)
    .bind(position.transaction_id.to_string())
    .bind(position.global_position)
    .execute(lock)
    .await
    .context("saving the relay checkpoint")?;
    Ok(())
}
