//! The version of an account's pages as of an instant: what conditional GETs
//! compare instead of reading a page again.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::time::Window;

/// What an account's pages (the landing page, a search's page) as of an instant
/// depend on: two instants with equal versions show the same page. A
/// conditional GET compares it in one statement instead of running the page's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageVersion {
    /// The newest license event of the account the read model has applied (0
    /// before any).
    pub position: i64,
    /// The next instant at which time alone changes the page: the end of
    /// `as_of`'s day ("new", "expiring", "active" and days left move with the
    /// date), or, earlier, the next purchase dated after `as_of` (pages leave
    /// out what was bought after their instant).
    pub changes_at: DateTime<Utc>,
}

/// The version of `account_id`'s live pages as of `as_of`. Read before the page
/// itself, so that the version never claims more than the page shows.
pub async fn page_version(
    connection: &mut PgConnection,
    account_id: Uuid,
    as_of: DateTime<Utc>,
) -> sqlx::Result<PageVersion> {
    let end_of_day = Window::new(as_of)
        .today
        .succ_opt()
        .map_or(DateTime::<Utc>::MAX_UTC, |tomorrow| {
            tomorrow.and_time(chrono::NaiveTime::MIN).and_utc()
        });
    let (position, next_purchase): (Option<i64>, Option<DateTime<Utc>>) = sqlx::query_as(
        "SELECT (SELECT license_position FROM read_model.account_positions
                  WHERE account_id = $1),
                (SELECT min(purchased_at) FROM read_model.licenses
                  WHERE account_id = $1 AND purchased_at > $2)",
    )
    .bind(account_id)
    .bind(as_of)
    .fetch_one(&mut *connection)
    .await?;
    Ok(PageVersion {
        position: position.unwrap_or(0),
        changes_at: next_purchase.map_or(end_of_day, |next| next.min(end_of_day)),
    })
}
