//! `/v1/accounts/{account_id}/bulk/{action}`: allocate, return, hide, unhide and
//! renew over many licenses in one request.
//!
//! The selection is checked first, against the first selected license
//! ([`ledger_domain::bulk`]): an incompatible selection is refused whole (422,
//! naming each incompatible license and the attribute that differs) before anything
//! is recorded. `dry_run` then answers what each command would do; otherwise each
//! runs on its own and the answer has a result per command (succeeded or failed,
//! with its problem), and an overall outcome: `success`, `partial_failure` or
//! `failure`. Under an `Idempotency-Key`, each command is its own item, so a retry
//! after a crash records only what is missing.

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{NaiveDate, Utc};
use ledger_domain::bulk::{incompatibilities, BulkAction};
use ledger_domain::license::LicenseState;
use ledger_domain::{
    AccountId, Allocate, AllocationId, License, LicenseAction, LicenseCommand, LicenseId, Renew,
    ReturnAllocation,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::http::app::AppState;
use crate::http::error::{ApiError, Transient};
use crate::http::extract::{path_param, ApiJson};
use crate::http::openapi::{AccountPath, BulkDone, CommandErrors, CommandHeaders, Problem};
use crate::write::commands::CommandContext;

/// Most licenses one bulk request may select.
pub const MAX_SELECTION: usize = 500;

/// Longest license server id of any binding type (an RFC 1123 host name).
pub const MAX_HOST_CHARS: usize = 253;

/// Refuses, before any license is judged, a host that no binding type accepts
/// (the document's `minLength`/`maxLength`): otherwise each license would fail on
/// its own and the malformed request answer 200.
fn check_host(host: &str) -> Result<(), ApiError> {
    if (1..=MAX_HOST_CHARS).contains(&host.chars().count()) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "host",
            format!("1 to {MAX_HOST_CHARS} characters"),
        ))
    }
}

/// The bulk routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(allocate))
        .routes(routes!(return_allocations))
        .routes(routes!(hide))
        .routes(routes!(unhide))
        .routes(routes!(renew))
}

/// Body of `POST …/bulk/allocate`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkAllocateRequest {
    /// The licenses, the first being the reference; no repeats.
    #[schema(min_items = 1, max_items = 500)]
    pub license_ids: Vec<Uuid>,
    /// Only say what would happen; record nothing.
    #[serde(default)]
    #[schema(default = false)]
    pub dry_run: bool,
    /// The license server every license is allocated to.
    #[schema(min_length = 1, max_length = 253)]
    pub host: String,
    /// Seats from each license; absent: all of each license's unallocated seats.
    #[schema(minimum = 1, maximum = 100_000_000)]
    pub quantity: Option<u32>,
}

/// Body of `POST …/bulk/return`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkReturnRequest {
    /// The licenses, the first being the reference; no repeats.
    #[schema(min_items = 1, max_items = 500)]
    pub license_ids: Vec<Uuid>,
    /// Only say what would happen; record nothing.
    #[serde(default)]
    #[schema(default = false)]
    pub dry_run: bool,
    /// Only the allocations on this license server; absent: every live allocation.
    #[schema(min_length = 1, max_length = 253)]
    pub host: Option<String>,
}

/// Body of `POST …/bulk/hide` and `…/bulk/unhide`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkSelection {
    /// The licenses, the first being the reference; no repeats.
    #[schema(min_items = 1, max_items = 500)]
    pub license_ids: Vec<Uuid>,
    /// Only say what would happen; record nothing.
    #[serde(default)]
    #[schema(default = false)]
    pub dry_run: bool,
}

/// Body of `POST …/bulk/renew`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRenewRequest {
    /// The licenses, the first being the reference; no repeats.
    #[schema(min_items = 1, max_items = 500)]
    pub license_ids: Vec<Uuid>,
    /// Only say what would happen; record nothing.
    #[serde(default)]
    #[schema(default = false)]
    pub dry_run: bool,
    /// New last valid day (term licenses only).
    pub expires_on: Option<NaiveDate>,
    /// New last day of maintenance.
    pub maintenance_until: Option<NaiveDate>,
}

/// The answer to a bulk request.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkAnswer {
    /// `allocate`, `return`, `hide`, `unhide` or `renew`.
    #[schema(value_type = String)]
    pub action: &'static str,
    /// Whether nothing was recorded on purpose.
    pub dry_run: bool,
    /// `success` (every command), `partial_failure` or `failure` (none); for a dry
    /// run, what would be.
    #[schema(value_type = String)]
    pub outcome: &'static str,
    /// The highest global position recorded, for `min_position`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub position: Option<i64>,
    /// One result per command, in selection order.
    pub results: Vec<ItemResult>,
}

/// What became of one command of a bulk request.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemResult {
    /// The license.
    #[schema(value_type = Uuid)]
    pub license_id: LicenseId,
    /// The allocation made or returned, for allocate and return.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Uuid>, nullable = false)]
    pub allocation_id: Option<AllocationId>,
    /// `succeeded`, `failed`, `would_succeed` or `would_fail`.
    #[schema(value_type = String)]
    pub result: &'static str,
    /// The license's version after the command.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub version: Option<i64>,
    /// Global position of the command's last event.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub position: Option<i64>,
    /// Why it failed (or would), as problem+json.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Problem>, nullable = false)]
    pub problem: Option<Value>,
}

/// One command of a bulk request.
struct Item {
    license_id: LicenseId,
    allocation_id: Option<AllocationId>,
    /// Names the command under an idempotency key.
    item: String,
    action: LicenseAction,
}

/// Allocates every selected license to one license server.
///
/// Every license must have the first one's binding type.
#[utoipa::path(
    post,
    path = "/v1/accounts/{account_id}/bulk/allocate",
    operation_id = "bulk_allocate",
    tag = "bulk",
    params(AccountPath, CommandHeaders),
    request_body = BulkAllocateRequest,
    responses((status = 200, response = BulkDone), CommandErrors),
)]
async fn allocate(
    State(state): State<AppState>,
    context: CommandContext,
    Path(account_id): Path<String>,
    ApiJson(body): ApiJson<BulkAllocateRequest>,
) -> Result<Response, ApiError> {
    check_host(&body.host)?;
    let licenses = select(
        &state,
        &account_id,
        &body.license_ids,
        &BulkAction::Allocate,
    )
    .await?;
    let items = licenses
        .iter()
        .enumerate()
        .map(|(index, (license_id, license))| {
            let item = index.to_string();
            let allocation_id = AllocationId(context.for_item(&item).new_id("allocation"));
            Item {
                license_id: *license_id,
                allocation_id: Some(allocation_id),
                action: LicenseAction::Allocate(Allocate {
                    allocation_id,
                    host: body.host.clone(),
                    quantity: body.quantity.unwrap_or(license.unallocated()),
                }),
                item,
            }
        })
        .collect();
    run(
        &state,
        &context,
        &account_id,
        "allocate",
        body.dry_run,
        items,
    )
    .await
}

/// Returns the live allocations of every selected license (on `host`, if given).
///
/// Every license must have such an allocation.
#[utoipa::path(
    post,
    path = "/v1/accounts/{account_id}/bulk/return",
    operation_id = "bulk_return",
    tag = "bulk",
    params(AccountPath, CommandHeaders),
    request_body = BulkReturnRequest,
    responses((status = 200, response = BulkDone), CommandErrors),
)]
async fn return_allocations(
    State(state): State<AppState>,
    context: CommandContext,
    Path(account_id): Path<String>,
    ApiJson(body): ApiJson<BulkReturnRequest>,
) -> Result<Response, ApiError> {
    if let Some(host) = &body.host {
        check_host(host)?;
    }
    let action = BulkAction::Return {
        host: body.host.clone(),
    };
    let licenses = select(&state, &account_id, &body.license_ids, &action).await?;
    let mut items = Vec::new();
    for (index, (license_id, license)) in licenses.iter().enumerate() {
        let on_host = license
            .live_allocations()
            .filter(|(_, a)| body.host.as_deref().is_none_or(|h| a.host.as_str() == h));
        for (allocation_id, _) in on_host {
            items.push(Item {
                license_id: *license_id,
                allocation_id: Some(*allocation_id),
                item: format!("{index}/{allocation_id}"),
                action: LicenseAction::ReturnAllocation(ReturnAllocation {
                    allocation_id: *allocation_id,
                }),
            });
        }
    }
    run(&state, &context, &account_id, "return", body.dry_run, items).await
}

/// Hides every selected license (each must be visible).
#[utoipa::path(
    post,
    path = "/v1/accounts/{account_id}/bulk/hide",
    operation_id = "bulk_hide",
    tag = "bulk",
    params(AccountPath, CommandHeaders),
    request_body = BulkSelection,
    responses((status = 200, response = BulkDone), CommandErrors),
)]
async fn hide(
    State(state): State<AppState>,
    context: CommandContext,
    Path(account_id): Path<String>,
    ApiJson(body): ApiJson<BulkSelection>,
) -> Result<Response, ApiError> {
    visibility(state, context, account_id, body, BulkAction::Hide).await
}

/// Shows every selected license again (each must be hidden).
#[utoipa::path(
    post,
    path = "/v1/accounts/{account_id}/bulk/unhide",
    operation_id = "bulk_unhide",
    tag = "bulk",
    params(AccountPath, CommandHeaders),
    request_body = BulkSelection,
    responses((status = 200, response = BulkDone), CommandErrors),
)]
async fn unhide(
    State(state): State<AppState>,
    context: CommandContext,
    Path(account_id): Path<String>,
    ApiJson(body): ApiJson<BulkSelection>,
) -> Result<Response, ApiError> {
    visibility(state, context, account_id, body, BulkAction::Unhide).await
}

async fn visibility(
    state: AppState,
    context: CommandContext,
    account_id: String,
    body: BulkSelection,
    action: BulkAction,
) -> Result<Response, ApiError> {
    let (name, command) = match action {
        BulkAction::Hide => ("hide", LicenseAction::Hide),
        _ => ("unhide", LicenseAction::Unhide),
    };
    let licenses = select(&state, &account_id, &body.license_ids, &action).await?;
    let items = one_command_each(&licenses, |_| command.clone());
    run(&state, &context, &account_id, name, body.dry_run, items).await
}

/// Renews every selected license.
///
/// With `expires_on`, every license must be a term license.
#[utoipa::path(
    post,
    path = "/v1/accounts/{account_id}/bulk/renew",
    operation_id = "bulk_renew",
    tag = "bulk",
    params(AccountPath, CommandHeaders),
    request_body = BulkRenewRequest,
    responses((status = 200, response = BulkDone), CommandErrors),
)]
async fn renew(
    State(state): State<AppState>,
    context: CommandContext,
    Path(account_id): Path<String>,
    ApiJson(body): ApiJson<BulkRenewRequest>,
) -> Result<Response, ApiError> {
    let action = BulkAction::Renew {
        new_expiry: body.expires_on.is_some(),
    };
    let licenses = select(&state, &account_id, &body.license_ids, &action).await?;
    let items = one_command_each(&licenses, |_| {
        LicenseAction::Renew(Renew {
            expires_on: body.expires_on,
            maintenance_until: body.maintenance_until,
        })
    });
    run(&state, &context, &account_id, "renew", body.dry_run, items).await
}

fn one_command_each(
    licenses: &[(LicenseId, LicenseState)],
    action: impl Fn(&LicenseState) -> LicenseAction,
) -> Vec<Item> {
    licenses
        .iter()
        .enumerate()
        .map(|(index, (license_id, license))| Item {
            license_id: *license_id,
            allocation_id: None,
            item: index.to_string(),
            action: action(license),
        })
        .collect()
}

/// Checks the selection's size and ids, loads every license from the event store
/// and refuses an incompatible selection whole.
async fn select(
    state: &AppState,
    account_id: &str,
    license_ids: &[Uuid],
    action: &BulkAction,
) -> Result<Vec<(LicenseId, LicenseState)>, ApiError> {
    let account: AccountId = path_param("account_id", account_id)?;
    if !(1..=MAX_SELECTION).contains(&license_ids.len()) {
        return Err(ApiError::bad_request(
            "license_ids",
            format!("1 to {MAX_SELECTION} licenses"),
        ));
    }
    let mut seen = BTreeSet::new();
    if let Some(index) = license_ids.iter().position(|id| !seen.insert(*id)) {
        return Err(ApiError::bad_request(
            format!("license_ids[{index}]"),
            "selected twice",
        ));
    }
    let mut loaded = Vec::with_capacity(license_ids.len());
    for id in license_ids {
        let license: License = state.commands.load(&id.to_string()).await?;
        // Another account's license is, to this account, no license at all.
        let owned = license.state().filter(|s| s.account_id == account).cloned();
        loaded.push((LicenseId(*id), owned));
    }
    let selection: Vec<_> = loaded.iter().map(|(id, s)| (*id, s.as_ref())).collect();
    let incompatible = incompatibilities(action, &selection);
    if !incompatible.is_empty() {
        return Err(ApiError::IncompatibleSelection {
            reference: LicenseId(license_ids[0]),
            incompatible,
        });
    }
    Ok(loaded
        .into_iter()
        .filter_map(|(id, state)| Some((id, state?)))
        .collect())
}

async fn run(
    state: &AppState,
    context: &CommandContext,
    account_id: &str,
    action: &'static str,
    dry_run: bool,
    items: Vec<Item>,
) -> Result<Response, ApiError> {
    let account: AccountId = path_param("account_id", account_id)?;
    let mut results = Vec::with_capacity(items.len());
    let mut transient = false;
    for item in items {
        let command = LicenseCommand {
            account_id: account,
            now: Utc::now(),
            action: item.action,
        };
        let id = item.license_id.to_string();
        let mut result = ItemResult {
            license_id: item.license_id,
            allocation_id: item.allocation_id,
            result: "",
            version: None,
            position: None,
            problem: None,
        };
        let outcome = if dry_run {
            state.commands.check(&id, command).await.map(|()| None)
        } else {
            let context = context.for_item(item.item);
            state
                .commands
                .execute(&id, command, &context, None)
                .await
                .map(Some)
        };
        match outcome {
            Ok(recorded) => {
                result.result = if dry_run {
                    "would_succeed"
                } else {
                    "succeeded"
                };
                result.version = recorded.as_ref().map(|r| r.version);
                result.position = recorded.as_ref().map(|r| r.position);
            }
            Err(error) => {
                result.result = if dry_run { "would_fail" } else { "failed" };
                let problem = ApiError::from(error).into_problem();
                transient |= problem.transient;
                result.problem = Some(problem.body);
            }
        }
        results.push(result);
    }
    let succeeded = results.iter().filter(|r| r.problem.is_none()).count();
    let outcome = match succeeded {
        n if n == results.len() => "success",
        0 => "failure",
        _ => "partial_failure",
    };
    let mut response = Json(BulkAnswer {
        action,
        dry_run,
        outcome,
        position: results.iter().filter_map(|r| r.position).max(),
        results,
    })
    .into_response();
    if transient {
        // A retry under the same idempotency key should run the failed commands
        // again (the recorded ones are found, not repeated), not replay this answer.
        response.extensions_mut().insert(Transient);
    }
    Ok(response)
}
