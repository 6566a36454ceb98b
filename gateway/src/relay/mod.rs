//! The relay: publishes every committed event to JetStream, in commit order, exactly
//! once in effect (DESIGN.md decision 2).
//!
//! - It reads `events` in `(transaction_id, global_position)` order and only rows of
//!   transactions older than the oldest one still running, so an event whose
//!   transaction commits late can never be skipped.
//! - Each message carries `Nats-Msg-Id = <aggregate_id>/<sequence>`; a batch is
//!   published pipelined and every ack awaited before the checkpoint moves; the
//!   next batch is read and sent while the acks of one come back.
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
//! - Told to stop, it stops between batches: what it sent is acknowledged and
//!   its checkpoint saved first, and the log's growth commits its batch too.
//! - It says whether it leads or waits, and keeps its last failure, in its
//!   [`RoleProgress`]; its batches are counted in [`RelayMetrics`]. Its backlog is
//!   measured apart ([`lag`]), so a relay stuck anywhere is still seen stalling.

pub mod checkpoint_schedule;
pub mod lag;
mod oversized;
mod publish;
mod resume;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream;
use ledger_projections::contract::{ensure_stream, StreamConfig};

use crate::metrics::RelayMetrics;
use crate::nats::Disconnects;
use crate::progress::RoleProgress;
use crate::readiness::Blockers;
use crate::write::event_store::{events_after, CommitPosition, Horizon};
use checkpoint_schedule::{CheckpointSchedule, CheckpointTimer};
use oversized::fitting;
use publish::{send, settle, Sent};
use resume::{refuse_if_transaction_ids_went_back, resume_position};
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
    /// Where it says whether it leads, and keeps its last failure.
    pub progress: Arc<RoleProgress>,
    /// Its batches, counted.
    pub metrics: RelayMetrics,
    /// The NATS connection's losses, so that acks owed to a lost connection are
    /// not waited for.
    pub disconnects: Disconnects,
}

/// Runs until `shutdown`: waits for leadership, then relays; on any failure lets go
/// of leadership and starts over after a pause.
pub async fn run(
    pool: PgPool,
    jetstream: jetstream::Context,
    settings: RelaySettings,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let last_failure = &settings.progress.last_failure;
    ledger_projections::supervise::restart_on_failure("relay", &shutdown, last_failure, || {
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
        // Waiting for the lock, the relay answers for nothing: another one leads.
        settings.progress.set_standby(!acquired);
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
    let tree_stop = shutdown.child_token();
    let tree = crate::integrity::tree::grow::grow(
        pool.clone(),
        (settings.batch_size * 4).min(10_000),
        settings.poll_interval,
        settings.blockers.clone(),
        tree_stop.clone(),
    );
    // Each stops on its own at a batch's end: neither is dropped midway when the
    // other ends (a relay dropped between sending a batch and saving its
    // checkpoint would leave the next leader to find out from the stream).
    let publishing = async {
        let result = relay(
            pool, &mut lock, jetstream, settings, shutdown, position, stream_end,
        )
        .await;
        tree_stop.cancel();
        result
    };
    let (result, ()) = tokio::join!(publishing, tree);
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
    // The batch whose acks are still on their way: the next batch is read and sent
    // while they come back (a serial read → publish → acks → save round trip held
    // catch-up to 0.4 of raw JetStream with the machine a quarter idle).
    let mut unsettled: Option<Sent> = None;
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
        let (messages, oversized) = fitting(
            &batch.events,
            &settings.stream.subject_prefix,
            max_payload,
            stream_end,
        )?;
        let sent = match batch.events[..messages.len()].last() {
            Some(last) => {
                let last = CommitPosition::from(last);
                let sent = send(
                    jetstream,
                    messages,
                    stream_end,
                    last,
                    &settings.disconnects,
                    &settings.metrics,
                )
                .await?;
                position = sent.position;
                stream_end = sent.stream_end;
                Some(sent)
            }
            None => None,
        };
        if let Some(previous) = std::mem::replace(&mut unsettled, sent) {
            settle(
                &mut *lock,
                previous,
                &settings.disconnects,
                &settings.metrics,
            )
            .await?;
        }
        if let Some(blocked) = oversized {
            if let Some(sent) = unsettled.take() {
                settle(&mut *lock, sent, &settings.disconnects, &settings.metrics).await?;
            }
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
        // Nothing more to send for now: what was sent is acknowledged and saved
        // before the relay pauses (or stops).
        if let Some(sent) = unsettled.take() {
            settle(&mut *lock, sent, &settings.disconnects, &settings.metrics).await?;
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
