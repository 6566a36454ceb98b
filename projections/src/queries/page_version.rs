//! The version of an account's pages as of an instant: what conditional GETs
//! compare instead of reading a page again.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::time::Window;
use crate::consumer::LIVE_SCHEMA;

/// What an account's pages (the landing page, a search's page) as of an instant
/// depend on: two instants with equal versions show the same page. A
/// conditional GET compares it in one statement instead of running the page's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageVersion {
    /// The newest license event of the account the read model has applied, in
    /// stream order: its `(transaction_id, global_position)` (`(0, 0)` before any).
    pub applied: (i64, i64),
    /// The next instant at which time alone changes the page: the end of
    /// `as_of`'s day ("new", "expiring", "active" and days left move with the
    /// date), or, earlier, the next purchase dated after `as_of` (pages leave
    /// out what was bought after their instant).
    pub changes_at: DateTime<Utc>,
}

impl PageVersion {
    /// The version for `window`'s instant, from the account's applied version
    /// (none before its first event) and its first purchase after the instant.
    pub fn of(
        window: &Window,
        applied: Option<(i64, i64)>,
        next_purchase: Option<DateTime<Utc>>,
    ) -> Self {
        let end_of_day = window
            .today
            .succ_opt()
            .map_or(DateTime::<Utc>::MAX_UTC, |tomorrow| {
                tomorrow.and_time(chrono::NaiveTime::MIN).and_utc()
            });
        Self {
            applied: applied.unwrap_or((0, 0)),
            changes_at: next_purchase.map_or(end_of_day, |next| next.min(end_of_day)),
        }
    }
}

/// SQL for the applied license version of the account bound at `account`: a row
/// of `(transaction_id, global_position)`, read with [`applied_from_row`].
pub fn applied_version(schema: &str, account: &str) -> String {
    format!(
        "(SELECT ARRAY[license_transaction_id, license_position]
            FROM {schema}.account_positions WHERE account_id = {account})"
    )
}

/// The version [`applied_version`] selected (an array of two, or none).
pub fn applied_from_row(selected: Option<Vec<i64>>) -> Option<(i64, i64)> {
    match selected.as_deref() {
        Some(&[transaction_id, position]) => Some((transaction_id, position)),
        _ => None,
    }
}

/// SQL for the account's first purchase dated after the instant bound at `as_of`.
pub fn next_purchase_after(schema: &str, account: &str, as_of: &str) -> String {
    format!(
        "(SELECT min(purchased_at) FROM {schema}.licenses
           WHERE account_id = {account} AND purchased_at > {as_of})"
    )
}

/// The version of `account_id`'s live pages as of `as_of`. Read before the page
/// itself, so that the version never claims more than the page shows.
pub async fn page_version(
    connection: &mut PgConnection,
    account_id: Uuid,
    as_of: DateTime<Utc>,
) -> sqlx::Result<PageVersion> {
    let (applied, next_purchase): (Option<Vec<i64>>, Option<DateTime<Utc>>) =
        sqlx::query_as(&format!(
            "SELECT {}, {}",
            applied_version(LIVE_SCHEMA, "$1"),
            next_purchase_after(LIVE_SCHEMA, "$1", "$2"),
        ))
        .bind(account_id)
        .bind(as_of)
        .fetch_one(&mut *connection)
        .await?;
    Ok(PageVersion::of(
        &Window::new(as_of),
        applied_from_row(applied),
        next_purchase,
    ))
}
