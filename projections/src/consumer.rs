//! The projector: a durable JetStream consumer that applies the stream to the
//! read-model tables, exactly once in effect.
//!
//! Per batch, in one PostgreSQL transaction: lock the checkpoint, apply every
//! message after it (fetching any skipped sequence straight from the stream, so a
//! redelivery order can never leave a hole), save rows and checkpoint, commit. Only
//! then is the batch acked. A crash anywhere means redelivery, and redelivered
//! messages at or below the checkpoint are skipped. Told to stop, it finishes the
//! batch in hand (committed, then acked) and takes no other.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::stream::{LastRawMessageErrorKind, Stream};
use async_nats::jetstream::AckKind;
use async_nats::jetstream::{self, Message};
use async_nats::HeaderMap;
use futures::StreamExt;
use sqlx::{PgPool, Postgres, Transaction};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::applied::{Announcer, AppliedNotice};
use crate::contract::{self, ensure_stream, Incoming, StoredEvent, StreamConfig};
use crate::license_view::LicenseView;
use crate::supervise::LastFailure;
use crate::usage_view::usage_rows;
use crate::writer::{self, Checkpoint, Rejected};
use crate::written::LicensesWritten;

/// Keeps reading `messages` in a task of its own, up to twice `batch_size`
/// ahead, and hands them over through a channel. A pull consumer's stream asks
/// the server for more only while it is polled: read in the loop that also
/// writes, it stood idle during every write (measured with the benchmark
/// harness: the rebuild went from 14,000 to 16,600 events/s).
pub fn prefetched<S>(messages: S, batch_size: usize) -> mpsc::Receiver<S::Item>
where
    S: futures::Stream + Send + Unpin + 'static,
    S::Item: Send + 'static,
{
    let (sender, receiver) = mpsc::channel(batch_size.max(1) * 2);
    tokio::spawn(async move {
        let mut messages = messages;
        while let Some(message) = messages.next().await {
            if sender.send(message).await.is_err() {
                break;
            }
        }
    });
    receiver
}

/// The aggregate type of licenses' events, whose views a batch loads up front.
const LICENSE_AGGREGATE: &str = <ledger_domain::License as cqrs_es::Aggregate>::TYPE;

/// The name of the read-model projection (its checkpoint row): licenses,
/// allocations and server usage, applied in one pass over the stream.
pub const LICENSES_PROJECTION: &str = "licenses";

/// Makes a span a child of a W3C `traceparent`; supplied by the binary, which owns
/// the OpenTelemetry setup, so this crate does not depend on it.
pub type TraceHook = fn(traceparent: &str, span: &tracing::Span);

/// The schema the gateway reads from.
pub const LIVE_SCHEMA: &str = "read_model";

/// How a projector runs.
#[derive(Debug, Clone)]
pub struct ProjectorSettings {
    /// Continues each event's trace in the span that applies it.
    pub trace_hook: Option<TraceHook>,
    /// The stream to read.
    pub stream: StreamConfig,
    /// The projection's name: its checkpoint row and, prefixed, its durable consumer.
    pub projection: String,
    /// Most messages applied in one transaction.
    pub batch_size: usize,
    /// Counts the stream messages applied (or set aside), for `/metrics`.
    pub applied: prometheus_client::metrics::counter::Counter,
    /// Where the loop keeps its last failure, for what reports it stalled.
    pub last_failure: LastFailure,
    /// Tells the gateways which accounts each batch moved; none: nobody listens.
    pub announcer: Option<Announcer>,
}

impl ProjectorSettings {
    /// The durable consumer's name, e.g. `projector-licenses`.
    pub fn durable_name(&self) -> String {
        format!("projector-{}", self.projection)
    }
}

/// Runs the projector until `shutdown` is cancelled. Transient failures (database
/// or NATS down) are retried with backoff; the loop only returns on shutdown.
pub async fn run(
    pool: PgPool,
    jetstream: jetstream::Context,
    settings: ProjectorSettings,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let what = format!("projector {}", settings.projection);
    crate::supervise::restart_on_failure(&what, &shutdown, &settings.last_failure, || {
        consume(&pool, &jetstream, &settings, &shutdown)
    })
    .await
}

async fn consume(
    pool: &PgPool,
    jetstream: &jetstream::Context,
    settings: &ProjectorSettings,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let stream = ensure_stream(jetstream, &settings.stream).await?;
    let durable = settings.durable_name();
    let consumer = stream
        .get_or_create_consumer(
            &durable,
            pull::Config {
                durable_name: Some(durable.clone()),
                ack_policy: AckPolicy::All,
                deliver_policy: DeliverPolicy::All,
                ack_wait: Duration::from_secs(30),
                max_ack_pending: 10_000,
                ..Default::default()
            },
        )
        .await
        .with_context(|| format!("creating durable consumer {durable}"))?;
    let mut incoming = prefetched(
        consumer
            .stream()
            .max_messages_per_batch(settings.batch_size)
            .heartbeat(Duration::from_secs(5))
            .expires(Duration::from_secs(30))
            .messages()
            .await
            .context("subscribing to the consumer")?,
        settings.batch_size,
    );
    let mut batch = Vec::with_capacity(settings.batch_size);
    tracing::info!(projection = %settings.projection, consumer = %durable, "projector started");
    loop {
        let received = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            received = incoming.recv_many(&mut batch, settings.batch_size) => received,
        };
        if received == 0 {
            anyhow::bail!("the consumer's message stream ended");
        }
        let mut messages = Vec::with_capacity(batch.len());
        for message in batch.drain(..) {
            match message {
                Ok(message) => messages.push(message),
                // Heartbeat misses and the like: the subscription carries on.
                Err(error) => tracing::warn!(%error, "consumer reported an error"),
            }
        }
        if messages.is_empty() {
            continue;
        }
        // Each span stays open until its event's read model is committed and acked.
        let spans = trace_batch(settings.trace_hook, &messages);
        let target = Target {
            schema: LIVE_SCHEMA,
            projection: &settings.projection,
        };
        match project_batch(
            pool,
            &stream,
            target,
            &messages,
            settings.announcer.as_ref(),
        )
        .await
        {
            Ok(projected) => {
                settings.applied.inc_by(projected.messages);
            }
            Err(error) => {
                // Ask for redelivery now rather than after ack_wait; the checkpoint
                // makes whatever was applied before the failure a no-op.
                for message in &messages {
                    let _ = message.ack_with(AckKind::Nak(None)).await;
                }
                return Err(error);
            }
        }
        if let Some(last) = messages.last() {
            // AckPolicy::All: acking the last acks the batch. A lost ack only means a
            // redelivery, which the checkpoint skips.
            if let Err(error) = last.ack().await {
                tracing::warn!(%error, "ack failed; the batch will be redelivered and skipped");
            }
        }
        drop(spans);
    }
}

/// One span per message, child of the command that caused it: the end of its trace.
fn trace_batch(hook: Option<TraceHook>, messages: &[Message]) -> Vec<tracing::Span> {
    let Some(hook) = hook else {
        return Vec::new();
    };
    let mut spans = Vec::new();
    for message in messages {
        let header = |name: &str| {
            message
                .headers
                .as_ref()
                .and_then(|headers| headers.get(name))
                .map(|value| value.as_str().to_owned())
                .unwrap_or_default()
        };
        let traceparent = header(crate::contract::header::TRACEPARENT);
        if traceparent.is_empty() {
            continue;
        }
        let span = tracing::info_span!(
            "ledger.projector.apply",
            license_id = %header(crate::contract::header::AGGREGATE_ID),
            sequence = %header(crate::contract::header::SEQUENCE),
            event_type = %header(crate::contract::header::EVENT_TYPE),
        );
        hook(&traceparent, &span);
        spans.push(span);
    }
    spans
}

/// Where a batch is applied: which schema's tables and which checkpoint row.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// `read_model`, or a rebuild's schema.
    pub schema: &'a str,
    /// The checkpoint row.
    pub projection: &'a str,
}

/// What a batch did.
#[derive(Debug, Clone, Copy)]
pub struct Projected {
    /// The checkpoint reached.
    pub checkpoint: Checkpoint,
    /// Stream messages applied (or set aside) past the checkpoint it started from:
    /// redelivered ones are not counted, sequences filled in from the stream are.
    pub messages: u64,
}

/// Applies a batch in one transaction, announcing it (when `announcer` is given)
/// just before the commit.
///
/// Before, not after: a listener compares versions, so a notice heard before the
/// rows are visible only makes it read them again until they are, while a notice
/// sent after the commit leaves a moment in which the new rows are visible but a
/// page cached from the old ones is still served. A notice for a batch that then
/// fails is harmless the same way, and the batch's retry is announced again.
pub async fn project_batch(
    pool: &PgPool,
    stream: &Stream,
    target: Target<'_>,
    messages: &[Message],
    announcer: Option<&Announcer>,
) -> anyhow::Result<Projected> {
    let projection = target.projection;
    let mut tx = pool
        .begin()
        .await
        .context("beginning projector transaction")?;
    writer::use_schema(&mut tx, target.schema).await?;
    let mut checkpoint = writer::lock_checkpoint(&mut tx, projection).await?;
    let started_at = checkpoint.stream_sequence;
    let mut ordered: Vec<(u64, &Message)> = Vec::with_capacity(messages.len());
    for message in messages {
        let info = message
            .info()
            .map_err(|e| anyhow::anyhow!("message without JetStream info: {e}"))?;
        ordered.push((info.stream_sequence, message));
    }
    ordered.sort_by_key(|(sequence, _)| *sequence);
    let named: Vec<Uuid> = ordered
        .iter()
        .filter(|(sequence, _)| *sequence > checkpoint.stream_sequence)
        .filter_map(|(_, message)| license_named(message.headers.as_ref()))
        .collect();
    let mut views = writer::load_views(&mut tx, &named).await?;
    for (sequence, message) in ordered {
        if sequence <= checkpoint.stream_sequence {
            continue;
        }
        for missing in checkpoint.stream_sequence + 1..sequence {
            fill_gap(
                &mut tx,
                stream,
                projection,
                &mut views,
                &mut checkpoint,
                missing,
            )
            .await?;
        }
        let incoming = RawMessage {
            sequence,
            subject: message.subject.as_str(),
            headers: message.headers.as_ref(),
            payload: &message.payload,
        };
        apply(&mut tx, projection, &mut views, &mut checkpoint, &incoming).await?;
    }
    let moved = writer::save_views(&mut tx, &views).await?;
    writer::save_checkpoint(&mut tx, projection, &checkpoint).await?;
    if let Some(announcer) = announcer.filter(|_| checkpoint.stream_sequence > started_at) {
        announcer
            .announce(&AppliedNotice::of_batch(
                started_at,
                checkpoint.stream_sequence,
                &moved,
            ))
            .await;
    }
    tx.commit()
        .await
        .context("committing projector transaction")?;
    Ok(Projected {
        checkpoint,
        messages: checkpoint.stream_sequence.saturating_sub(started_at),
    })
}

/// A batch of one of a rebuild's lanes: what it reached, and the accounts it
/// moved with their new versions, which the rebuild saves itself.
pub struct LaneBatch {
    /// The last sequence and commit position applied.
    pub reached: Checkpoint,
    /// Each account moved, with its newest license event applied.
    pub accounts: Vec<(Uuid, (i64, i64))>,
}

/// Applies `messages`, in stream order, in one transaction without the
/// checkpoint and without the accounts' versions: a batch of one of a rebuild's
/// lanes, each of which owns the streams it is given, while the rebuild keeps the
/// checkpoint and the versions itself.
pub async fn project_lane(
    pool: &PgPool,
    target: Target<'_>,
    messages: &[Message],
    written: &mut LicensesWritten,
) -> anyhow::Result<LaneBatch> {
    let mut tx = pool
        .begin()
        .await
        .context("beginning a rebuild lane's transaction")?;
    writer::use_schema(&mut tx, target.schema).await?;
    // A rebuild is durable only once its checkpoint commits (synchronously, which
    // flushes every lane's commit before it); a crash before that starts it over
    // in a fresh schema. So its batches need not wait for the disk.
    sqlx::query("SET LOCAL synchronous_commit = off")
        .execute(&mut *tx)
        .await?;
    let named: Vec<Uuid> = messages
        .iter()
        .filter_map(|message| license_named(message.headers.as_ref()))
        .collect();
    // Only a license this lane wrote before can have rows in the rebuild's schema.
    let (perhaps_written, new): (Vec<Uuid>, Vec<Uuid>) = named
        .iter()
        .partition(|license| written.may_contain(**license));
    let mut views = writer::load_views(&mut tx, &perhaps_written).await?;
    views.extend(
        new.into_iter()
            .map(|license| (license, LicenseView::default())),
    );
    let mut reached = Checkpoint::default();
    for message in messages {
        let info = message
            .info()
            .map_err(|e| anyhow::anyhow!("message without JetStream info: {e}"))?;
        let incoming = RawMessage {
            sequence: info.stream_sequence,
            subject: message.subject.as_str(),
            headers: message.headers.as_ref(),
            payload: &message.payload,
        };
        apply(
            &mut tx,
            target.projection,
            &mut views,
            &mut reached,
            &incoming,
        )
        .await?;
    }
    writer::save_rows(&mut tx, &views).await?;
    tx.commit()
        .await
        .context("committing a rebuild lane's transaction")?;
    for (license, view) in &views {
        if view.changed {
            written.insert(*license);
        }
    }
    Ok(LaneBatch {
        reached,
        accounts: writer::account_versions(&views),
    })
}

/// The license a message's headers name, if it is a license's event.
fn license_named(headers: Option<&HeaderMap>) -> Option<Uuid> {
    match contract::aggregate_of(headers?) {
        (Some(LICENSE_AGGREGATE), Some(id)) => id.parse().ok(),
        _ => None,
    }
}

/// Applies every message after the checkpoint up to `last` read straight from the
/// stream, in one transaction: a rebuild's last steps before it swaps.
pub async fn project_range(
    pool: &PgPool,
    stream: &Stream,
    target: Target<'_>,
    last: u64,
) -> anyhow::Result<Checkpoint> {
    let mut tx = pool
        .begin()
        .await
        .context("beginning catch-up transaction")?;
    writer::use_schema(&mut tx, target.schema).await?;
    let mut checkpoint = writer::lock_checkpoint(&mut tx, target.projection).await?;
    let mut views: HashMap<Uuid, LicenseView> = HashMap::new();
    for sequence in checkpoint.stream_sequence + 1..=last {
        fill_gap(
            &mut tx,
            stream,
            target.projection,
            &mut views,
            &mut checkpoint,
            sequence,
        )
        .await?;
    }
    writer::save_views(&mut tx, &views).await?;
    writer::save_checkpoint(&mut tx, target.projection, &checkpoint).await?;
    tx.commit()
        .await
        .context("committing catch-up transaction")?;
    Ok(checkpoint)
}

/// Applies events read straight from the event store, in commit order, within the
/// caller's transaction, through the same code as stream messages (each is encoded
/// as the relay would publish it and decoded as a consumer would): the auditor's
/// replay. The checkpoint's stream sequence then counts the events applied.
pub async fn project_stored(
    tx: &mut Transaction<'_, Postgres>,
    target: Target<'_>,
    events: &[StoredEvent],
) -> anyhow::Result<Checkpoint> {
    writer::use_schema(tx, target.schema).await?;
    let mut checkpoint = writer::lock_checkpoint(tx, target.projection).await?;
    let named: Vec<Uuid> = events
        .iter()
        .filter(|event| event.aggregate_type == LICENSE_AGGREGATE)
        .filter_map(|event| event.aggregate_id.parse().ok())
        .collect();
    let mut views = writer::load_views(tx, &named).await?;
    for event in events {
        // The subject prefix does not matter to the read models.
        let message = event.to_message("replay")?;
        let incoming = RawMessage {
            sequence: checkpoint.stream_sequence + 1,
            subject: &message.subject,
            headers: Some(&message.headers),
            payload: &message.payload,
        };
        apply(
            tx,
            target.projection,
            &mut views,
            &mut checkpoint,
            &incoming,
        )
        .await?;
    }
    writer::save_views(tx, &views).await?;
    writer::save_checkpoint(tx, target.projection, &checkpoint).await?;
    Ok(checkpoint)
}

/// A sequence the consumer has not delivered yet but that precedes one it did:
/// read it straight from the stream so it is applied in order.
async fn fill_gap(
    tx: &mut Transaction<'_, Postgres>,
    stream: &Stream,
    projection: &str,
    views: &mut HashMap<Uuid, LicenseView>,
    checkpoint: &mut Checkpoint,
    sequence: u64,
) -> anyhow::Result<()> {
    match stream.get_raw_message(sequence).await {
        Ok(raw) => {
            let incoming = RawMessage {
                sequence,
                subject: raw.subject.as_str(),
                headers: Some(&raw.headers),
                payload: &raw.payload,
            };
            apply(tx, projection, views, checkpoint, &incoming).await
        }
        // Deleted from the stream by an operator: there is nothing to apply.
        Err(error) if error.kind() == LastRawMessageErrorKind::NoMessageFound => {
            tracing::warn!(sequence, "stream sequence missing; skipped");
            checkpoint.stream_sequence = sequence;
            Ok(())
        }
        Err(error) => Err(anyhow::anyhow!(
            "reading stream sequence {sequence}: {error}"
        )),
    }
}

/// A message as the consumer holds it, delivered or read straight from the stream.
struct RawMessage<'m> {
    sequence: u64,
    subject: &'m str,
    headers: Option<&'m HeaderMap>,
    payload: &'m [u8],
}

async fn apply(
    tx: &mut Transaction<'_, Postgres>,
    projection: &str,
    views: &mut HashMap<Uuid, LicenseView>,
    checkpoint: &mut Checkpoint,
    incoming: &RawMessage<'_>,
) -> anyhow::Result<()> {
    checkpoint.stream_sequence = incoming.sequence;
    let empty = HeaderMap::new();
    let headers = incoming.headers.unwrap_or(&empty);
    let decoded = match Incoming::decode(incoming.sequence, headers, incoming.payload) {
        Ok(decoded) => decoded,
        Err(error) => return set_aside(tx, projection, incoming, error.to_string()).await,
    };
    match &decoded {
        Incoming::License(streamed) => {
            let license_id = streamed.license_id.0;
            let view = match views.entry(license_id) {
                std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
                std::collections::hash_map::Entry::Vacant(entry) => {
                    entry.insert(writer::load_view(tx, license_id).await?)
                }
            };
            if let Err(error) = view.apply(streamed) {
                return set_aside(tx, projection, incoming, error.to_string()).await;
            }
        }
        Incoming::Usage(streamed) => writer::upsert_usage(tx, &usage_rows(streamed)).await?,
        // Integrity checkpoints are for auditors and analytics: only the position moves.
        Incoming::Checkpoint { .. } => {}
    }
    // A late duplicate must not move read-your-writes backwards: only advance.
    let position = decoded.commit_position();
    if position > (checkpoint.transaction_id, checkpoint.global_position) {
        (checkpoint.transaction_id, checkpoint.global_position) = position;
    }
    Ok(())
}

async fn set_aside(
    tx: &mut Transaction<'_, Postgres>,
    projection: &str,
    incoming: &RawMessage<'_>,
    reason: String,
) -> anyhow::Result<()> {
    tracing::error!(sequence = incoming.sequence, subject = incoming.subject, %reason,
        "message set aside: it cannot be applied");
    let headers: serde_json::Map<String, serde_json::Value> = incoming
        .headers
        .map(|headers| {
            headers
                .iter()
                .map(|(name, values)| {
                    let joined: Vec<&str> = values.iter().map(|v| v.as_str()).collect();
                    (name.to_string(), joined.join(", ").into())
                })
                .collect()
        })
        .unwrap_or_default();
    let rejected = Rejected {
        stream_sequence: incoming.sequence,
        subject: incoming.subject,
        reason,
        headers: headers.into(),
        payload: String::from_utf8_lossy(incoming.payload).into_owned(),
        at: chrono::Utc::now(),
    };
    writer::reject(tx, projection, &rejected).await?;
    Ok(())
}
