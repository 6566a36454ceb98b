//! The auditor's comparison: read models replayed from the event store into a
//! scratch schema, compared with the live ones row by row.
//!
//! Every table of `read_model` is compared except the projector's bookkeeping
//! (checkpoints, set-aside messages). A row present on one side and not, with the
//! same values, on the other is a difference; a row that differs in one column
//! shows up once on each side.

use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};

use crate::consumer::{LICENSES_PROJECTION, LIVE_SCHEMA};

/// The scratch schema an audit replays into.
pub const AUDIT_SCHEMA: &str = "read_model_audit";
/// Bookkeeping, not read models: they are expected to differ.
const NOT_COMPARED: [&str; 2] = ["checkpoints", "rejected_messages"];

/// A row on one side only.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    /// The table.
    pub table: String,
    /// `live` (the live read model has it, the replay does not) or `replay`.
    pub only_in: &'static str,
    /// The row, as JSON.
    pub row: Value,
}

/// The commit position `(transaction_id, global_position)` of the last event the
/// live projector applied; `(0, 0)` before the first.
pub async fn live_checkpoint(connection: &mut PgConnection) -> sqlx::Result<(i64, i64)> {
    let found: Option<(i64, i64)> = sqlx::query_as(&format!(
        "SELECT transaction_id::text::bigint, global_position
           FROM {LIVE_SCHEMA}.checkpoints WHERE projection = $1"
    ))
    .bind(LICENSES_PROJECTION)
    .fetch_optional(&mut *connection)
    .await?;
    Ok(found.unwrap_or_default())
}

/// Holds the live projector still until the transaction of `connection` ends: it
/// locks its checkpoint row for each batch it applies.
pub async fn hold_live_projector(connection: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "SELECT 1 FROM {LIVE_SCHEMA}.checkpoints WHERE projection = $1 FOR UPDATE"
    ))
    .bind(LICENSES_PROJECTION)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// Removes the audit's scratch schema and everything replayed into it.
pub async fn drop_scratch(pool: &PgPool) -> sqlx::Result<()> {
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {AUDIT_SCHEMA} CASCADE"))
        .execute(pool)
        .await?;
    Ok(())
}

/// Up to `limit` differences per table and side between `read_model` and `scratch`.
pub async fn differences(
    connection: &mut PgConnection,
    scratch: &str,
    limit: i64,
) -> sqlx::Result<Vec<Difference>> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
          WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name",
    )
    .bind(LIVE_SCHEMA)
    .fetch_all(&mut *connection)
    .await?;
    let mut found = Vec::new();
    for table in tables
        .into_iter()
        .filter(|table| !NOT_COMPARED.contains(&table.as_str()))
    {
        // Names come from the catalog, quoted as identifiers.
        let quoted = format!("\"{}\"", table.replace('"', "\"\""));
        for (only_in, from, other) in [
            ("live", LIVE_SCHEMA, scratch),
            ("replay", scratch, LIVE_SCHEMA),
        ] {
            let rows: Vec<Value> = sqlx::query_scalar(&format!(
                "SELECT to_jsonb(only_here) FROM
                   (SELECT * FROM {from}.{quoted} EXCEPT ALL SELECT * FROM {other}.{quoted}) only_here
                 LIMIT $1"
            ))
            .bind(limit)
            .fetch_all(&mut *connection)
            .await?;
            found.extend(rows.into_iter().map(|row| Difference {
                table: table.clone(),
                only_in,
                row,
            }));
        }
    }
    Ok(found)
}
