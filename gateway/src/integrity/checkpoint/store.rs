//! The checkpoints' reads and write in the event store: the settled cut, the
//! stream heads at a cut, the checkpoint stream itself.
//!
//! Checkpoints are events of their own stream (`IntegrityCheckpoint`/`store`),
//! so they are hash-chained like every other stream and the relay publishes them
//! in commit order. Version 1 covered every other stream's head, never their own;
//! version 2, a tree head, covers every event before it, checkpoints included.

use ledger_projections::contract::{
    CHECKPOINT_AGGREGATE_TYPE, CHECKPOINT_STREAM_ID, SYSTEM_ACCOUNT,
};
use sqlx::PgConnection;
use uuid::Uuid;

use super::canonical::{hex, Head, SignedCheckpoint, EVENT_TYPE, EVENT_VERSION as HEADS_VERSION};
use super::tree_head::{self, TreeHead};
use crate::write::event_store::CommitPosition;

/// The newest settled event outside the checkpoint stream: no transaction still
/// running can add an event at or before it. Run it in the transaction that then
/// reads the heads (REPEATABLE READ), so both see one snapshot.
pub async fn settled_cut(connection: &mut PgConnection) -> sqlx::Result<Option<CommitPosition>> {
    let found: Option<(i64, i64)> = sqlx::query_as(
        "SELECT transaction_id::text::bigint, global_position FROM public.events
          WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
            AND aggregate_type <> $1
          ORDER BY transaction_id DESC, global_position DESC
          LIMIT 1",
    )
    .bind(CHECKPOINT_AGGREGATE_TYPE)
    .fetch_optional(&mut *connection)
    .await?;
    Ok(
        found.map(|(transaction_id, global_position)| CommitPosition {
            transaction_id,
            global_position,
        }),
    )
}

/// A stream head, with where its event is in commit order.
#[derive(Debug, Clone)]
pub struct PositionedHead {
    /// The head.
    pub head: Head,
    /// Its event's commit position.
    pub position: CommitPosition,
}

#[derive(sqlx::FromRow)]
struct HeadRow {
    account_id: String,
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    hash: Vec<u8>,
    transaction_id: i64,
    global_position: i64,
}

/// Every stream's last event at or before `cut` (only `account`'s when given),
/// the checkpoint stream left out.
pub async fn heads_at(
    connection: &mut PgConnection,
    cut: CommitPosition,
    account: Option<Uuid>,
) -> sqlx::Result<Vec<PositionedHead>> {
    let rows: Vec<HeadRow> = sqlx::query_as(
        "SELECT DISTINCT ON (aggregate_type, aggregate_id)
                coalesce(metadata->>'account_id', '') AS account_id, aggregate_type,
                aggregate_id, sequence, hash,
                transaction_id::text::bigint AS transaction_id, global_position
           FROM public.events
          WHERE (transaction_id, global_position) <= ($1::text::xid8, $2)
            AND aggregate_type <> $3
            AND ($4::text IS NULL OR metadata->>'account_id' = $4)
          ORDER BY aggregate_type, aggregate_id, sequence DESC",
    )
    .bind(cut.transaction_id.to_string())
    .bind(cut.global_position)
    .bind(CHECKPOINT_AGGREGATE_TYPE)
    .bind(account.map(|id| id.to_string()))
    .fetch_all(&mut *connection)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| PositionedHead {
            head: Head {
                account_id: row.account_id,
                aggregate_type: row.aggregate_type,
                aggregate_id: row.aggregate_id,
                sequence: row.sequence,
                hash: hex(&row.hash),
            },
            position: CommitPosition {
                transaction_id: row.transaction_id,
                global_position: row.global_position,
            },
        })
        .collect())
}

/// Events outside the checkpoint stream before (`at_or_before`) or after `cut`.
pub async fn count_events(
    connection: &mut PgConnection,
    cut: CommitPosition,
    at_or_before: bool,
    account: Option<Uuid>,
) -> sqlx::Result<u64> {
    let side = if at_or_before { "<=" } else { ">" };
    let count: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM public.events
          WHERE (transaction_id, global_position) {side} ($1::text::xid8, $2)
            AND aggregate_type <> $3
            AND ($4::text IS NULL OR metadata->>'account_id' = $4)"
    ))
    .bind(cut.transaction_id.to_string())
    .bind(cut.global_position)
    .bind(CHECKPOINT_AGGREGATE_TYPE)
    .bind(account.map(|id| id.to_string()))
    .fetch_one(&mut *connection)
    .await?;
    Ok(u64::try_from(count).unwrap_or(0))
}

/// The global position of a stream's event, if it exists.
pub async fn position_of(
    connection: &mut PgConnection,
    aggregate_type: &str,
    aggregate_id: &str,
    sequence: i64,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "SELECT global_position FROM public.events
          WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence = $3",
    )
    .bind(aggregate_type)
    .bind(aggregate_id)
    .bind(sequence)
    .fetch_optional(&mut *connection)
    .await
}

/// The global position of a stream's first event, if it has any.
pub async fn first_position(
    connection: &mut PgConnection,
    aggregate_type: &str,
    aggregate_id: &str,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "SELECT global_position FROM public.events
          WHERE aggregate_type = $1 AND aggregate_id = $2
          ORDER BY sequence LIMIT 1",
    )
    .bind(aggregate_type)
    .bind(aggregate_id)
    .fetch_optional(&mut *connection)
    .await
}

/// A checkpoint event as stored: its sequence, version and payload.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredCheckpoint {
    /// Its sequence in the checkpoint stream.
    pub sequence: i64,
    /// Its global position.
    pub global_position: i64,
    /// `1`: stream heads; `2`: a signed tree head.
    pub event_version: String,
    /// The stored payload (`{"Checkpointed": {…}}`).
    pub payload: serde_json::Value,
}

/// A stored checkpoint of either version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyCheckpoint {
    /// Version 1: every stream head at a cut (no longer written).
    Heads(SignedCheckpoint),
    /// Version 2: a signed tree head.
    Tree(TreeHead),
}

impl StoredCheckpoint {
    /// The checkpoint its payload holds.
    pub fn parse(&self) -> Result<AnyCheckpoint, String> {
        let body = ledger_domain::events::untag(self.payload.clone());
        match self.event_version.as_str() {
            HEADS_VERSION => serde_json::from_value(body)
                .map(AnyCheckpoint::Heads)
                .map_err(|e| e.to_string()),
            tree_head::EVENT_VERSION => serde_json::from_value(body)
                .map(AnyCheckpoint::Tree)
                .map_err(|e| e.to_string()),
            other => Err(format!("unknown checkpoint version {other}")),
        }
    }
}

/// Every checkpoint, oldest first (`newest_only`: the newest alone).
pub async fn checkpoints(
    connection: &mut PgConnection,
    newest_only: bool,
) -> sqlx::Result<Vec<StoredCheckpoint>> {
    let mut found: Vec<StoredCheckpoint> = sqlx::query_as(&format!(
        "SELECT sequence, global_position, event_version, payload FROM public.events
          WHERE aggregate_type = $1 AND aggregate_id = $2
          ORDER BY sequence DESC {}",
        if newest_only { "LIMIT 1" } else { "" }
    ))
    .bind(CHECKPOINT_AGGREGATE_TYPE)
    .bind(CHECKPOINT_STREAM_ID)
    .fetch_all(&mut *connection)
    .await?;
    found.reverse();
    Ok(found)
}

/// When the newest checkpoint was recorded, if there is one.
pub async fn newest_at(pool: &sqlx::PgPool) -> sqlx::Result<Option<chrono::DateTime<chrono::Utc>>> {
    sqlx::query_scalar(
        "SELECT recorded_at FROM public.events
          WHERE aggregate_type = $1 AND aggregate_id = $2
          ORDER BY sequence DESC LIMIT 1",
    )
    .bind(CHECKPOINT_AGGREGATE_TYPE)
    .bind(CHECKPOINT_STREAM_ID)
    .fetch_optional(pool)
    .await
}

/// Appends a checkpoint event (`version` and body) as number `checkpoint`: its
/// sequence, so a second writer racing for the same number fails on the events'
/// key. Returns its global position.
pub async fn append(
    connection: &mut PgConnection,
    checkpoint: i64,
    version: &str,
    body: serde_json::Value,
    at: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<i64> {
    let payload = serde_json::json!({ EVENT_TYPE: body });
    let metadata = serde_json::json!({
        "account_id": SYSTEM_ACCOUNT,
        "actor": "ledger-relay",
        "occurred_at": at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    });
    let global_position: i64 = sqlx::query_scalar(
        "INSERT INTO public.events
                (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         RETURNING global_position",
    )
    .bind(CHECKPOINT_AGGREGATE_TYPE)
    .bind(CHECKPOINT_STREAM_ID)
    .bind(checkpoint)
    .bind(EVENT_TYPE)
    .bind(version)
    .bind(sqlx::types::Json(payload))
    .bind(sqlx::types::Json(metadata))
    .fetch_one(&mut *connection)
    .await?;
    Ok(global_position)
}
