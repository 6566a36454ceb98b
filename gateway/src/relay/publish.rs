//! Publishing a batch: sent pipelined, each message expecting its predecessor at
//! the stream's end, and settled — every ack awaited, then the relay's checkpoint
//! saved — while the next batch is read and sent. Each settled batch is counted
//! with its latency, each failed one as a failure.

use std::time::Instant;

use anyhow::Context as _;
use async_nats::jetstream::{self, context::PublishAckFuture};
use futures::future::try_join_all;
use ledger_projections::contract::{header, OutgoingMessage};
use sqlx::PgConnection;

use super::RELAY_NAME;
use crate::metrics::RelayMetrics;
use crate::nats::Disconnects;
use crate::write::event_store::CommitPosition;

/// A batch handed to JetStream whose acks have not been awaited yet.
pub(super) struct Sent {
    pub(super) acks: Vec<PublishAckFuture>,
    /// One span per traced event, from its send until its batch is acknowledged.
    spans: Vec<tracing::Span>,
    /// The last event sent.
    pub(super) position: CommitPosition,
    /// The stream's last sequence once every message of the batch is stored.
    pub(super) stream_end: u64,
    /// When its first message was sent.
    started: Instant,
    /// The NATS connection's losses before it was sent: a later loss means some
    /// acks will never come.
    losses_before: u64,
}

/// Sends a batch pipelined, in order, each message expecting the one before it at
/// the stream's end (which `stream_end` is before the first; see
/// [`OutgoingMessage::expecting`]), without awaiting the acks: [`settle`] does.
#[tracing::instrument(name = "ledger.relay.publish", skip_all, fields(events = messages.len()), err)]
pub(super) async fn send(
    jetstream: &jetstream::Context,
    messages: Vec<OutgoingMessage>,
    stream_end: u64,
    last: CommitPosition,
    disconnects: &Disconnects,
    metrics: &RelayMetrics,
) -> anyhow::Result<Sent> {
    let started = Instant::now();
    let losses_before = disconnects.seen();
    let mut acks = Vec::with_capacity(messages.len());
    let mut spans = Vec::new();
    for mut message in messages {
        spans.extend(continue_trace(&mut message));
        let ack = jetstream
            .publish_with_headers(message.subject, message.headers, message.payload)
            .await
            .context("publishing to JetStream")
            .inspect_err(|_| {
                metrics.failures.inc();
            })?;
        acks.push(ack);
    }
    Ok(Sent {
        stream_end: stream_end + acks.len() as u64,
        acks,
        spans,
        position: last,
        started,
        losses_before,
    })
}

/// For an event whose command was traced (its message carries a `traceparent`),
/// a span in that trace for its publishing, which becomes the message's parent:
/// the projector's span then follows it, so one trace runs from the HTTP request
/// through the append and the publish to the read model. Untraced events cost
/// nothing. The new `traceparent` has the same length, so the size checked
/// against the broker's limit holds.
fn continue_trace(message: &mut OutgoingMessage) -> Option<tracing::Span> {
    let parent = message
        .headers
        .get(header::TRACEPARENT)?
        .as_str()
        .to_owned();
    let span = tracing::info_span!(
        "ledger.relay.publish_event",
        subject = %message.subject,
    );
    crate::telemetry::continue_trace_from(&parent, &span);
    if let Some(own) = span.in_scope(crate::telemetry::current_traceparent) {
        message.headers.insert(header::TRACEPARENT, own.as_str());
    }
    Some(span)
}

/// Waits for every ack of a sent batch, then moves the relay's checkpoint past it.
/// Every message expected its predecessor at the stream's end, so an acked batch
/// ends exactly where it was sent to end; anything else (a message the stream
/// already held) starts the relay over from the stream's true end.
#[tracing::instrument(name = "ledger.relay.settle", skip_all, fields(events = sent.acks.len()), err)]
pub(super) async fn settle(
    lock: &mut PgConnection,
    sent: Sent,
    disconnects: &Disconnects,
    metrics: &RelayMetrics,
) -> anyhow::Result<()> {
    let pending = sent.acks.len();
    let all_acks = try_join_all(
        sent.acks
            .into_iter()
            .map(std::future::IntoFuture::into_future),
    );
    // Acks owed to a lost connection never come: starting over at once from the
    // stream's true end beats waiting out the ack timeout (5 s after every NATS
    // restart, measured).
    let acks = tokio::select! {
        biased;
        acks = all_acks => acks.context("waiting for JetStream acks"),
        () = disconnects.after(sent.losses_before) => Err(anyhow::anyhow!(
            "the NATS connection was lost with {pending} acks pending; they cannot come"
        )),
    }
    .inspect_err(|_| {
        metrics.failures.inc();
    })?;
    drop(sent.spans);
    if let Some(ack) = acks.last() {
        if ack.sequence != sent.stream_end {
            metrics.failures.inc();
            anyhow::bail!(
                "JetStream stored the batch's last message at sequence {} instead of {}",
                ack.sequence,
                sent.stream_end
            );
        }
    }
    save_checkpoint(lock, sent.position).await?;
    metrics.published.inc_by(acks.len() as u64);
    metrics
        .batch_duration
        .observe(sent.started.elapsed().as_secs_f64());
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
