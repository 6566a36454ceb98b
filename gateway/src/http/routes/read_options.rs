//! Query parameters shared by read endpoints: `as_of` (the instant time-dependent
//! answers are computed for) and `min_position` (read-your-writes).

use chrono::{DateTime, NaiveTime, Utc};
use ledger_projections::queries::{self, WaitError};

use crate::http::app::AppState;
use crate::http::error::ApiError;
use crate::http::extract::QueryParams;

/// Parses `as_of`: an RFC 3339 instant, or a date meaning the end of that day (UTC).
pub fn as_of(params: &QueryParams) -> Result<DateTime<Utc>, ApiError> {
    let parsed = params.get("as_of", |raw| {
        match DateTime::parse_from_rfc3339(raw) {
            Ok(instant) => {
                // The years of every stored date, as written (the document's pattern
                // can only see the digits, not where an offset moves them in UTC).
                crate::http::extract::date(&instant.date_naive().to_string())?;
                Ok(instant.with_timezone(&Utc))
            }
            Err(_) => Ok(crate::http::extract::date(raw)
                .map_err(|_| "an RFC 3339 instant or a YYYY-MM-DD date".to_owned())?
                .and_time(end_of_day())
                .and_utc()),
        }
    })?;
    Ok(parsed.unwrap_or_else(Utc::now))
}

fn end_of_day() -> NaiveTime {
    NaiveTime::from_hms_milli_opt(23, 59, 59, 999).unwrap_or(NaiveTime::MIN)
}

/// Waits, if `min_position` was given, until the licenses read model has applied it.
pub async fn wait_for_min_position(state: &AppState, params: &QueryParams) -> Result<(), ApiError> {
    let position = params.get("min_position", |raw| {
        raw.parse::<i64>()
            .ok()
            .filter(|p| *p >= 1)
            .ok_or_else(|| "a global position: a whole number from 1".to_owned())
    })?;
    let Some(position) = position else {
        return Ok(());
    };
    queries::wait_for_position(
        &state.pool,
        ledger_projections::consumer::LICENSES_PROJECTION,
        position,
        state.read_wait_timeout,
    )
    .await
    .map_err(|error| match error {
        WaitError::UnknownPosition(_) => {
            ApiError::bad_request("query.min_position", error.to_string())
        }
        WaitError::NotCaughtUp { .. } => ApiError::NotCaughtUp(error.to_string()),
        WaitError::Database(e) => {
            ApiError::Internal(anyhow::Error::new(e).context("waiting for min_position"))
        }
    })
}
