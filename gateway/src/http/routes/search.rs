//! Finding licenses: `GET /licenses` (search, filters, sorting, pages), `GET /expiry`
//! (term licenses by days to expiry) and `GET /exports/licenses.csv` (every line of
//! a search, streamed).

use anyhow::Context as _;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use chrono::{DateTime, Days, Utc};
use ledger_domain::AccountId;
use ledger_projections::consumer::LIVE_SCHEMA;
use ledger_projections::queries::page_version::page_version;
use ledger_projections::queries::search::{
    search_page, After, LicenseLine, LicenseSearch, SortKey, TermKind,
};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::app::AppState;
use crate::http::conditional::Validator;
use crate::http::error::ApiError;
use crate::http::extract::{path_param, QueryParams};
use crate::http::openapi::{AccountPath, AsOf, MinPosition, Paging, QueryErrors};
use crate::http::read_cache::serve::{cached_page, Asked, Read};
use crate::http::routes::search_params::SearchQuery;
use crate::http::routes::{read_options, search_params};

/// The search routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(expiry))
        .routes(routes!(export))
}

/// A page of lines.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page {
    /// The instant time-dependent fields were computed for.
    pub as_of: DateTime<Utc>,
    /// The lines.
    pub items: Vec<LicenseLine>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A page of `search`, or 304 when `request`'s `If-None-Match` holds it already
/// (see [`Validator`]).
async fn page(
    state: &AppState,
    params: &QueryParams,
    search: &LicenseSearch,
    (uri, request): (&Uri, &HeaderMap),
) -> Result<Response, ApiError> {
    let limit = search_params::limit(params)?;
    let after = search_params::after(params, search)?;
    read_options::wait_for_min_position(state, params).await?;
    let asked = Asked {
        kind: "ls",
        account: search.account_id,
        as_of: search.as_of,
        uri,
        headers: request,
        params,
    };
    cached_page(state, asked, |kept| async move {
        let mut connection = state
            .pool
            .acquire()
            .await
            .context("acquiring a connection for the search")?;
        let version = page_version(&mut connection, search.account_id, search.as_of)
            .await
            .context("reading the search's version")?;
        let validator = Validator::new("ls", uri, &version)?;
        if !kept && validator.fresh(request) {
            return Ok(Read::NotModified(validator.not_modified()));
        }
        let items = search_page(&mut connection, LIVE_SCHEMA, search, after.as_ref(), limit)
            .await
            .context("searching the licenses")?;
        Ok(Read::Page(version, Page::new(search, items, limit)))
    })
    .await
}

impl Page {
    /// A page of `search` holding `items`, with a cursor when it is full.
    pub fn new(search: &LicenseSearch, items: Vec<LicenseLine>, limit: u32) -> Self {
        let next_cursor = match items.last() {
            Some(last) if items.len() == limit as usize => {
                Some(search_params::cursor_after(search, last))
            }
            _ => None,
        };
        Self {
            as_of: search.as_of,
            items,
            next_cursor,
        }
    }
}

fn allowed(extra: &[&'static str]) -> Vec<&'static str> {
    let mut names = search_params::SEARCH_PARAMS.to_vec();
    names.extend_from_slice(extra);
    names
}

/// Finds licenses: search, filters, sorting, pages.
///
/// Each line is the license with `available`, `new`, `days_to_expiry` and
/// `expiry_band` as of `as_of`.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/licenses",
    operation_id = "search_licenses",
    tag = "licenses",
    params(AccountPath, SearchQuery, AsOf, Paging, MinPosition),
    responses(
        (status = 200, description = "A page of lines", body = Page,
            headers(("ETag" = String, description = "The page's weak ETag; `If-None-Match` with it answers 304 while the page is unchanged"))),
        (status = 304, description = "Unchanged since the `If-None-Match` ETag"),
        QueryErrors,
    ),
)]
async fn list(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    params: QueryParams,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    params.only(&allowed(&["limit", "cursor", "min_position"]))?;
    let account: AccountId = path_param("account_id", &account_id)?;
    let search = search_params::search(&params, account.0, read_options::as_of(&params)?)?;
    page(&state, &params, &search, (&uri, &headers)).await
}

/// Which term licenses `GET /expiry` lists.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExpiryQuery {
    /// How many days ahead of `as_of` to look.
    #[param(minimum = 0, maximum = 3650, default = 90)]
    pub within_days: Option<u32>,
    /// Also list licenses already past their date.
    #[param(default = false)]
    pub include_expired: Option<bool>,
}

/// Term licenses by days to expiry, soonest first.
///
/// Those expiring within `within_days` (default 90) of `as_of`, with days left,
/// band and maintenance date; `include_expired` adds those already past their date.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/expiry",
    operation_id = "list_expiring_licenses",
    tag = "expiry",
    params(AccountPath, AsOf, ExpiryQuery, Paging, MinPosition),
    responses(
        (status = 200, description = "A page of lines", body = Page,
            headers(("ETag" = String, description = "The page's weak ETag; `If-None-Match` with it answers 304 while the page is unchanged"))),
        (status = 304, description = "Unchanged since the `If-None-Match` ETag"),
        QueryErrors,
    ),
)]
async fn expiry(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    params: QueryParams,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    params.only(&[
        "as_of",
        "within_days",
        "include_expired",
        "limit",
        "cursor",
        "min_position",
    ])?;
    let account: AccountId = path_param("account_id", &account_id)?;
    let as_of = read_options::as_of(&params)?;
    let within_days = params
        .get("within_days", |raw| {
            raw.parse::<u64>()
                .ok()
                .filter(|days| *days <= 3_650)
                .ok_or_else(|| "a whole number of days from 0 to 3650".to_owned())
        })?
        .unwrap_or(90);
    let include_expired = params
        .get("include_expired", |raw| {
            raw.parse::<bool>().map_err(|_| "true or false".to_owned())
        })?
        .unwrap_or(false);
    let today = as_of.date_naive();
    let empty = QueryParams::default();
    let search = LicenseSearch {
        term: Some(TermKind::Term),
        expires_from: (!include_expired).then_some(today),
        expires_to: today.checked_add_days(Days::new(within_days)),
        sort: SortKey::ExpiresOn,
        descending: false,
        ..search_params::search(&empty, account.0, as_of)?
    };
    page(&state, &params, &search, (&uri, &headers)).await
}

/// Columns of the licenses CSV, in order.
pub const CSV_COLUMNS: [&str; 22] = [
    "license_id",
    "product",
    "edition",
    "version",
    "feature",
    "license_model",
    "binding_type",
    "quantity",
    "allocated",
    "available",
    "term",
    "expires_on",
    "days_to_expiry",
    "expiry_band",
    "maintenance_until",
    "order_number",
    "access_code",
    "trial",
    "hidden",
    "new",
    "purchased_at",
    "activated_at",
];

fn csv_line(line: &LicenseLine) -> String {
    let license = &line.license;
    let optional = |value: Option<String>| value.unwrap_or_default();
    crate::http::csv::line([
        license.license_id.to_string(),
        license.product.clone(),
        license.edition.clone(),
        license.version.clone(),
        license.feature.clone(),
        license.license_model.clone(),
        license.binding_type.clone(),
        license.quantity.to_string(),
        license.allocated.to_string(),
        line.facts.available.to_string(),
        if license.expires_on.is_some() {
            "term"
        } else {
            "perpetual"
        }
        .to_owned(),
        optional(license.expires_on.map(|date| date.to_string())),
        optional(line.facts.days_to_expiry.map(|days| days.to_string())),
        line.facts.expiry_band.unwrap_or_default().to_owned(),
        license.maintenance_until.to_string(),
        license.order_number.clone(),
        license.access_code.clone(),
        license.trial.to_string(),
        license.hidden.to_string(),
        line.facts.new.to_string(),
        license.purchased_at.to_rfc3339(),
        optional(license.activated_at.map(|at| at.to_rfc3339())),
    ])
}

/// Lines fetched per round trip while exporting.
const EXPORT_PAGE: u32 = 1_000;

/// Every line of a search as CSV, streamed.
///
/// Fetched a page at a time, so neither the ledger nor the database holds the whole
/// file; if the database fails part-way the download fails rather than ending short.
/// RFC 4180, CRLF line ends, one header line; see the README for the columns.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/exports/licenses.csv",
    operation_id = "export_licenses_csv",
    tag = "exports",
    params(AccountPath, SearchQuery, AsOf, MinPosition),
    responses(
        (status = 200, description = "The CSV file (UTF-8)", body = String, content_type = "text/csv",
            headers(("Content-Disposition" = String, description = "attachment; filename=\"licenses.csv\""))),
        QueryErrors,
    ),
)]
async fn export(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    params: QueryParams,
) -> Result<Response, ApiError> {
    params.only(&allowed(&["min_position"]))?;
    let account: AccountId = path_param("account_id", &account_id)?;
    let search = search_params::search(&params, account.0, read_options::as_of(&params)?)?;
    read_options::wait_for_min_position(&state, &params).await?;
    let pool = state.pool.clone();
    // The state between pages: where the next starts, or `None` once done.
    let pages = futures::stream::unfold(Some(None), move |next: Option<Option<After>>| {
        let (pool, search) = (pool.clone(), search.clone());
        async move {
            let after = next?;
            let page = async {
                let mut connection = pool.acquire().await?;
                search_page(
                    &mut connection,
                    LIVE_SCHEMA,
                    &search,
                    after.as_ref(),
                    EXPORT_PAGE,
                )
                .await
            };
            match page.await {
                Err(error) => Some((Err(error), None)),
                Ok(lines) => {
                    let text: String = lines.iter().map(csv_line).collect();
                    let more = match lines.last() {
                        Some(last) if lines.len() == EXPORT_PAGE as usize => Some(Some(After {
                            value: last.sort_value(search.sort),
                            license_id: last.license.license_id,
                        })),
                        _ => None,
                    };
                    Some((Ok(text), more))
                }
            }
        }
    });
    Ok(crate::http::csv::download(
        "licenses.csv",
        &CSV_COLUMNS,
        pages,
    ))
}
