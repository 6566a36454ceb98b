//! The portal's time rules, computed against an `as_of` instant at query time:
//! "new" is purchased within the last 30 days, "expiring" is 0–90 days from the
//! expiry date, red through 30 days left and orange after.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, Utc};

/// A license is "new" this many days after its purchase date (inclusive).
pub const NEW_FOR_DAYS: u64 = 30;
/// A term license is "expiring" from this many days before its expiry (inclusive).
pub const EXPIRING_WITHIN_DAYS: u64 = 90;
/// Expiring licenses with at most this many days left show red; the rest orange.
pub const RED_UP_TO_DAYS: i64 = 30;
/// Each landing-page section shows this many licenses.
pub const LANDING_PAGE_SIZE: i64 = 5;

/// The date bounds the time rules need, for one `as_of`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// `as_of` itself: nothing purchased after it is shown.
    pub as_of: DateTime<Utc>,
    /// `as_of`'s date (UTC).
    pub today: NaiveDate,
    /// Purchases from this instant on are new.
    pub new_since: DateTime<Utc>,
    /// Term licenses expiring on or before this date (and not before today) are expiring.
    pub expiring_until: NaiveDate,
}

impl Window {
    /// The bounds for `as_of`.
    pub fn new(as_of: DateTime<Utc>) -> Self {
        let today = as_of.date_naive();
        Self {
            as_of,
            today,
            new_since: today
                .checked_sub_days(Days::new(NEW_FOR_DAYS))
                .unwrap_or(NaiveDate::MIN)
                .and_time(NaiveTime::MIN)
                .and_utc(),
            expiring_until: today
                .checked_add_days(Days::new(EXPIRING_WITHIN_DAYS))
                .unwrap_or(NaiveDate::MAX),
        }
    }

    /// Days from today to `expires_on` (negative once expired).
    pub fn days_left(&self, expires_on: NaiveDate) -> i64 {
        (expires_on - self.today).num_days()
    }
}

/// The portal's bar colour for a term license with `days_left`: `expired` below 0,
/// `red` 0–30, `orange` 31–90, none beyond.
pub fn expiry_band(days_left: i64) -> Option<&'static str> {
    match days_left {
        ..0 => Some("expired"),
        0..=RED_UP_TO_DAYS => Some("red"),
        31..=90 => Some("orange"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_change_at_0_30_31_90_and_91_days() {
        assert_eq!(expiry_band(-1), Some("expired"));
        assert_eq!(expiry_band(0), Some("red"));
        assert_eq!(expiry_band(30), Some("red"));
        assert_eq!(expiry_band(31), Some("orange"));
        assert_eq!(expiry_band(90), Some("orange"));
        assert_eq!(expiry_band(91), None);
    }

    #[test]
    fn new_starts_at_midnight_30_days_before_as_of() {
        let window = Window::new("2026-06-15T08:00:00Z".parse().unwrap());
        assert_eq!(
            window.new_since,
            "2026-05-16T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            window.expiring_until,
            NaiveDate::from_ymd_opt(2026, 9, 13).unwrap()
        );
    }
}
