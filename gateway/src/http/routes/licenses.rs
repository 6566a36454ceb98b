//! `/v1/accounts/{account_id}/licenses…`: one endpoint per license command, and
//! the license read model. Request bodies are our own types (unknown fields
//! refused), validated into domain commands; answers carry the license's version
//! and the global position of the last event, for read-your-writes.

use anyhow::Context as _;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use ledger_domain::{
    AccountId, Activate, Allocate, AllocationId, BindingType, Edition, LicenseAction,
    LicenseCommand, LicenseError, LicenseEvent, LicenseId, LicenseModel, ModifyAllocation,
    ProductCode, ProductVersion, Purchase, Renew, ReturnAllocation, Upgrade, ValueError,
};
use ledger_projections::queries::facts::LicenseFacts;
use ledger_projections::queries::time::Window;
use ledger_projections::queries::{self, LicenseDetails};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::http::app::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{path_param, version_etag, ApiJson, IfMatch, QueryParams};
use crate::http::openapi::{
    AccountPath, AllocationPath, AsOf, BindingTypeName, CommandHeaders, EditionCode, IfMatchHeader,
    LicenseActionErrors, LicenseCommandErrors, LicenseModelName, LicensePath, LicensePurchased,
    LicenseRecorded, LookupErrors, MinPosition, PurchaseErrors,
};
use crate::http::routes::read_options;
use crate::write::commands::{CommandContext, ExpectedVersion, Recorded};

/// The license routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(purchase))
        .routes(routes!(get_license))
        .routes(routes!(activate))
        .routes(routes!(allocate))
        .routes(routes!(modify_allocation))
        .routes(routes!(return_allocation))
        .routes(routes!(hide))
        .routes(routes!(unhide))
        .routes(routes!(renew))
        .routes(routes!(upgrade))
}

/// What a successful command answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommandResponse {
    /// The license.
    #[schema(value_type = Uuid)]
    pub license_id: LicenseId,
    /// The license's version (its last event's sequence); pass it back as `If-Match` later.
    pub version: i64,
    /// Global position of the last event; pass it as `min_position` to read your write.
    pub position: i64,
    /// The events recorded, in stream form.
    pub events: Vec<RecordedEvent>,
    /// The allocation a command created (allocate; modify: the replacement).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Uuid>, nullable = false)]
    pub allocation_id: Option<AllocationId>,
}

/// An event as the answer shows it: name, version and body.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordedEvent {
    /// Event name, e.g. `Allocated`.
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub event_type: &'static str,
    /// Event version, e.g. `1`.
    #[schema(value_type = String)]
    pub version: &'static str,
    /// Event body, as on the stream (see the README's event table).
    #[schema(value_type = Object)]
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
    let moves_allocation = matches!(command.action, LicenseAction::ModifyAllocation(_));
    state
        .commands
        .execute(&id, command, context, expected)
        .await
        .map_err(|error| match ApiError::from(error) {
            ApiError::Rule { error, .. } => ApiError::Rule {
                field: rule_field(moves_allocation, &error),
                error,
            },
            other => other,
        })
}

/// The body member a broken rule is about, as the commands' bodies name it, so
/// a client can show the refusal beside its input; `None` for rules about the
/// license's state (not activated, expired, already hidden, …).
fn rule_field(moves_allocation: bool, error: &LicenseError) -> Option<&'static str> {
    use LicenseError as E;
    match error {
        E::QuantityMustBePositive { .. }
        | E::QuantityTooLarge { .. }
        | E::AllocationExceedsAvailable { .. }
        | E::PartialAllocationNotAllowed { .. } => Some("quantity"),
        E::DateOutOfRange { field, .. }
        | E::InvalidReference { field }
        | E::DateMustMoveForward { field, .. } => Some(field),
        E::ExpiryNotAfterPurchase { .. } | E::TrialNeedsExpiry | E::PerpetualHasNoExpiry => {
            Some("expires_on")
        }
        E::AccessCodeMismatch => Some("access_code"),
        E::InvalidHostId { .. } | E::SameHost { .. } if moves_allocation => Some("new_host"),
        E::InvalidHostId { .. } => Some("host"),
        E::DuplicateAllocationId { .. } if moves_allocation => Some("new_allocation_id"),
        E::DuplicateAllocationId { .. } => Some("allocation_id"),
        E::EditionNotHigher { .. } => Some("edition"),
        E::VersionNotHigher { .. } | E::MaintenanceLapsed { .. } => Some("version"),
        _ => None,
    }
}

fn field<T>(name: &str, parsed: Result<T, ValueError>) -> Result<T, ApiError> {
    parsed.map_err(|error| ApiError::bad_request(name, error.to_string()))
}

/// Body of `POST /licenses`. Dates are from 1970-01-01 to 9999-12-31 (else 422).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurchaseRequest {
    /// Optional: a client-chosen id makes a retried purchase safe (409 the second time).
    pub license_id: Option<Uuid>,
    /// Product code, e.g. `XDT`.
    #[schema(
        min_length = 2,
        max_length = 16,
        pattern = "^[A-Z0-9]+$",
        example = "XDT"
    )]
    pub product: String,
    /// The edition.
    #[schema(value_type = EditionCode)]
    pub edition: String,
    /// Up to four dot-separated numbers of at most 9 digits, e.g. `7.15`.
    #[schema(
        max_length = 39,
        pattern = "^[0-9]{1,9}(\\.[0-9]{1,9}){0,3}$",
        example = "7.15"
    )]
    pub version: String,
    /// How seats are counted.
    #[schema(value_type = LicenseModelName)]
    pub license_model: String,
    /// What license servers are identified by.
    #[schema(value_type = BindingTypeName)]
    pub binding_type: String,
    /// Seats (outside 1 to 100,000,000: 422).
    #[schema(minimum = 1, maximum = 100_000_000)]
    pub quantity: u32,
    /// Last valid day, after the purchase day; absent for perpetual.
    pub expires_on: Option<NaiveDate>,
    /// Last day of maintenance.
    pub maintenance_until: NaiveDate,
    /// Order number: 1 to 64 printable characters (else 422).
    #[schema(min_length = 1, max_length = 64, pattern = "^[!-~]+$")]
    pub order_number: String,
    /// License access code: 1 to 64 printable characters (else 422).
    #[schema(min_length = 1, max_length = 64, pattern = "^[!-~]+$")]
    pub access_code: String,
    /// A trial license (it needs `expires_on`).
    #[serde(default)]
    #[schema(default = false)]
    pub trial: bool,
    /// Whether the quantity may be allocated in parts; default true.
    #[schema(default = true)]
    pub partial_allocation: Option<bool>,
    /// Default now; never in the future (a later instant is a 400).
    pub purchased_at: Option<DateTime<Utc>>,
}

impl PurchaseRequest {
    /// The terms this body asks for, bought at `purchased_at`; a field that is not
    /// valid is a 400 naming it.
    pub fn into_terms(self, purchased_at: DateTime<Utc>) -> Result<Purchase, ApiError> {
        Ok(Purchase {
            product: field("product", ProductCode::parse(&self.product))?,
            edition: field("edition", Edition::parse(&self.edition))?,
            version: field("version", ProductVersion::parse(&self.version))?,
            license_model: field("license_model", LicenseModel::parse(&self.license_model))?,
            binding_type: field("binding_type", BindingType::parse(&self.binding_type))?,
            quantity: self.quantity,
            expires_on: self.expires_on,
            maintenance_until: self.maintenance_until,
            order_number: self.order_number,
            access_code: self.access_code,
            trial: self.trial,
            partial_allocation: self.partial_allocation.unwrap_or(true),
            purchased_at,
        })
    }
}

/// Purchases a license.
///
/// Records `Purchased`. With `license_id` (or an `Idempotency-Key`) a retried
/// purchase cannot buy twice.
#[utoipa::path(
    post,
    path = "/v1/accounts/{account_id}/licenses",
    operation_id = "purchase_license",
    tag = "licenses",
    params(AccountPath, CommandHeaders, IfMatchHeader),
    request_body = PurchaseRequest,
    responses((status = 201, response = LicensePurchased), PurchaseErrors),
)]
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
    let license_id = body.license_id;
    let action = LicenseAction::Purchase(body.into_terms(purchased_at)?);
    let target = Target {
        account,
        license: license_id.map_or_else(|| LicenseId(context.new_id("license")), LicenseId),
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
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivateRequest {
    /// The license access code; it must match the purchase's.
    pub access_code: String,
}

/// Activates a license with its access code (once).
#[utoipa::path(
    post,
    path = "/v1/accounts/{account_id}/licenses/{license_id}/activate",
    operation_id = "activate_license",
    tag = "licenses",
    params(LicensePath, CommandHeaders, IfMatchHeader),
    request_body = ActivateRequest,
    responses((status = 200, response = LicenseRecorded), LicenseCommandErrors),
)]
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
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllocateRequest {
    /// Optional: a client-chosen id makes a retried allocation safe (the second
    /// attempt is refused as a duplicate instead of allocating twice).
    pub allocation_id: Option<Uuid>,
    /// The license server's id, valid for the license's binding type (host name:
    /// RFC 1123, at most 253 characters; MAC: 12 hex digits; else 1–64 characters).
    #[schema(min_length = 1, max_length = 253)]
    pub host: String,
    /// Seats, at most the unallocated quantity (else 422).
    #[schema(minimum = 1, maximum = 100_000_000)]
    pub quantity: u32,
}

/// Allocates seats of a license to a license server.
///
/// Needs an activated, unexpired license; with partial allocation off, the whole
/// quantity at once.
#[utoipa::path(
    post,
    path = "/v1/accounts/{account_id}/licenses/{license_id}/allocations",
    operation_id = "allocate",
    tag = "allocations",
    params(LicensePath, CommandHeaders, IfMatchHeader),
    request_body = AllocateRequest,
    responses((status = 201, response = LicenseRecorded), LicenseCommandErrors),
)]
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
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModifyRequest {
    /// Optional: the replacement allocation's id, chosen by the client for safe retries.
    pub new_allocation_id: Option<Uuid>,
    /// The license server the allocation moves to (another one, valid for the
    /// binding type).
    #[schema(min_length = 1, max_length = 253)]
    pub new_host: String,
}

/// Moves a live allocation, whole, to another license server.
///
/// The old allocation's file is void; the answer's `allocation_id` is the
/// replacement.
#[utoipa::path(
    post,
    path = "/v1/accounts/{account_id}/licenses/{license_id}/allocations/{allocation_id}/modify",
    operation_id = "modify_allocation",
    tag = "allocations",
    params(AllocationPath, CommandHeaders, IfMatchHeader),
    request_body = ModifyRequest,
    responses((status = 200, response = LicenseRecorded), LicenseCommandErrors),
)]
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

/// Returns a live allocation's seats to the license (cannot be undone).
#[utoipa::path(
    post,
    path = "/v1/accounts/{account_id}/licenses/{license_id}/allocations/{allocation_id}/return",
    operation_id = "return_allocation",
    tag = "allocations",
    params(AllocationPath, CommandHeaders, IfMatchHeader),
    responses((status = 200, response = LicenseRecorded), LicenseActionErrors),
)]
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

/// Hides a license from default views.
#[utoipa::path(
    post,
    path = "/v1/accounts/{account_id}/licenses/{license_id}/hide",
    operation_id = "hide_license",
    tag = "licenses",
    params(LicensePath, CommandHeaders, IfMatchHeader),
    responses((status = 200, response = LicenseRecorded), LicenseActionErrors),
)]
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

/// Shows a hidden license again.
#[utoipa::path(
    post,
    path = "/v1/accounts/{account_id}/licenses/{license_id}/unhide",
    operation_id = "unhide_license",
    tag = "licenses",
    params(LicensePath, CommandHeaders, IfMatchHeader),
    responses((status = 200, response = LicenseRecorded), LicenseActionErrors),
)]
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

/// Body of `POST …/renew`: at least one date; dates only move forward.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenewRequest {
    /// New last valid day (term licenses).
    pub expires_on: Option<NaiveDate>,
    /// New last day of maintenance.
    pub maintenance_until: Option<NaiveDate>,
}

/// Renews a license's term and/or maintenance.
///
/// A perpetual license renews maintenance only.
#[utoipa::path(
    post,
    path = "/v1/accounts/{account_id}/licenses/{license_id}/renew",
    operation_id = "renew_license",
    tag = "licenses",
    params(LicensePath, CommandHeaders, IfMatchHeader),
    request_body = RenewRequest,
    responses((status = 200, response = LicenseRecorded), LicenseCommandErrors),
)]
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

/// Body of `POST …/upgrade`: at least one of `edition` and `version`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpgradeRequest {
    /// The higher edition.
    #[schema(value_type = Option<EditionCode>)]
    pub edition: Option<String>,
    /// The newer version (it needs maintenance through today).
    #[schema(
        max_length = 39,
        pattern = "^[0-9]{1,9}(\\.[0-9]{1,9}){0,3}$",
        example = "7.16"
    )]
    pub version: Option<String>,
}

/// Upgrades a license's edition and/or version; live allocations get new files.
#[utoipa::path(
    post,
    path = "/v1/accounts/{account_id}/licenses/{license_id}/upgrade",
    operation_id = "upgrade_license",
    tag = "licenses",
    params(LicensePath, CommandHeaders, IfMatchHeader),
    request_body = UpgradeRequest,
    responses((status = 200, response = LicenseRecorded), LicenseCommandErrors),
)]
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

/// A license as `GET /licenses/{license_id}` answers it: the row and its
/// allocations, with the fields a search line carries, computed for `as_of` by the
/// same code, so a client never computes them itself.
#[derive(Debug, Serialize, ToSchema)]
pub struct LicenseAnswer {
    /// The license and its allocations.
    #[serde(flatten)]
    pub details: LicenseDetails,
    /// The instant `available`, `new`, `days_to_expiry` and `expiry_band` were
    /// computed for.
    pub as_of: DateTime<Utc>,
    /// The derived fields, as on the license's search line.
    #[serde(flatten)]
    pub facts: LicenseFacts,
}

/// Reads a license and its allocations.
///
/// Allocations are live, moved or returned, each with the `file_revision` (license
/// version) its current file was issued at. `available`, `new`, `days_to_expiry`
/// and `expiry_band` are computed for `as_of` exactly as the license's line in
/// `GET /licenses` is; a license purchased after `as_of` is 404, as that search
/// leaves it out. The license's version is the `ETag`.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/licenses/{license_id}",
    operation_id = "get_license",
    tag = "licenses",
    params(LicensePath, AsOf, MinPosition),
    responses(
        (status = 200, description = "The license", body = LicenseAnswer, headers(
            ("ETag" = String, description = "The license's version: pass it as `If-Match`")
        )),
        LookupErrors,
    ),
)]
async fn get_license(
    State(state): State<AppState>,
    Path((account_id, license_id)): Path<(String, String)>,
    params: QueryParams,
) -> Result<Response, ApiError> {
    params.only(&["as_of", "min_position"])?;
    let target = target(&account_id, &license_id)?;
    let as_of = read_options::as_of(&params)?;
    read_options::wait_for_min_position(&state, &params).await?;
    let details: LicenseDetails = queries::license(&state.pool, target.account.0, target.license.0)
        .await
        .context("reading the license")?
        .ok_or_else(|| ApiError::NotFound("no such license".into()))?;
    let license = &details.license;
    if license.purchased_at > as_of {
        return Err(ApiError::NotFound(format!(
            "license {} was purchased at {}, after as_of",
            license.license_id,
            license.purchased_at.to_rfc3339()
        )));
    }
    let facts = LicenseFacts::at(
        &Window::new(as_of),
        license.quantity,
        license.allocated,
        license.purchased_at,
        license.expires_on,
    );
    let etag = version_etag(license.last_sequence);
    let answer = LicenseAnswer {
        details,
        as_of,
        facts,
    };
    Ok(([(header::ETAG, etag)], Json(answer)).into_response())
}
