//! `GET /v1/accounts/{account_id}/integrity`: an auditor's check of the account's
//! history against its hash chains and the newest signed checkpoint
//! ([`crate::integrity`]), naming the first bad event when there is one.

use anyhow::Context as _;
use axum::extract::{Path, State};
use axum::Json;
use ledger_domain::AccountId;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::app::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{path_param, QueryParams};
use crate::http::openapi::{AccountPath, ReplayErrors};
use crate::integrity::checkpoint::CheckpointReport;
use crate::integrity::{verify_history, StreamBreak};

/// The integrity route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(integrity))
}

/// What the check found.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrityAnswer {
    /// Whether every chain links and no checkpoint disagrees (see
    /// `checkpoint.status` for whether one was there to check).
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
    /// The account's streams against the newest signed checkpoint.
    pub checkpoint: CheckpointReport,
}

/// The account's hash chains, verified from the stored bytes, and its stream heads
/// against the newest signed checkpoint.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/integrity",
    operation_id = "verify_account_integrity",
    tag = "integrity",
    params(AccountPath),
    responses((status = 200, description = "What the check found", body = IntegrityAnswer), ReplayErrors),
)]
async fn integrity(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    params: QueryParams,
) -> Result<Json<IntegrityAnswer>, ApiError> {
    params.only(&[])?;
    let account: AccountId = path_param("account_id", &account_id)?;
    let report = verify_history(&state.pool, &state.checkpoint_keys, Some(account.0))
        .await
        .context("verifying the account's hash chains")?;
    let intact = report.intact();
    let chains = report.chains;
    Ok(Json(IntegrityAnswer {
        intact,
        events: chains.events,
        streams: chains.streams,
        first_break: chains.first_break().cloned(),
        breaks: chains.breaks,
        checkpoint: report.checkpoint,
    }))
}
