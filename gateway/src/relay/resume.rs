//! Where an active relay starts: after the stream's last message, once that
//! message is proven to be an event of this store, and only while commit order
//! (PostgreSQL's transaction ids) still moves forward.

use anyhow::Context as _;
use async_nats::jetstream::stream::Stream;
use ledger_projections::contract::header;
use sqlx::PgConnection;

use super::RELAY_NAME;
use crate::write::event_store::CommitPosition;

/// Commit order rests on PostgreSQL's transaction-id counter moving forward. A
/// logical dump and restore restarts it below the ids already stored, and every new
/// event would then sort before the ones published: refuse to run instead.
pub(super) async fn refuse_if_transaction_ids_went_back(
    lock: &mut PgConnection,
) -> anyhow::Result<()> {
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
pub(super) async fn resume_position(
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
