//! `GET /v1/accounts/{account_id}/license-servers` and `…/license-servers/{host}`:
//! what is allocated on each license server and its current license files.

use anyhow::Context as _;
use axum::extract::{Path, State};
use axum::Json;
use ledger_domain::AccountId;
use ledger_projections::queries::license_servers::{
    server_allocations, servers, ServerAllocation, ServerSummary,
};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::app::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{path_param, QueryParams};
use crate::http::openapi::{AccountPath, LookupErrors, MinPosition, Paging, QueryErrors};
use crate::http::routes::{key_cursor, read_options};

/// The license-server routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(one))
}

/// A page of servers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Servers {
    /// The servers, by host.
    pub servers: Vec<ServerSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The account's license servers, by host.
///
/// Per host: seats allocated, live files (one per live allocation) and features.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/license-servers",
    operation_id = "list_license_servers",
    tag = "license-servers",
    params(AccountPath, Paging, MinPosition),
    responses((status = 200, description = "A page of servers", body = Servers), QueryErrors),
)]
async fn list(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    params: QueryParams,
) -> Result<Json<Servers>, ApiError> {
    params.only(&["limit", "cursor", "min_position"])?;
    let account: AccountId = path_param("account_id", &account_id)?;
    let limit = key_cursor::limit(&params, 50, 500)?;
    let after = key_cursor::after(&params)?;
    read_options::wait_for_min_position(&state, &params).await?;
    let servers = servers(&state.pool, account.0, after.as_deref(), limit)
        .await
        .context("reading the license servers")?;
    let next_cursor = match servers.last() {
        Some(last) if servers.len() == limit as usize => Some(key_cursor::encode(&last.host)),
        _ => None,
    };
    Ok(Json(Servers {
        servers,
        next_cursor,
    }))
}

/// One server's live allocations.
#[derive(Debug, Serialize, ToSchema)]
pub struct Server {
    /// The host id.
    pub host: String,
    /// Seats on live allocations.
    pub allocated: i64,
    /// The live allocations; each has one current license file.
    pub allocations: Vec<ServerAllocation>,
}

/// The license server in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct HostPath {
    /// The account.
    pub account_id: uuid::Uuid,
    /// The host id, exactly as allocated (case-sensitive).
    #[param(min_length = 1, max_length = 253)]
    pub host: String,
}

/// Refuses a `{host}` no license server can have (the document's bounds): any
/// other is looked up, and an unknown one is 404.
pub fn check_host(host: &str) -> Result<(), ApiError> {
    if !(1..=253).contains(&host.len()) || host.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "path.host",
            "1 to 253 characters, no control characters",
        ));
    }
    Ok(())
}

/// The live allocations on one license server.
///
/// Each with its license, feature, quantity and `file_revision`; 404 if there are
/// none.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/license-servers/{host}",
    operation_id = "get_license_server",
    tag = "license-servers",
    params(HostPath, MinPosition),
    responses((status = 200, description = "The server's live allocations", body = Server), LookupErrors),
)]
async fn one(
    State(state): State<AppState>,
    Path((account_id, host)): Path<(String, String)>,
    params: QueryParams,
) -> Result<Json<Server>, ApiError> {
    params.only(&["min_position"])?;
    let account: AccountId = path_param("account_id", &account_id)?;
    check_host(&host)?;
    read_options::wait_for_min_position(&state, &params).await?;
    let allocations = server_allocations(&state.pool, account.0, &host)
        .await
        .context("reading the host's allocations")?;
    if allocations.is_empty() {
        return Err(ApiError::NotFound(
            "no live allocation on that license server".into(),
        ));
    }
    Ok(Json(Server {
        allocated: allocations.iter().map(|a| i64::from(a.quantity)).sum(),
        host,
        allocations,
    }))
}
