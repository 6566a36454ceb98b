//! Loads and saves read-model rows and the projection checkpoint. Every function
//! takes the caller's transaction: rows and checkpoint commit together or not at all.
//!
//! Table names are unqualified: [`use_schema`] points the transaction at the live
//! `read_model` schema or at a rebuild's fresh one, so one code path fills both.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, Postgres, Transaction};
use uuid::Uuid;

use crate::license_view::{AllocationRow, LicenseRow, LicenseView};
use crate::usage_view::UsageRow;

/// How far a projection has applied the stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checkpoint {
    /// Last stream sequence applied (or set aside).
    pub stream_sequence: u64,
    /// Transaction id of the last event applied.
    pub transaction_id: i64,
    /// Global position of the last event applied.
    pub global_position: i64,
}

/// Points the rest of the transaction at `schema`'s tables.
pub async fn use_schema(tx: &mut Transaction<'_, Postgres>, schema: &str) -> sqlx::Result<()> {
    sqlx::query("SELECT set_config('search_path', $1, true)")
        .bind(schema)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Reads the checkpoint and locks it for the rest of the transaction, so two
/// instances of one projection never apply the same messages concurrently.
pub async fn lock_checkpoint(
    tx: &mut Transaction<'_, Postgres>,
    projection: &str,
) -> sqlx::Result<Checkpoint> {
    sqlx::query(
        "INSERT INTO checkpoints (projection, stream_sequence, transaction_id, global_position)
         VALUES ($1, 0, '0'::xid8, 0) ON CONFLICT (projection) DO NOTHING",
    )
    .bind(projection)
    .execute(&mut **tx)
    .await?;
    let (stream_sequence, transaction_id, global_position): (i64, i64, i64) = sqlx::query_as(
        "SELECT stream_sequence, transaction_id::text::bigint, global_position
           FROM checkpoints WHERE projection = $1 FOR UPDATE",
    )
    .bind(projection)
    .fetch_one(&mut **tx)
    .await?;
    Ok(Checkpoint {
        stream_sequence: u64::try_from(stream_sequence).unwrap_or(0),
        transaction_id,
        global_position,
    })
}

/// Stores the checkpoint reached.
pub async fn save_checkpoint(
    tx: &mut Transaction<'_, Postgres>,
    projection: &str,
    checkpoint: &Checkpoint,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE checkpoints
            SET stream_sequence = $2, transaction_id = $3::text::xid8, global_position = $4,
                updated_at = now()
          WHERE projection = $1",
    )
    .bind(projection)
    .bind(i64::try_from(checkpoint.stream_sequence).unwrap_or(i64::MAX))
    .bind(checkpoint.transaction_id.to_string())
    .bind(checkpoint.global_position)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Loads one license's rows (an empty view if it has none yet).
pub async fn load_view(conn: &mut PgConnection, license_id: Uuid) -> sqlx::Result<LicenseView> {
    let license: Option<LicenseRow> =
        sqlx::query_as("SELECT * FROM licenses WHERE license_id = $1")
            .bind(license_id)
            .fetch_optional(&mut *conn)
            .await?;
    let allocations: Vec<AllocationRow> =
        sqlx::query_as("SELECT * FROM license_allocations WHERE license_id = $1")
            .bind(license_id)
            .fetch_all(&mut *conn)
            .await?;
    Ok(LicenseView {
        license,
        allocations: allocations
            .into_iter()
            .map(|a| (a.allocation_id, a))
            .collect(),
        ..LicenseView::default()
    })
}

/// Writes what changed in a view.
pub async fn save_view(conn: &mut PgConnection, view: &LicenseView) -> sqlx::Result<()> {
    if let (true, Some(row)) = (view.changed, &view.license) {
        upsert_license(conn, row).await?;
    }
    for id in &view.changed_allocations {
        if let Some(allocation) = view.allocations.get(id) {
            upsert_allocation(conn, allocation).await?;
        }
    }
    Ok(())
}

async fn upsert_license(conn: &mut PgConnection, row: &LicenseRow) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO licenses (license_id, account_id, product, edition, version,
            license_model, binding_type, feature, quantity, allocated, expires_on,
            maintenance_until, order_number, access_code, trial, partial_allocation, hidden,
            purchased_at, activated_at, last_sequence, last_position, updated_at)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22)
         ON CONFLICT (license_id) DO UPDATE SET
            edition = EXCLUDED.edition, version = EXCLUDED.version, feature = EXCLUDED.feature,
            allocated = EXCLUDED.allocated, expires_on = EXCLUDED.expires_on,
            maintenance_until = EXCLUDED.maintenance_until, hidden = EXCLUDED.hidden,
            activated_at = EXCLUDED.activated_at, last_sequence = EXCLUDED.last_sequence,
            last_position = EXCLUDED.last_position, updated_at = EXCLUDED.updated_at",
    )
    .bind(row.license_id)
    .bind(row.account_id)
    .bind(&row.product)
    .bind(&row.edition)
    .bind(&row.version)
    .bind(&row.license_model)
    .bind(&row.binding_type)
    .bind(&row.feature)
    .bind(row.quantity)
    .bind(row.allocated)
    .bind(row.expires_on)
    .bind(row.maintenance_until)
    .bind(&row.order_number)
    .bind(&row.access_code)
    .bind(row.trial)
    .bind(row.partial_allocation)
    .bind(row.hidden)
    .bind(row.purchased_at)
    .bind(row.activated_at)
    .bind(row.last_sequence)
    .bind(row.last_position)
    .bind(row.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

async fn upsert_allocation(conn: &mut PgConnection, row: &AllocationRow) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO license_allocations (allocation_id, license_id, account_id, host,
            quantity, status, replaced_by, allocated_at, ended_at, file_revision,
            file_issued_at, file_revisions)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)
         ON CONFLICT (allocation_id) DO UPDATE SET
            status = EXCLUDED.status, replaced_by = EXCLUDED.replaced_by,
            ended_at = EXCLUDED.ended_at, file_revision = EXCLUDED.file_revision,
            file_issued_at = EXCLUDED.file_issued_at, file_revisions = EXCLUDED.file_revisions",
    )
    .bind(row.allocation_id)
    .bind(row.license_id)
    .bind(row.account_id)
    .bind(&row.host)
    .bind(row.quantity)
    .bind(&row.status)
    .bind(row.replaced_by)
    .bind(row.allocated_at)
    .bind(row.ended_at)
    .bind(row.file_revision)
    .bind(row.file_issued_at)
    .bind(&row.file_revisions)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes reported peaks; a row already holding a later report is kept, so a
/// redelivered or out-of-date report changes nothing.
pub async fn upsert_usage(conn: &mut PgConnection, rows: &[UsageRow]) -> sqlx::Result<()> {
    for row in rows {
        sqlx::query(
            "INSERT INTO server_usage
                (account_id, host, day, feature, peak_in_use, revision, reported_at)
             VALUES ($1,$2,$3,$4,$5,$6,$7)
             ON CONFLICT (account_id, day, host, feature) DO UPDATE SET
                peak_in_use = EXCLUDED.peak_in_use, revision = EXCLUDED.revision,
                reported_at = EXCLUDED.reported_at
             WHERE server_usage.revision < EXCLUDED.revision",
        )
        .bind(row.account_id)
        .bind(&row.host)
        .bind(row.day)
        .bind(&row.feature)
        .bind(row.peak_in_use)
        .bind(row.revision)
        .bind(row.reported_at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// A message this projection cannot apply, kept for an operator.
#[derive(Debug, Clone)]
pub struct Rejected<'a> {
    /// Its stream sequence.
    pub stream_sequence: u64,
    /// Its subject.
    pub subject: &'a str,
    /// Why it was set aside.
    pub reason: String,
    /// Its headers, as JSON.
    pub headers: Value,
    /// Its payload, lossily as text.
    pub payload: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// Records a rejected message (once: a redelivery does not add a second row).
pub async fn reject(
    conn: &mut PgConnection,
    projection: &str,
    rejected: &Rejected<'_>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO rejected_messages
            (projection, stream_sequence, subject, reason, headers, payload, rejected_at)
         VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT DO NOTHING",
    )
    .bind(projection)
    .bind(i64::try_from(rejected.stream_sequence).unwrap_or(i64::MAX))
    .bind(rejected.subject)
    .bind(&rejected.reason)
    .bind(&rejected.headers)
    .bind(&rejected.payload)
    .bind(rejected.at)
    .execute(conn)
    .await?;
    Ok(())
}
