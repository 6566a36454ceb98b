//! `GET /v1/accounts/{account_id}/integrity`: an auditor's check of the account's
//! history against its hash chains ([`crate::integrity`]), naming the first bad
//! event when there is one.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use ledger_domain::AccountId;
use serde::Serialize;

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{path_param, QueryParams};
use crate::integrity::{verify_chains, StreamBreak};

/// The integrity route.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/accounts/{account_id}/integrity", get(integrity))
}

/// What the check found.
#[derive(Debug, Serialize)]
pub struct IntegrityAnswer {
    /// Whether every chain links.
    pub intact: bool,
    /// Events checked.
    pub events: u64,
    /// Streams checked.
    pub streams: u64,
    /// The earliest bad event by global position.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_break: Option<StreamBreak>,
    /// Every bad event, stream by stream.
    pub breaks: Vec<StreamBreak>,
}

async fn integrity(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    params: QueryParams,
) -> Result<Json<IntegrityAnswer>, ApiError> {
    params.only(&[])?;
    let account: AccountId = path_param("account_id", &account_id)?;
    let report = verify_chains(&state.pool, Some(account.0)).await?;
    Ok(Json(IntegrityAnswer {
        intact: report.breaks.is_empty(),
        events: report.events,
        streams: report.streams,
        first_break: report.first_break().cloned(),
        breaks: report.breaks,
    }))
}
