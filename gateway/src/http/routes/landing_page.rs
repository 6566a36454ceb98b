//! `GET /v1/accounts/{account_id}/landing-page`: the five newest licenses of the
//! last 30 days and five term licenses expiring within 90 days, as of an instant;
//! answered 304 after one lookup when the client's copy is still the page.

use anyhow::Context as _;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Uri};
use axum::response::Response;
use ledger_domain::AccountId;
use ledger_projections::consumer::LIVE_SCHEMA;
use ledger_projections::queries::landing_page::{self, LandingPage};
use ledger_projections::queries::page_version::page_version;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::app::AppState;
use crate::http::conditional::Validator;
use crate::http::error::ApiError;
use crate::http::extract::{path_param, QueryParams};
use crate::http::openapi::{AccountPath, AsOf, MinPosition, QueryErrors};
use crate::http::read_cache::serve::{cached_page, Asked, Read};
use crate::http::routes::read_options;

/// The landing-page route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(landing_page))
}

/// The portal's landing page as of an instant.
///
/// `new_licenses`: the five most recent purchases of the last 30 days;
/// `expiring_licenses`: among term licenses with 0–90 days left, the five most
/// recent purchases, with `days_left` and `band` (`red` 0–30, `orange` 31–90).
/// Hidden licenses are left out.
///
/// The answer carries a weak `ETag` naming the account's applied license events
/// and the next instant time alone changes the page; sent back in
/// `If-None-Match`, an unchanged page is answered 304 without being read.
/// Gateways keep pages in memory until the account moves (or
/// `read_cache_max_age_ms`); `Cache-Control: no-cache` reads the database.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/landing-page",
    operation_id = "get_landing_page",
    tag = "landing-page",
    params(AccountPath, AsOf, MinPosition),
    responses(
        (status = 200, description = "The landing page", body = LandingPage,
            headers(("ETag" = String, description = "The page's weak ETag; `If-None-Match` with it answers 304 while the page is unchanged"))),
        (status = 304, description = "Unchanged since the `If-None-Match` ETag"),
        QueryErrors,
    ),
)]
async fn landing_page(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    params: QueryParams,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    params.only(&["as_of", "min_position"])?;
    let account: AccountId = path_param("account_id", &account_id)?;
    let as_of = read_options::as_of(&params)?;
    read_options::wait_for_min_position(&state, &params).await?;
    let (state, uri, headers) = (&state, &uri, &headers);
    let asked = Asked {
        kind: "lp",
        account: account.0,
        as_of,
        uri,
        headers,
        params: &params,
    };
    cached_page(state, asked, |kept| async move {
        let mut connection = state
            .pool
            .acquire()
            .await
            .context("acquiring a connection for the landing page")?;
        if !kept && headers.contains_key(header::IF_NONE_MATCH) {
            // A revalidation: the version alone, and the page only when it moved.
            let version = page_version(&mut connection, account.0, as_of)
                .await
                .context("reading the landing page's version")?;
            let validator = Validator::new("lp", uri, &version)?;
            if validator.fresh(headers) {
                return Ok(Read::NotModified(validator.not_modified()));
            }
        }
        let (version, page): (_, LandingPage) =
            landing_page::landing_page(&mut connection, LIVE_SCHEMA, account.0, as_of)
                .await
                .context("reading the landing page")?;
        Ok(Read::Page(version, page))
    })
    .await
}
