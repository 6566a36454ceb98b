//! The portal's landing page: the five newest licenses of the last 30 days and
//! five term licenses expiring within 90 days, as of an instant.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use super::time::{expiry_band, Window, LANDING_PAGE_SIZE};

/// The portal's landing page.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LandingPage {
    /// The instant "new" and "expiring" were computed for.
    pub as_of: DateTime<Utc>,
    /// The five most recent purchases of the last 30 days.
    pub new_licenses: Vec<NewLicense>,
    /// The five most recent purchases among term licenses expiring within 90 days.
    pub expiring_licenses: Vec<ExpiringLicense>,
}

/// A landing-page line for a new license.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
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

/// The landing page of one account as of an instant, from the read models in
/// `schema` (the live ones, or a replay of history). Hidden licenses are left out.
pub async fn landing_page(
    connection: &mut PgConnection,
    schema: &str,
    account_id: Uuid,
    as_of: DateTime<Utc>,
) -> sqlx::Result<LandingPage> {
    let window = Window::new(as_of);
    let new_licenses = sqlx::query_as(&format!(
        "SELECT license_id, feature, product, edition, allocated, quantity, purchased_at,
                order_number
           FROM {schema}.licenses
          WHERE account_id = $1 AND NOT hidden AND purchased_at >= $2 AND purchased_at <= $3
          ORDER BY purchased_at DESC, license_id LIMIT $4"
    ))
    .bind(account_id)
    .bind(window.new_since)
    .bind(as_of)
    .bind(LANDING_PAGE_SIZE)
    .fetch_all(&mut *connection)
    .await?;
    let expiring: Vec<ExpiringRow> = sqlx::query_as(&format!(
        "SELECT license_id, feature, expires_on, allocated, quantity, purchased_at
           FROM {schema}.licenses
          WHERE account_id = $1 AND NOT hidden AND expires_on BETWEEN $2 AND $3
            AND purchased_at <= $4
          ORDER BY purchased_at DESC, license_id LIMIT $5"
    ))
    .bind(account_id)
    .bind(window.today)
    .bind(window.expiring_until)
    .bind(as_of)
    .bind(LANDING_PAGE_SIZE)
    .fetch_all(&mut *connection)
    .await?;
    let expiring_licenses = expiring
        .into_iter()
        .map(|row| {
            let days_left = window.days_left(row.expires_on);
            ExpiringLicense {
                license_id: row.license_id,
                feature: row.feature,
                expires_on: row.expires_on,
                days_left,
                band: expiry_band(days_left).unwrap_or("orange"),
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
