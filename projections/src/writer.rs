//! Loads and saves read-model rows and the projection checkpoint. Every function
//! takes the caller's transaction: rows and checkpoint commit together or not at all.
//!
//! Table names are unqualified: [`use_schema`] points the transaction at the live
//! `read_model` schema or at a rebuild's fresh one, so one code path fills both.

use std::collections::{BTreeMap, HashMap};

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

/// Loads the rows of many licenses in two queries (an empty view for each that
/// has none yet): a batch's views, before its messages are applied.
pub async fn load_views(
    conn: &mut PgConnection,
    license_ids: &[Uuid],
) -> sqlx::Result<HashMap<Uuid, LicenseView>> {
    let mut views: HashMap<Uuid, LicenseView> = license_ids
        .iter()
        .map(|id| (*id, LicenseView::default()))
        .collect();
    if views.is_empty() {
        return Ok(views);
    }
    // Planned each time (not a cached generic plan): a plan cached while the
    // tables were small (a rebuild starts empty) kept scanning them whole as they
    // grew, which made replays slow down with their size (measured by sampling
    // pg_stat_activity under the benchmark harness).
    let licenses: Vec<LicenseRow> =
        sqlx::query_as("SELECT * FROM licenses WHERE license_id = ANY($1)")
            .bind(license_ids)
            .persistent(false)
            .fetch_all(&mut *conn)
            .await?;
    for license in licenses {
        if let Some(view) = views.get_mut(&license.license_id) {
            view.license = Some(license);
        }
    }
    let allocations: Vec<AllocationRow> =
        sqlx::query_as("SELECT * FROM license_allocations WHERE license_id = ANY($1)")
            .bind(license_ids)
            .persistent(false)
            .fetch_all(&mut *conn)
            .await?;
    for allocation in allocations {
        if let Some(view) = views.get_mut(&allocation.license_id) {
            view.allocations
                .insert(allocation.allocation_id, allocation);
        }
    }
    Ok(views)
}

/// Writes what changed in the views: one statement per table, however many rows
/// (a statement a row was the projector's and the rebuild's main cost). Answers
/// the accounts whose version moved, with their new version
/// ([`account_versions`]).
pub async fn save_views(
    conn: &mut PgConnection,
    views: &HashMap<Uuid, LicenseView>,
) -> sqlx::Result<Vec<(Uuid, (i64, i64))>> {
    save_rows(conn, views).await?;
    let versions = account_versions(views);
    advance_account_positions(conn, &versions).await?;
    Ok(versions)
}

/// The licenses' and allocations' rows of [`save_views`] without the accounts'
/// versions: for a rebuild's writers, which advance those once for many batches
/// ([`advance_account_positions`]) instead of every writer locking the same
/// accounts' rows in every batch.
pub async fn save_rows(
    conn: &mut PgConnection,
    views: &HashMap<Uuid, LicenseView>,
) -> sqlx::Result<()> {
    let licenses: Vec<&LicenseRow> = views
        .values()
        .filter(|view| view.changed)
        .filter_map(|view| view.license.as_ref())
        .collect();
    let allocations: Vec<&AllocationRow> = views
        .values()
        .flat_map(|view| {
            view.changed_allocations
                .iter()
                .filter_map(|id| view.allocations.get(id))
        })
        .collect();
    upsert_licenses(conn, &licenses).await?;
    upsert_allocations(conn, &allocations).await
}

/// Each account's newest license event applied to `views` since they were
/// loaded, in stream order `(transaction_id, global_position)`: what moves its
/// pages' version. Sorted by account.
pub fn account_versions(views: &HashMap<Uuid, LicenseView>) -> Vec<(Uuid, (i64, i64))> {
    let mut newest: BTreeMap<Uuid, (i64, i64)> = BTreeMap::new();
    for view in views.values().filter(|view| view.changed) {
        if let (Some(row), Some(at)) = (&view.license, view.applied_at) {
            let version = newest.entry(row.account_id).or_insert(at);
            *version = (*version).max(at);
        }
    }
    newest.into_iter().collect()
}

/// Moves each account's applied version up to its newest license event saved:
/// what conditional GETs and the gateway's page cache compare (one row per
/// account, so the lookup stays one probe whatever the account's size). Compared
/// in stream order, the order events are applied in (a later event can carry a
/// lower global position), and never backwards, for a late duplicate.
pub async fn advance_account_positions(
    conn: &mut PgConnection,
    versions: &[(Uuid, (i64, i64))],
) -> sqlx::Result<()> {
    if versions.is_empty() {
        return Ok(());
    }
    let accounts: Vec<Uuid> = versions.iter().map(|(account, _)| *account).collect();
    let transactions: Vec<i64> = versions.iter().map(|(_, (tx, _))| *tx).collect();
    let positions: Vec<i64> = versions
        .iter()
        .map(|(_, (_, position))| *position)
        .collect();
    sqlx::query(
        "INSERT INTO account_positions AS a (account_id, license_transaction_id, license_position)
         SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::bigint[])
          -- One order for every writer: a rebuild's lanes touch the same accounts
          -- concurrently, and rows locked in one order cannot deadlock.
          ORDER BY 1
         ON CONFLICT (account_id) DO UPDATE
            SET (license_transaction_id, license_position) =
                (EXCLUDED.license_transaction_id, EXCLUDED.license_position)
          WHERE (EXCLUDED.license_transaction_id, EXCLUDED.license_position)
                > (a.license_transaction_id, a.license_position)",
    )
    .bind(accounts)
    .bind(transactions)
    .bind(positions)
    .execute(conn)
    .await?;
    Ok(())
}

async fn upsert_licenses(conn: &mut PgConnection, rows: &[&LicenseRow]) -> sqlx::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO licenses (license_id, account_id, product, edition, version,
            license_model, binding_type, feature, quantity, allocated, expires_on,
            maintenance_until, order_number, access_code, trial, partial_allocation, hidden,
            purchased_at, activated_at, last_sequence, last_position, updated_at)
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[],
            $6::text[], $7::text[], $8::text[], $9::integer[], $10::integer[], $11::date[],
            $12::date[], $13::text[], $14::text[], $15::boolean[], $16::boolean[],
            $17::boolean[], $18::timestamptz[], $19::timestamptz[], $20::bigint[],
            $21::bigint[], $22::timestamptz[])
         ON CONFLICT (license_id) DO UPDATE SET
            edition = EXCLUDED.edition, version = EXCLUDED.version, feature = EXCLUDED.feature,
            allocated = EXCLUDED.allocated, expires_on = EXCLUDED.expires_on,
            maintenance_until = EXCLUDED.maintenance_until, hidden = EXCLUDED.hidden,
            activated_at = EXCLUDED.activated_at, last_sequence = EXCLUDED.last_sequence,
            last_position = EXCLUDED.last_position, updated_at = EXCLUDED.updated_at",
    )
    .bind(column(rows, |r| r.license_id))
    .bind(column(rows, |r| r.account_id))
    .bind(column(rows, |r| r.product.clone()))
    .bind(column(rows, |r| r.edition.clone()))
    .bind(column(rows, |r| r.version.clone()))
    .bind(column(rows, |r| r.license_model.clone()))
    .bind(column(rows, |r| r.binding_type.clone()))
    .bind(column(rows, |r| r.feature.clone()))
    .bind(column(rows, |r| r.quantity))
    .bind(column(rows, |r| r.allocated))
    .bind(column(rows, |r| r.expires_on))
    .bind(column(rows, |r| r.maintenance_until))
    .bind(column(rows, |r| r.order_number.clone()))
    .bind(column(rows, |r| r.access_code.clone()))
    .bind(column(rows, |r| r.trial))
    .bind(column(rows, |r| r.partial_allocation))
    .bind(column(rows, |r| r.hidden))
    .bind(column(rows, |r| r.purchased_at))
    .bind(column(rows, |r| r.activated_at))
    .bind(column(rows, |r| r.last_sequence))
    .bind(column(rows, |r| r.last_position))
    .bind(column(rows, |r| r.updated_at))
    .execute(conn)
    .await?;
    Ok(())
}

async fn upsert_allocations(conn: &mut PgConnection, rows: &[&AllocationRow]) -> sqlx::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    // `unnest` cannot take an array of arrays: each row's revisions travel as an
    // array literal and are cast back.
    let revisions = column(rows, |r| {
        let listed: Vec<String> = r.file_revisions.iter().map(i64::to_string).collect();
        format!("{{{}}}", listed.join(","))
    });
    sqlx::query(
        "INSERT INTO license_allocations (allocation_id, license_id, account_id, host,
            quantity, status, replaced_by, allocated_at, ended_at, file_revision,
            file_issued_at, file_revisions)
         SELECT allocation_id, license_id, account_id, host, quantity, status, replaced_by,
                allocated_at, ended_at, file_revision, file_issued_at, file_revisions::bigint[]
           FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::integer[],
                $6::text[], $7::uuid[], $8::timestamptz[], $9::timestamptz[], $10::bigint[],
                $11::timestamptz[], $12::text[])
             AS t(allocation_id, license_id, account_id, host, quantity, status, replaced_by,
                  allocated_at, ended_at, file_revision, file_issued_at, file_revisions)
         ON CONFLICT (license_id, allocation_id) DO UPDATE SET
            status = EXCLUDED.status, replaced_by = EXCLUDED.replaced_by,
            ended_at = EXCLUDED.ended_at, file_revision = EXCLUDED.file_revision,
            file_issued_at = EXCLUDED.file_issued_at, file_revisions = EXCLUDED.file_revisions",
    )
    .bind(column(rows, |r| r.allocation_id))
    .bind(column(rows, |r| r.license_id))
    .bind(column(rows, |r| r.account_id))
    .bind(column(rows, |r| r.host.clone()))
    .bind(column(rows, |r| r.quantity))
    .bind(column(rows, |r| r.status.clone()))
    .bind(column(rows, |r| r.replaced_by))
    .bind(column(rows, |r| r.allocated_at))
    .bind(column(rows, |r| r.ended_at))
    .bind(column(rows, |r| r.file_revision))
    .bind(column(rows, |r| r.file_issued_at))
    .bind(revisions)
    .execute(conn)
    .await?;
    Ok(())
}

/// One column of `rows`, as an array parameter.
fn column<R, T>(rows: &[&R], value: impl Fn(&R) -> T) -> Vec<T> {
    rows.iter().map(|row| value(row)).collect()
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
