//! Typed queries over the read models, for the gateway. Every query is scoped to
//! one account in SQL; time-dependent answers take `as_of` instead of reading
//! the clock (DESIGN.md decision 4).

pub mod asset_components;
pub mod facts;
pub mod landing_page;
pub mod license_files;
pub mod license_servers;
pub mod overdraft;
pub mod page_version;
pub mod search;
pub mod time;

use std::time::Duration;

use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::license_view::{AllocationRow, LicenseRow};

/// A license and its allocations.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LicenseDetails {
    /// The license row.
    #[serde(flatten)]
    pub license: LicenseRow,
    /// Every allocation, live or not, oldest first.
    pub allocations: Vec<AllocationRow>,
}

/// One license, or `None` if the account has no such license.
pub async fn license(
    pool: &PgPool,
    account_id: Uuid,
    license_id: Uuid,
) -> sqlx::Result<Option<LicenseDetails>> {
    let license: Option<LicenseRow> = sqlx::query_as(
        "SELECT * FROM read_model.licenses WHERE account_id = $1 AND license_id = $2",
    )
    .bind(account_id)
    .bind(license_id)
    .fetch_optional(pool)
    .await?;
    let Some(license) = license else {
        return Ok(None);
    };
    let allocations = sqlx::query_as(
        "SELECT * FROM read_model.license_allocations
          WHERE account_id = $1 AND license_id = $2 ORDER BY allocated_at, allocation_id",
    )
    .bind(account_id)
    .bind(license_id)
    .fetch_all(pool)
    .await?;
    Ok(Some(LicenseDetails {
        license,
        allocations,
    }))
}

/// Why a read-your-writes wait ended without the position being applied.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    /// No event has that global position.
    #[error("no event has global position {0}")]
    UnknownPosition(i64),
    /// The projection did not reach the position in time.
    #[error("the read model has not reached position {position} after {waited:?}")]
    NotCaughtUp {
        /// The position waited for.
        position: i64,
        /// How long it waited.
        waited: Duration,
    },
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Waits until `projection` has applied the event at global `position`.
///
/// The stream is in commit order, `(transaction_id, global_position)`, which is not
/// global-position order, so "applied" means the checkpoint's pair is at or past the
/// event's pair — not merely a larger position.
pub async fn wait_for_position(
    pool: &PgPool,
    projection: &str,
    position: i64,
    timeout: Duration,
) -> Result<(), WaitError> {
    let target: Option<(i64,)> = sqlx::query_as(
        "SELECT transaction_id::text::bigint FROM events WHERE global_position = $1",
    )
    .bind(position)
    .fetch_optional(pool)
    .await?;
    let Some((transaction_id,)) = target else {
        return Err(WaitError::UnknownPosition(position));
    };
    let started = tokio::time::Instant::now();
    let mut pause = Duration::from_millis(2);
    loop {
        let reached: Option<(bool,)> = sqlx::query_as(
            "SELECT (transaction_id, global_position) >= ($2::text::xid8, $3)
               FROM read_model.checkpoints WHERE projection = $1",
        )
        .bind(projection)
        .bind(transaction_id.to_string())
        .bind(position)
        .fetch_optional(pool)
        .await?;
        if matches!(reached, Some((true,))) {
            return Ok(());
        }
        let waited = started.elapsed();
        if waited >= timeout {
            return Err(WaitError::NotCaughtUp { position, waited });
        }
        tokio::time::sleep(pause.min(timeout - waited)).await;
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}
