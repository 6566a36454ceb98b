//! `GET /v1/accounts/{account_id}/asset-components`: licenses with their details
//! and allocations, grouped by order number or license access code.

use anyhow::Context as _;
use axum::extract::{Path, State};
use axum::Json;
use ledger_domain::AccountId;
use ledger_projections::queries::asset_components::{asset_components, Group, GroupBy};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::app::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{path_param, QueryParams};
use crate::http::openapi::{AccountPath, MinPosition, QueryErrors};
use crate::http::routes::{key_cursor, read_options};

/// The asset-components route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

/// A page of groups.
#[derive(Debug, Serialize, ToSchema)]
pub struct Groups {
    /// `order_number` or `access_code`.
    #[schema(value_type = String)]
    pub group_by: &'static str,
    /// The groups, by key.
    pub groups: Vec<Group>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// How `GET /asset-components` groups and pages.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GroupsQuery {
    /// What licenses are grouped by.
    #[param(inline)]
    pub group_by: Option<GroupByName>,
    /// Only the group with this key (then there is no next page).
    #[param(min_length = 1, max_length = 64)]
    pub key: Option<String>,
    /// Include hidden licenses.
    #[param(default = false)]
    pub include_hidden: Option<bool>,
    /// Groups per page.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<u32>,
    /// The previous page's `next_cursor`, from this same grouping: any other value
    /// is a 400.
    pub cursor: Option<String>,
}

/// What asset components are grouped by.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupByName {
    /// The order a license came on (the default).
    OrderNumber,
    /// The license access code.
    AccessCode,
}

/// Groups per page when `limit` is absent, and the most a page may hold.
const DEFAULT_GROUPS: u32 = 20;
const MAX_GROUPS: u32 = 100;

/// Licenses with their allocations, grouped by order number or access code.
///
/// Each group has its key, total `quantity` and `allocated`, and its licenses, oldest
/// purchase first.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/asset-components",
    operation_id = "list_asset_components",
    tag = "asset-components",
    params(AccountPath, GroupsQuery, MinPosition),
    responses((status = 200, description = "A page of groups", body = Groups), QueryErrors),
)]
async fn list(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    params: QueryParams,
) -> Result<Json<Groups>, ApiError> {
    params.only(&[
        "group_by",
        "key",
        "include_hidden",
        "limit",
        "cursor",
        "min_position",
    ])?;
    let account: AccountId = path_param("account_id", &account_id)?;
    let (group_by, name) = params
        .get("group_by", |raw| match raw {
            "order_number" => Ok((GroupBy::OrderNumber, "order_number")),
            "access_code" => Ok((GroupBy::AccessCode, "access_code")),
            _ => Err("one of: order_number, access_code".to_owned()),
        })?
        .unwrap_or((GroupBy::OrderNumber, "order_number"));
    let key = params.get("key", |raw| {
        if (1..=64).contains(&raw.len()) {
            Ok(raw.to_owned())
        } else {
            Err("1 to 64 characters".to_owned())
        }
    })?;
    let include_hidden = params
        .get("include_hidden", |raw| {
            raw.parse::<bool>().map_err(|_| "true or false".to_owned())
        })?
        .unwrap_or(false);
    let limit = key_cursor::limit(&params, DEFAULT_GROUPS, MAX_GROUPS)?;
    let after = key_cursor::after(&params)?;
    read_options::wait_for_min_position(&state, &params).await?;
    let groups = asset_components(
        &state.pool,
        account.0,
        group_by,
        key.as_deref(),
        after.as_deref(),
        limit,
        include_hidden,
    )
    .await
    .context("reading the asset components")?;
    let next_cursor = match groups.last() {
        Some(last) if key.is_none() && groups.len() == limit as usize => {
            Some(key_cursor::encode(&last.key))
        }
        _ => None,
    };
    Ok(Json(Groups {
        group_by: name,
        groups,
        next_cursor,
    }))
}
