//! `/v1/accounts/{account_id}/licenses…`: one endpoint per license command, and
//! the license read model. Request bodies are our own types (unknown fields
//! refused), validated into domain commands; answers carry the license's version
//! and the global position of the last event, for read-your-writes.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use ledger_domain::{
    AccountId, Activate, Allocate, AllocationId, BindingType, Edition, LicenseAction,
    LicenseCommand, LicenseEvent, LicenseId, LicenseModel, ModifyAllocation, ProductCode,
    ProductVersion, Purchase, Renew, ReturnAllocation, Upgrade, ValueError,
};
use ledger_projections::queries::{self, LicenseDetails};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::app::AppState;
use crate::commands::{CommandContext, ExpectedVersion, Recorded};
use crate::error::ApiError;
use crate::extract::{path_param, version_etag, ApiJson, IfMatch, QueryParams};
use crate::routes::read_options;

const LICENSE: &str = "/v1/accounts/{account_id}/licenses/{license_id}";

/// The license routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/accounts/{account_id}/licenses", post(purchase))
        .route(LICENSE, get(get_license))
        .route(&format!("{LICENSE}/activate"), post(activate))
        .route(&format!("{LICENSE}/allocations"), post(allocate))
        .route(
            &format!("{LICENSE}/allocations/{{allocation_id}}/modify"),
            post(modify_allocation),
        )
        .route(
            &format!("{LICENSE}/allocations/{{allocation_id}}/return"),
            post(return_allocation),
        )
        .route(&format!("{LICENSE}/hide"), post(hide))
        .route(&format!("{LICENSE}/unhide"), post(unhide))
        .route(&format!("{LICENSE}/renew"), post(renew))
        .route(&format!("{LICENSE}/upgrade"), post(upgrade))
}

/// What a successful command answers.
#[derive(Debug, Serialize)]
pub struct CommandResponse {
    /// The license.
    pub license_id: LicenseId,
    /// The license's version (its last event's sequence); pass it back as `If-Match` later.
    pub version: i64,
    /// Global position of the last event; pass it as `min_position` to read your write.
    pub position: i64,
    /// The events recorded, in stream form.
    pub events: Vec<RecordedEvent>,
    /// The allocation a command created, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allocation_id: Option<AllocationId>,
}

/// An event as the answer shows it: name, version and body.
#[derive(Debug, Serialize)]
pub struct RecordedEvent {
    /// Event name.
    #[serde(rename = "type")]
    pub event_type: &'static str,
    /// Event version.
    pub version: &'static str,
    /// Event body, as on the stream.
    pub body: Value,
}

fn respond(
    status: StatusCode,
    license_id: LicenseId,
    recorded: Recorded<LicenseEvent>,
    allocation_id: Option<AllocationId>,
) -> Result<Response, ApiError> {
    let events = recorded
        .events
        .iter()
        .map(|event| {
            Ok(RecordedEvent {
                event_type: event.name(),
                version: event.version(),
                body: event.body().map_err(anyhow::Error::from)?,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let body = CommandResponse {
        license_id,
        version: recorded.version,
        position: recorded.position,
        events,
        allocation_id,
    };
    let etag = version_etag(recorded.version);
    Ok((status, [(header::ETAG, etag)], Json(body)).into_response())
}

struct Target {
    account: AccountId,
    license: LicenseId,
}

fn target(account_id: &str, license_id: &str) -> Result<Target, ApiError> {
    Ok(Target {
        account: path_param("account_id", account_id)?,
        license: path_param("license_id", license_id)?,
    })
}

async fn execute(
    state: &AppState,
    context: &CommandContext,
    target: &Target,
    action: LicenseAction,
    expected: Option<ExpectedVersion>,
) -> Result<Recorded<LicenseEvent>, ApiError> {
    let command = LicenseCommand {
        account_id: target.account,
        now: Utc::now(),
        action,
    };
    let id = target.license.to_string();
    Ok(state
        .commands
        .execute(&id, command, context, expected)
        .await?)
}

fn field<T>(name: &str, parsed: Result<T, ValueError>) -> Result<T, ApiError> {
    parsed.map_err(|error| ApiError::bad_request(name, error.to_string()))
}

/// Body of `POST /licenses`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurchaseRequest {
    /// Optional: a client-chosen id makes a retried purchase safe (409 the second time).
    pub license_id: Option<Uuid>,
    /// Product code, e.g. `XDT`.
    pub product: String,
    /// `STD`, `ADV`, `ENT` or `PLT`.
    pub edition: String,
    /// e.g. `7.15`.
    pub version: String,
    /// `user_device`, `concurrent_user`, …
    pub license_model: String,
    /// `host_name`, `mac_address`, `hardware_serial` or `other_id`.
    pub binding_type: String,
    /// Seats.
    pub quantity: u32,
    /// Last valid day; absent for perpetual.
    pub expires_on: Option<NaiveDate>,
    /// Last day of maintenance.
    pub maintenance_until: NaiveDate,
    /// Order number.
    pub order_number: String,
    /// License access code.
    pub access_code: String,
    /// Default false.
    #[serde(default)]
    pub trial: bool,
    /// Default true.
    pub partial_allocation: Option<bool>,
    /// Default now; never in the future.
    pub purchased_at: Option<DateTime<Utc>>,
}

async fn purchase(
    State(state): State<AppState>,
    context: CommandContext,
    IfMatch(expected): IfMatch,
    Path(account_id): Path<String>,
    ApiJson(body): ApiJson<PurchaseRequest>,
) -> Result<Response, ApiError> {
    let account: AccountId = path_param("account_id", &account_id)?;
    let now = Utc::now();
    let purchased_at = body.purchased_at.unwrap_or(now);
    if purchased_at > now {
        return Err(ApiError::bad_request(
            "purchased_at",
            "must not be in the future",
        ));
    }
    let action = LicenseAction::Purchase(Purchase {
        product: field("product", ProductCode::parse(&body.product))?,
        edition: field("edition", Edition::parse(&body.edition))?,
        version: field("version", ProductVersion::parse(&body.version))?,
        license_model: field("license_model", LicenseModel::parse(&body.license_model))?,
        binding_type: field("binding_type", BindingType::parse(&body.binding_type))?,
        quantity: body.quantity,
        expires_on: body.expires_on,
        maintenance_until: body.maintenance_until,
        order_number: body.order_number,
        access_code: body.access_code,
        trial: body.trial,
        partial_allocation: body.partial_allocation.unwrap_or(true),
        purchased_at,
    });
    let target = Target {
        account,
        license: body
            .license_id
            .map_or_else(|| LicenseId(context.new_id("license")), LicenseId),
    };
    let recorded = execute(&state, &context, &target, action, expected).await?;
    let mut response = respond(StatusCode::CREATED, target.license, recorded, None)?;
    if let Ok(location) = format!(
        "/v1/accounts/{}/licenses/{}",
        target.account, target.license
    )
    .parse()
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Body of `POST …/activate`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivateRequest {
    /// The license access code.
    pub access_code: String,
}

async fn activate(
    State(state): State<AppState>,
    context: CommandContext,
    IfMatch(expected): IfMatch,
    Path((account_id, license_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<ActivateRequest>,
) -> Result<Response, ApiError> {
    let target = target(&account_id, &license_id)?;
    let action = LicenseAction::Activate(Activate {
        access_code: body.access_code,
    });
    let recorded = execute(&state, &context, &target, action, expected).await?;
    respond(StatusCode::OK, target.license, recorded, None)
}

/// Body of `POST …/allocations`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllocateRequest {
    /// Optional: a client-chosen id makes a retried allocation safe (the second
    /// attempt is refused as a duplicate instead of allocating twice).
    pub allocation_id: Option<Uuid>,
    /// The license server's id (host name, MAC, … per the license's binding type).
    pub host: String,
    /// Seats.
    pub quantity: u32,
}

async fn allocate(
    State(state): State<AppState>,
    context: CommandContext,
    IfMatch(expected): IfMatch,
    Path((account_id, license_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<AllocateRequest>,
) -> Result<Response, ApiError> {
    let target = target(&account_id, &license_id)?;
    let allocation_id = AllocationId(
        body.allocation_id
            .unwrap_or_else(|| context.new_id("allocation")),
    );
    let action = LicenseAction::Allocate(Allocate {
        allocation_id,
        host: body.host,
        quantity: body.quantity,
    });
    let recorded = execute(&state, &context, &target, action, expected).await?;
    respond(
        StatusCode::CREATED,
        target.license,
        recorded,
        Some(allocation_id),
    )
}

/// Body of `POST …/allocations/{allocation_id}/modify`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModifyRequest {
    /// Optional: the replacement allocation's id, chosen by the client for safe retries.
    pub new_allocation_id: Option<Uuid>,
    /// The license server the allocation moves to.
    pub new_host: String,
}

async fn modify_allocation(
    State(state): State<AppState>,
    context: CommandContext,
    IfMatch(expected): IfMatch,
    Path((account_id, license_id, allocation_id)): Path<(String, String, String)>,
    ApiJson(body): ApiJson<ModifyRequest>,
) -> Result<Response, ApiError> {
    let target = target(&account_id, &license_id)?;
    let new_allocation_id = AllocationId(
        body.new_allocation_id
            .unwrap_or_else(|| context.new_id("allocation")),
    );
    let action = LicenseAction::ModifyAllocation(ModifyAllocation {
        allocation_id: path_param("allocation_id", &allocation_id)?,
        new_allocation_id,
        new_host: body.new_host,
    });
    let recorded = execute(&state, &context, &target, action, expected).await?;
    respond(
        StatusCode::OK,
        target.license,
        recorded,
        Some(new_allocation_id),
    )
}

async fn return_allocation(
    State(state): State<AppState>,
    context: CommandContext,
    IfMatch(expected): IfMatch,
    Path((account_id, license_id, allocation_id)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let target = target(&account_id, &license_id)?;
    let action = LicenseAction::ReturnAllocation(ReturnAllocation {
        allocation_id: path_param("allocation_id", &allocation_id)?,
    });
    let recorded = execute(&state, &context, &target, action, expected).await?;
    respond(StatusCode::OK, target.license, recorded, None)
}

async fn hide(
    State(state): State<AppState>,
    context: CommandContext,
    IfMatch(expected): IfMatch,
    Path((account_id, license_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let target = target(&account_id, &license_id)?;
    let recorded = execute(&state, &context, &target, LicenseAction::Hide, expected).await?;
    respond(StatusCode::OK, target.license, recorded, None)
}

async fn unhide(
    State(state): State<AppState>,
    context: CommandContext,
    IfMatch(expected): IfMatch,
    Path((account_id, license_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let target = target(&account_id, &license_id)?;
    let recorded = execute(&state, &context, &target, LicenseAction::Unhide, expected).await?;
    respond(StatusCode::OK, target.license, recorded, None)
}

/// Body of `POST …/renew`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenewRequest {
    /// New last valid day (term licenses).
    pub expires_on: Option<NaiveDate>,
    /// New last day of maintenance.
    pub maintenance_until: Option<NaiveDate>,
}

async fn renew(
    State(state): State<AppState>,
    context: CommandContext,
    IfMatch(expected): IfMatch,
    Path((account_id, license_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<RenewRequest>,
) -> Result<Response, ApiError> {
    let target = target(&account_id, &license_id)?;
    let action = LicenseAction::Renew(Renew {
        expires_on: body.expires_on,
        maintenance_until: body.maintenance_until,
    });
    let recorded = execute(&state, &context, &target, action, expected).await?;
    respond(StatusCode::OK, target.license, recorded, None)
}

/// Body of `POST …/upgrade`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpgradeRequest {
    /// The higher edition.
    pub edition: Option<String>,
    /// The newer version.
    pub version: Option<String>,
}

async fn upgrade(
    State(state): State<AppState>,
    context: CommandContext,
    IfMatch(expected): IfMatch,
    Path((account_id, license_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<UpgradeRequest>,
) -> Result<Response, ApiError> {
    let target = target(&account_id, &license_id)?;
    let action = LicenseAction::Upgrade(Upgrade {
        edition: body
            .edition
            .map(|raw| field("edition", Edition::parse(&raw)))
            .transpose()?,
        version: body
            .version
            .map(|raw| field("version", ProductVersion::parse(&raw)))
            .transpose()?,
    });
    let recorded = execute(&state, &context, &target, action, expected).await?;
    respond(StatusCode::OK, target.license, recorded, None)
}

/// The license read model, with its version as a strong `ETag` for `If-Match`.
async fn get_license(
    State(state): State<AppState>,
    Path((account_id, license_id)): Path<(String, String)>,
    params: QueryParams,
) -> Result<Response, ApiError> {
    params.only(&["min_position"])?;
    let target = target(&account_id, &license_id)?;
    read_options::wait_for_min_position(&state, &params).await?;
    let details: LicenseDetails = queries::license(&state.pool, target.account.0, target.license.0)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such license".into()))?;
    let etag = version_etag(details.license.last_sequence);
    Ok(([(header::ETAG, etag)], Json(details)).into_response())
}
