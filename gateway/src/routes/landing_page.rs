//! `GET /v1/accounts/{account_id}/landing-page`: the five newest licenses of the
//! last 30 days and five term licenses expiring within 90 days, as of an instant.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use ledger_domain::AccountId;
use ledger_projections::consumer::LIVE_SCHEMA;
use ledger_projections::queries::landing_page::{self, LandingPage};

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{path_param, QueryParams};
use crate::routes::read_options;

/// The landing-page route.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/accounts/{account_id}/landing-page", get(landing_page))
}

async fn landing_page(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    params: QueryParams,
) -> Result<Json<LandingPage>, ApiError> {
    params.only(&["as_of", "min_position"])?;
    let account: AccountId = path_param("account_id", &account_id)?;
    let as_of = read_options::as_of(&params)?;
    read_options::wait_for_min_position(&state, &params).await?;
    let mut connection = state.pool.acquire().await?;
    Ok(Json(
        landing_page::landing_page(&mut connection, LIVE_SCHEMA, account.0, as_of).await?,
    ))
}
