//! What an instant makes of a license: the fields a client would otherwise
//! compute itself — seats left, "new", days to expiry and the portal's bar colour.
//! One computation, shared by every answer that carries them (the search's lines
//! and the single license), so they can never disagree.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::time::{expiry_band, Window};

/// A license's derived fields at `as_of`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LicenseFacts {
    /// Seats left to allocate.
    pub available: i32,
    /// Purchased in the 30 days before `as_of`.
    pub new: bool,
    /// Days from `as_of` to expiry; none for perpetual.
    pub days_to_expiry: Option<i64>,
    /// `expired`, `red`, `orange`, or none.
    pub expiry_band: Option<&'static str>,
}

impl LicenseFacts {
    /// The fields of a license with `quantity` seats, `allocated` of them live,
    /// purchased at `purchased_at` and valid through `expires_on`, for `window`'s
    /// instant.
    pub fn at(
        window: &Window,
        quantity: i32,
        allocated: i32,
        purchased_at: DateTime<Utc>,
        expires_on: Option<NaiveDate>,
    ) -> Self {
        let days_to_expiry = expires_on.map(|date| window.days_left(date));
        Self {
            available: quantity - allocated,
            new: purchased_at >= window.new_since,
            days_to_expiry,
            expiry_band: days_to_expiry.and_then(expiry_band),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_license_is_new_for_30_days_and_banded_by_days_left() {
        let window = Window::new("2026-06-15T08:00:00Z".parse().unwrap());
        let bought = |at: &str| at.parse::<DateTime<Utc>>().unwrap();
        let day = |d: &str| Some(d.parse::<NaiveDate>().unwrap());
        let facts = LicenseFacts::at(
            &window,
            10,
            4,
            bought("2026-05-16T00:00:00Z"),
            day("2026-07-15"),
        );
        assert_eq!(
            facts,
            LicenseFacts {
                available: 6,
                new: true,
                days_to_expiry: Some(30),
                expiry_band: Some("red"),
            }
        );
        let older = LicenseFacts::at(&window, 10, 0, bought("2026-05-15T23:59:59Z"), None);
        assert!(!older.new);
        assert_eq!((older.days_to_expiry, older.expiry_band), (None, None));
        let expired = LicenseFacts::at(
            &window,
            1,
            1,
            bought("2025-01-01T00:00:00Z"),
            day("2026-06-14"),
        );
        assert_eq!(
            (expired.available, expired.expiry_band),
            (0, Some("expired"))
        );
    }
}
