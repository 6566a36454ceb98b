//! The relay: publishes every committed event to JetStream, in commit order, exactly
//! once in effect (DESIGN.md decision 2).
//!
//! - It reads `events` in `(transaction_id, global_position)` order and only rows of
//!   transactions older than the oldest one still running, so an event whose
//!   transaction commits late can never be skipped.
//! - Each message carries `Nats-Msg-Id = <aggregate_id>/<sequence>`; a batch is
//!   published pipelined and every ack awaited before the checkpoint moves.
//! - Every message says which stream sequence must precede it
//!   (`Nats-Expected-Last-Sequence`), so if a publish in a pipelined batch is lost
//!   (a reconnect drops the client's buffer), every later one is refused rather
//!   than stored after a hole; the relay starts over from the stream's true end.
//! - It resumes after the stream's last message, checked against the store: a crash
//!   between publish and checkpoint republishes nothing, even past JetStream's
//!   de-duplication window, and a stream holding anything but this store's events
//!   stops the relay loudly instead of being trusted.
//! - One relay is active per database: a session advisory lock on a dedicated
//!   connection. Standbys poll for the lock and take over when the holder dies.
//! - It polls: every `relay_poll_interval_ms` while idle, at once while it finds
//!   full batches. A NOTIFY from the `events` trigger used to wake it, but
//!   PostgreSQL serialises the commits of notifying transactions (a database-wide
//!   lock held through the commit's WAL flush), which cut command throughput to a
//!   third (measured with pgbench on the `events` table: 3,800 against 10,900
//!   inserts/s at 16 clients); a poll every few milliseconds costs far less.
//! - Nothing it publishes may outgrow the broker's `max_payload`: an event that
//!   would (recorded before the gateway checked sizes, or with the broker's limit
//!   lowered since) is never skipped, which would break the order, so the relay
//!   stops before it, names it in the log and in readiness, and looks again every
//!   few seconds (a raised limit lets it go on).
//! - The active relay also grows the transparency log ([`crate::integrity::tree`])
//!   beside publishing, and writes the signed checkpoints of its head
//!   ([`crate::integrity::checkpoint`]) when they are due; the relay then
//!   publishes them like any other event.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::{self, stream::Stream};
use futures::future::try_join_all;
use ledger_projections::contract::{ensure_stream, header, StoredEvent, StreamConfig};

use crate::event_store::{events_after, CommitPosition, Horizon};
use crate::integrity::checkpoint::{CheckpointSchedule, CheckpointTimer};
use crate::readiness::Blockers;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

/// Advisory lock key held by the active relay ("LDGRELAY" in ASCII).
const RELAY_LOCK_KEY: i64 = 0x4C44_4752_454C_4159;
/// The relay's checkpoint row.
const RELAY_NAME: &str = "main";
/// JetStream refuses a message unless the stream's last sequence is this one.
const EXPECTED_LAST_SEQUENCE: &str = "Nats-Expected-Last-Sequence";
/// First pause when committed events wait behind a running transaction.
const HELD_BACK_FIRST_PAUSE: Duration = Duration::from_millis(2);
/// `application_name` of the relay's lock connection, followed by ` pid=<os pid>`.
pub const RELAY_APPLICATION_NAME: &str = "ledger-relay";
/// How the relay names itself in readiness.
const PART: &str = "relay";
/// How long the relay waits before it looks again at an event it cannot publish.
const BLOCKED_PAUSE: Duration = Duration::from_secs(5);

/// How the relay runs.
#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// The database (the relay opens its own connection for the lock).
    pub database_url: String,
    /// The stream to publish to.
    pub stream: StreamConfig,
    /// Events per round trip.
    pub batch_size: usize,
    /// Pause between polls that find nothing new.
    pub poll_interval: Duration,
    /// Integrity checkpoints to write while leading; none without a signing key.
    pub checkpoints: Option<CheckpointSchedule>,
    /// The largest message the gateway lets an event make (`event_max_bytes`),
    /// checked against the broker's limit when the relay takes the lead.
    pub event_max_bytes: usize,
    /// Where the relay says what stops it.
    pub blockers: Arc<Blockers>,
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
    let max_payload = jetstream.client().server_info().max_payload;
    if max_payload < settings.event_max_bytes {
        tracing::error!(
            max_payload,
            event_max_bytes = settings.event_max_bytes,
            "the broker's max_payload is below event_max_bytes: an event the gateway accepts \
             may never be published; lower event_max_bytes or raise the broker's max_payload"
        );
    }
    let mut stream = ensure_stream(jetstream, &settings.stream).await?;
    refuse_if_transaction_ids_went_back(&mut lock).await?;
    let (position, stream_end) = resume_position(&mut lock, &mut stream).await?;
    tracing::info!(?position, stream_end, "relay resuming");
    // The log grows beside publishing while this relay leads, and stops with it.
    // Larger batches than publishing's: each is one transaction of two `unnest`
    // inserts, and fewer commits leave PostgreSQL more for the relay's own.
    let tree = crate::integrity::tree::grow::grow(
        pool.clone(),
        (settings.batch_size * 4).min(10_000),
        settings.poll_interval,
        settings.blockers.clone(),
        shutdown.child_token(),
    );
    let result = tokio::select! {
        result = relay(pool, &mut lock, jetstream, settings, shutdown, position, stream_end) => result,
        () = tree => Ok(()),
    };
    // A relay that no longer leads stops for no reason of its own.
    settings.blockers.clear(PART);
    settings.blockers.clear(crate::integrity::tree::grow::PART);
    result
}

/// Publishes from `position` (the stream ends at `stream_end`) until `shutdown`.
async fn relay(
    pool: &PgPool,
    lock: &mut PgConnection,
    jetstream: &jetstream::Context,
    settings: &RelaySettings,
    shutdown: &CancellationToken,
    mut position: CommitPosition,
    mut stream_end: u64,
) -> anyhow::Result<()> {
    let mut held_back_pause = HELD_BACK_FIRST_PAUSE;
    let mut checkpoints = CheckpointTimer::new(settings.checkpoints.clone());
    loop {
        checkpoints.write_if_due(pool).await;
        let batch = events_after(
            &mut *lock,
            position,
            settings.batch_size,
            Horizon::Settled,
            None,
            None,
        )
        .await
        .context("reading committed events")?;
        let max_payload = jetstream.client().server_info().max_payload;
        let (sendable, oversized) =
            fitting(&batch.events, &settings.stream.subject_prefix, max_payload)?;
        if let Some(last) = batch.events[..sendable].last() {
            stream_end = publish(
                jetstream,
                &settings.stream.subject_prefix,
                &batch.events[..sendable],
                stream_end,
            )
            .await?;
            position = CommitPosition::from(last);
            save_checkpoint(&mut *lock, position).await?;
        }
        if let Some(blocked) = oversized {
            let reason = blocked.reason(max_payload);
            tracing::error!(
                aggregate_type = %blocked.aggregate_type,
                aggregate_id = %blocked.aggregate_id,
                sequence = blocked.sequence,
                global_position = blocked.global_position,
                bytes = blocked.bytes,
                max_payload,
                "{reason}"
            );
            settings.blockers.set(PART, reason);
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep(BLOCKED_PAUSE) => {}
            }
            continue;
        }
        settings.blockers.clear(PART);
        if batch.events.len() == settings.batch_size && !shutdown.is_cancelled() {
            continue;
        }
        // Committed events held back by an older running transaction are released
        // when it ends: look again soon, backing off while it keeps running.
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
            () = tokio::time::sleep(pause) => {}
            () = checkpoints.due() => {}
        }
    }
}

/// An event whose message the broker would refuse.
#[derive(Debug)]
struct Oversized {
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    global_position: i64,
    bytes: usize,
}

impl Oversized {
    fn reason(&self, max_payload: usize) -> String {
        format!(
            "cannot publish {} {} sequence {} (global position {}): its message is {} bytes, \
             over the broker's max_payload of {max_payload}; nothing after it is published \
             until the broker's limit is raised",
            self.aggregate_type, self.aggregate_id, self.sequence, self.global_position, self.bytes
        )
    }
}

/// How many of `events`, from the first, the broker takes, and the first it
/// would refuse.
fn fitting(
    events: &[StoredEvent],
    subject_prefix: &str,
    max_payload: usize,
) -> anyhow::Result<(usize, Option<Oversized>)> {
    for (index, event) in events.iter().enumerate() {
        let bytes = event.to_message(subject_prefix)?.size();
        if bytes > max_payload {
            return Ok((
                index,
                Some(Oversized {
                    aggregate_type: event.aggregate_type.clone(),
                    aggregate_id: event.aggregate_id.clone(),
                    sequence: event.sequence,
                    global_position: event.global_position,
                    bytes,
                }),
            ));
        }
    }
    Ok((events.len(), None))
}

/// Commit order rests on PostgreSQL's transaction-id counter moving forward. A
/// logical dump and restore restarts it below the ids already stored, and every new
/// event would then sort before the ones published: refuse to run instead.
async fn refuse_if_transaction_ids_went_back(lock: &mut PgConnection) -> anyhow::Result<()> {
    let forward: bool = sqlx::query_scalar(
        "SELECT pg_snapshot_xmax(pg_current_snapshot())
                > COALESCE((SELECT max(transaction_id) FROM events), '0'::xid8)",
    )
    .fetch_one(&mut *lock)
    .await
    .context("checking the transaction-id counter")?;
    if !forward {
        anyhow::bail!(
            "PostgreSQL's transaction ids are below those of stored events (was the database \
             restored logically?); the relay cannot order new events and will not run"
        );
    }
    Ok(())
}

/// Where to resume: after the stream's last message, once it is proven to be an
/// event of this store. Returns that position and the stream's last sequence.
async fn resume_position(
    lock: &mut PgConnection,
    stream: &mut Stream,
) -> anyhow::Result<(CommitPosition, u64)> {
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
        if stored > CommitPosition::default() {
            tracing::warn!(
                ?stored,
                "the stream is empty although events were published: \
                publishing the whole store again"
            );
        }
        return Ok((CommitPosition::default(), 0));
    }
    let last = stream
        .get_raw_message(last_sequence)
        .await
        .with_context(|| format!("reading stream message {last_sequence}"))?;
    let text = |name: &str| last.headers.get(name).map(|v| v.as_str().to_owned());
    let number = |name: &str| text(name).and_then(|v| v.parse::<i64>().ok());
    let proven = match (
        text(header::AGGREGATE_TYPE),
        text(header::AGGREGATE_ID),
        number(header::SEQUENCE),
        number(header::GLOBAL_POSITION),
        number(header::TRANSACTION_ID),
    ) {
        (Some(kind), Some(id), Some(sequence), Some(global_position), Some(transaction_id)) => {
            let in_store: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM events WHERE aggregate_type = $1 AND aggregate_id = $2
                    AND sequence = $3 AND global_position = $4
                    AND transaction_id = $5::text::xid8)",
            )
            .bind(kind)
            .bind(id)
            .bind(sequence)
            .bind(global_position)
            .bind(transaction_id.to_string())
            .fetch_one(&mut *lock)
            .await
            .context("checking the stream's last message against the store")?;
            in_store.then_some(CommitPosition {
                transaction_id,
                global_position,
            })
        }
        _ => None,
    };
    let Some(published) = proven else {
        anyhow::bail!(
            "the stream's last message (sequence {last_sequence}, subject {}) is not an event \
             of this store: another writer publishes to the stream, or the database was \
             restored; the relay will not publish until an operator looks",
            last.subject
        );
    };
    if published < stored {
        tracing::warn!(
            ?published,
            ?stored,
            "the stream lost acknowledged messages: \
            publishing again from its end"
        );
    }
    Ok((published, last_sequence))
}

/// Publishes a batch pipelined, in order, each message expecting the one before it
/// at the stream's end, and waits for every ack. Returns the new stream end.
#[tracing::instrument(name = "ledger.relay.publish", skip_all, fields(events = events.len()), err)]
async fn publish(
    jetstream: &jetstream::Context,
    subject_prefix: &str,
    events: &[StoredEvent],
    stream_end: u64,
) -> anyhow::Result<u64> {
    let mut acks = Vec::with_capacity(events.len());
    for (offset, event) in (0u64..).zip(events) {
        let mut message = event.to_message(subject_prefix)?;
        message.headers.insert(
            EXPECTED_LAST_SEQUENCE,
            (stream_end + offset).to_string().as_str(),
        );
        let ack = jetstream
            .publish_with_headers(message.subject, message.headers, message.payload)
            .await
            .context("publishing to JetStream")?;
        acks.push(std::future::IntoFuture::into_future(ack));
    }
    let acks = try_join_all(acks)
        .await
        .context("waiting for JetStream acks")?;
    Ok(acks.last().map(|ack| ack.sequence).unwrap_or(stream_end))
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
