//! License servers: per host, what is allocated there — by license and feature —
//! and the license files that are current on it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

/// A license server and what it holds.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ServerSummary {
    /// The host id, exactly as allocated.
    pub host: String,
    /// Seats on live allocations.
    pub allocated: i64,
    /// Live allocations (one license file each).
    pub files: i64,
    /// Distinct features.
    pub features: Vec<String>,
}

/// One live allocation on a server, with its current license file.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ServerAllocation {
    /// The allocation; with `file_revision`, names its current license file.
    pub allocation_id: Uuid,
    /// The license.
    pub license_id: Uuid,
    /// Feature name.
    pub feature: String,
    /// Product code.
    pub product: String,
    /// Order number.
    pub order_number: String,
    /// Seats.
    pub quantity: i32,
    /// When it was allocated.
    pub allocated_at: DateTime<Utc>,
    /// The license version at which the current file was issued.
    pub file_revision: i64,
}

/// One page of an account's license servers, by host, after `after`.
pub async fn servers(
    pool: &PgPool,
    account_id: Uuid,
    after: Option<&str>,
    limit: u32,
) -> sqlx::Result<Vec<ServerSummary>> {
    sqlx::query_as(
        "SELECT a.host, sum(a.quantity)::bigint AS allocated, count(*) AS files,
                array_agg(DISTINCT l.feature ORDER BY l.feature) AS features
           FROM read_model.license_allocations a
           JOIN read_model.licenses l ON l.license_id = a.license_id
          WHERE a.account_id = $1 AND a.status = 'live' AND ($2::text IS NULL OR a.host > $2)
          GROUP BY a.host ORDER BY a.host LIMIT $3",
    )
    .bind(account_id)
    .bind(after)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
}

/// The live allocations on one server (empty if the account has none there).
pub async fn server_allocations(
    pool: &PgPool,
    account_id: Uuid,
    host: &str,
) -> sqlx::Result<Vec<ServerAllocation>> {
    sqlx::query_as(
        "SELECT a.allocation_id, a.license_id, l.feature, l.product, l.order_number, a.quantity,
                a.allocated_at, a.file_revision
           FROM read_model.license_allocations a
           JOIN read_model.licenses l ON l.license_id = a.license_id
          WHERE a.account_id = $1 AND a.host = $2 AND a.status = 'live'
          ORDER BY l.feature, a.allocated_at, a.allocation_id",
    )
    .bind(account_id)
    .bind(host)
    .fetch_all(pool)
    .await
}
