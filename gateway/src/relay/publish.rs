//! Publishing a batch: sent pipelined, each message expecting its predecessor at
//! the stream's end, and settled — every ack awaited, then the relay's checkpoint
//! saved — while the next batch is read and sent.

use anyhow::Context as _;
use async_nats::jetstream::{self, context::PublishAckFuture};
use futures::future::try_join_all;
use ledger_projections::contract::OutgoingMessage;
use sqlx::PgConnection;

use super::RELAY_NAME;
use crate::write::event_store::CommitPosition;

/// A batch handed to JetStream whose acks have not been awaited yet.
pub(super) struct Sent {
    pub(super) acks: Vec<PublishAckFuture>,
    /// The last event sent.
    pub(super) position: CommitPosition,
    /// The stream's last sequence once every message of the batch is stored.
    pub(super) stream_end: u64,
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
) -> anyhow::Result<Sent> {
    let mut acks = Vec::with_capacity(messages.len());
    for message in messages {
        acks.push(
            jetstream
                .publish_with_headers(message.subject, message.headers, message.payload)
                .await
                .context("publishing to JetStream")?,
        );
    }
    Ok(Sent {
        stream_end: stream_end + acks.len() as u64,
        acks,
        position: last,
    })
}

/// Waits for every ack of a sent batch, then moves the relay's checkpoint past it.
/// Every message expected its predecessor at the stream's end, so an acked batch
/// ends exactly where it was sent to end; anything else (a message the stream
/// already held) starts the relay over from the stream's true end.
#[tracing::instrument(name = "ledger.relay.settle", skip_all, fields(events = sent.acks.len()), err)]
pub(super) async fn settle(lock: &mut PgConnection, sent: Sent) -> anyhow::Result<()> {
    let acks = try_join_all(
        sent.acks
            .into_iter()
            .map(std::future::IntoFuture::into_future),
    )
    .await
    .context("waiting for JetStream acks")?;
    if let Some(ack) = acks.last() {
        anyhow::ensure!(
            ack.sequence == sent.stream_end,
            "JetStream stored the batch's last message at sequence {} instead of {}",
            ack.sequence,
            sent.stream_end
        );
    }
    save_checkpoint(lock, sent.position).await
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
