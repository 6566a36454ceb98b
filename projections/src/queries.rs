//! Typed queries over the read models, for the gateway. Every query is scoped to
//! one account in SQL; time-dependent answers take `as_of` instead of reading
//! the clock (DESIGN.md decision 4).

use std::time::Duration;

use chrono::{DateTime, Days, NaiveDate, NaiveTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::license_view::{AllocationRow, LicenseRow};

/// A license is "new" this many days after its purchase date (inclusive).
pub const NEW_FOR_DAYS: u64 = 30;
/// A term license is "expiring" from this many days before its expiry (inclusive).
pub const EXPIRING_WITHIN_DAYS: u64 = 90;
/// Expiring licenses with at most this many days left show red; the rest orange.
pub const RED_UP_TO_DAYS: i64 = 30;
/// Each landing-page section shows this many licenses.
pub const LANDING_PAGE_SIZE: i64 = 5;

/// A license and its allocations.
#[derive(Debug, Clone, PartialEq, Serialize)]
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

/// The portal's landing page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LandingPage {
    /// The instant "new" and "expiring" were computed for.
    pub as_of: DateTime<Utc>,
    /// The five most recent purchases of the last 30 days.
    pub new_licenses: Vec<NewLicense>,
    /// The five most recent purchases among term licenses expiring within 90 days.
    pub expiring_licenses: Vec<ExpiringLicense>,
}

/// A landing-page line for a new license.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct NewLicense {
    /// The license.
    pub license_id: Uuid,
    /// Feature name.
    pub feature: String,
    /// Product code.
    pub product: String,
    /// Edition code.
    pub edition: String,
    /// Seats on live allocations.
    pub allocated: i32,
    /// Seats purchased.
    pub quantity: i32,
    /// When it was purchased.
    pub purchased_at: DateTime<Utc>,
    /// Order number.
    pub order_number: String,
}

/// A landing-page line for an expiring term license.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExpiringLicense {
    /// The license.
    pub license_id: Uuid,
    /// Feature name.
    pub feature: String,
    /// Last valid day.
    pub expires_on: NaiveDate,
    /// Days from `as_of`'s date to `expires_on` (0: expires today).
    pub days_left: i64,
    /// `red` (0–30 days left) or `orange` (31–90).
    pub band: &'static str,
    /// Seats on live allocations.
    pub allocated: i32,
    /// Seats purchased.
    pub quantity: i32,
    /// When it was purchased.
    pub purchased_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ExpiringRow {
    license_id: Uuid,
    feature: String,
    expires_on: NaiveDate,
    allocated: i32,
    quantity: i32,
    purchased_at: DateTime<Utc>,
}

/// The landing page of one account as of an instant. Hidden licenses are left out.
pub async fn landing_page(
    pool: &PgPool,
    account_id: Uuid,
    as_of: DateTime<Utc>,
) -> sqlx::Result<LandingPage> {
    let today = as_of.date_naive();
    let new_since = today
        .checked_sub_days(Days::new(NEW_FOR_DAYS))
        .unwrap_or(NaiveDate::MIN)
        .and_time(NaiveTime::MIN)
        .and_utc();
    let expiring_until = today
        .checked_add_days(Days::new(EXPIRING_WITHIN_DAYS))
        .unwrap_or(NaiveDate::MAX);
    let new_licenses = sqlx::query_as(
        "SELECT license_id, feature, product, edition, allocated, quantity, purchased_at,
                order_number
           FROM read_model.licenses
          WHERE account_id = $1 AND NOT hidden AND purchased_at >= $2 AND purchased_at <= $3
          ORDER BY purchased_at DESC, license_id LIMIT $4",
    )
    .bind(account_id)
    .bind(new_since)
    .bind(as_of)
    .bind(LANDING_PAGE_SIZE)
    .fetch_all(pool)
    .await?;
    let expiring: Vec<ExpiringRow> = sqlx::query_as(
        "SELECT license_id, feature, expires_on, allocated, quantity, purchased_at
           FROM read_model.licenses
          WHERE account_id = $1 AND NOT hidden AND expires_on BETWEEN $2 AND $3
            AND purchased_at <= $4
          ORDER BY purchased_at DESC, license_id LIMIT $5",
    )
    .bind(account_id)
    .bind(today)
    .bind(expiring_until)
    .bind(as_of)
    .bind(LANDING_PAGE_SIZE)
    .fetch_all(pool)
    .await?;
    let expiring_licenses = expiring
        .into_iter()
        .map(|row| {
            let days_left = (row.expires_on - today).num_days();
            ExpiringLicense {
                license_id: row.license_id,
                feature: row.feature,
                expires_on: row.expires_on,
                days_left,
                band: if days_left <= RED_UP_TO_DAYS {
                    "red"
                } else {
                    "orange"
                },
                allocated: row.allocated,
                quantity: row.quantity,
                purchased_at: row.purchased_at,
            }
        })
        .collect();
    Ok(LandingPage {
        as_of,
        new_licenses,
        expiring_licenses,
    })
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
