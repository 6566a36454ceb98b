//! The portal's landing page: the five newest licenses of the last 30 days and
//! five term licenses expiring within 90 days, as of an instant.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use super::page_version::{applied_from_row, applied_version, next_purchase_after, PageVersion};
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
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
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

/// One row of the landing page's statement: the page's version (`section` =
/// `version`), or a line of one of its sections.
#[derive(sqlx::FromRow)]
struct PageRow {
    section: String,
    license_id: Option<Uuid>,
    feature: Option<String>,
    product: Option<String>,
    edition: Option<String>,
    allocated: Option<i32>,
    quantity: Option<i32>,
    purchased_at: Option<DateTime<Utc>>,
    order_number: Option<String>,
    expires_on: Option<NaiveDate>,
    applied: Option<Vec<i64>>,
}

/// The landing page of one account as of an instant, from the read models in
/// `schema` (the live ones, or a replay of history), with the page's version.
/// Hidden licenses are left out.
///
/// One statement, so one snapshot: the version is exactly the page's. Each
/// section first picks its five licenses from the index on (account, purchase)
/// alone, which carries the expiry and the hidden flag for that walk (newest
/// purchases first until five expire within 90 days, about a hundred entries at
/// 10,000 licenses an account), and only then reads those five rows.
pub async fn landing_page(
    connection: &mut PgConnection,
    schema: &str,
    account_id: Uuid,
    as_of: DateTime<Utc>,
) -> sqlx::Result<(PageVersion, LandingPage)> {
    let window = Window::new(as_of);
    let rows: Vec<PageRow> = sqlx::query_as(&format!(
        "WITH new AS (
             SELECT license_id, purchased_at FROM {schema}.licenses
              WHERE account_id = $1 AND NOT hidden AND purchased_at >= $2 AND purchased_at <= $3
              ORDER BY purchased_at DESC, license_id DESC LIMIT $6),
         expiring AS (
             SELECT license_id, purchased_at FROM {schema}.licenses
              WHERE account_id = $1 AND NOT hidden AND expires_on BETWEEN $4 AND $5
                AND purchased_at <= $3
              ORDER BY purchased_at DESC, license_id DESC LIMIT $6),
         picked AS (
             SELECT 'new' AS section, * FROM new
              UNION ALL
             SELECT 'expiring', * FROM expiring)
         SELECT 'version' AS section, NULL::uuid AS license_id, NULL AS feature,
                NULL AS product, NULL AS edition, NULL::int AS allocated,
                NULL::int AS quantity, {next_purchase} AS purchased_at,
                NULL AS order_number, NULL::date AS expires_on, {applied} AS applied
          UNION ALL
         SELECT p.section, l.license_id, l.feature, l.product, l.edition, l.allocated,
                l.quantity, l.purchased_at, l.order_number, l.expires_on, NULL
           FROM picked p JOIN {schema}.licenses l USING (license_id)
          -- Each section newest first; the version row may fall anywhere.
          ORDER BY purchased_at DESC NULLS LAST, license_id DESC",
        next_purchase = next_purchase_after(schema, "$1", "$3"),
        applied = applied_version(schema, "$1"),
    ))
    .bind(account_id)
    .bind(window.new_since)
    .bind(as_of)
    .bind(window.today)
    .bind(window.expiring_until)
    .bind(LANDING_PAGE_SIZE)
    .fetch_all(&mut *connection)
    .await?;
    let mut version = PageVersion::of(&window, None, None);
    let mut page = LandingPage {
        as_of,
        new_licenses: Vec::new(),
        expiring_licenses: Vec::new(),
    };
    for row in rows {
        match row.section.as_str() {
            "version" => {
                version = PageVersion::of(&window, applied_from_row(row.applied), row.purchased_at)
            }
            "new" => page.new_licenses.push(NewLicense {
                license_id: required(row.license_id, "license_id")?,
                feature: required(row.feature, "feature")?,
                product: required(row.product, "product")?,
                edition: required(row.edition, "edition")?,
                allocated: required(row.allocated, "allocated")?,
                quantity: required(row.quantity, "quantity")?,
                purchased_at: required(row.purchased_at, "purchased_at")?,
                order_number: required(row.order_number, "order_number")?,
            }),
            _ => {
                let expires_on = required(row.expires_on, "expires_on")?;
                let days_left = window.days_left(expires_on);
                page.expiring_licenses.push(ExpiringLicense {
                    license_id: required(row.license_id, "license_id")?,
                    feature: required(row.feature, "feature")?,
                    expires_on,
                    days_left,
                    band: expiry_band(days_left).unwrap_or("orange"),
                    allocated: required(row.allocated, "allocated")?,
                    quantity: required(row.quantity, "quantity")?,
                    purchased_at: required(row.purchased_at, "purchased_at")?,
                });
            }
        }
    }
    Ok((version, page))
}

/// A section line's column, which its license row never leaves empty.
fn required<T>(value: Option<T>, column: &str) -> sqlx::Result<T> {
    value.ok_or_else(|| sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: "a landing-page line without its license's column".into(),
    })
}
