//! The peer's HTTP commands: exactly those the benchmark's command mix sends, at
//! the ledger's paths and with the ledger's request bodies, each one command
//! executed by cqrs-es on the aggregate the path names.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use cqrs_es::AggregateError;
use ledger_domain::usage::{ReportUsage, ServerHost, ServerUsage, UsageStreamId};
use ledger_domain::{
    AccountId, Activate, Allocate, AllocationId, License, LicenseAction, LicenseCommand,
    ModifyAllocation, Renew, ReturnAllocation, ValueError,
};
use ledger_gateway::http::error::ApiError;
use ledger_gateway::http::routes::licenses::{
    ActivateRequest, AllocateRequest, ModifyRequest, PurchaseRequest, RenewRequest,
};
use ledger_gateway::http::routes::usage::UsageReportBody;
use postgres_es::{postgres_cqrs, PostgresCqrs};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

/// The two aggregates' frameworks, as the cqrs-es documentation builds them.
pub struct Peer {
    licenses: PostgresCqrs<License>,
    usage: PostgresCqrs<ServerUsage>,
}

impl Peer {
    /// Frameworks over `pool`, with no queries.
    pub fn new(pool: PgPool) -> Self {
        Self {
            licenses: postgres_cqrs(pool.clone(), Vec::new(), ()),
            usage: postgres_cqrs(pool, Vec::new(), ()),
        }
    }
}

/// The routes the command mix uses.
pub fn router(peer: Arc<Peer>) -> Router {
    let license = "/v1/accounts/{account}/licenses/{license}";
    Router::new()
        .route("/v1/accounts/{account}/licenses", post(purchase))
        .route(&format!("{license}/activate"), post(activate))
        .route(&format!("{license}/allocations"), post(allocate))
        .route(
            &format!("{license}/allocations/{{allocation}}/modify"),
            post(modify),
        )
        .route(
            &format!("{license}/allocations/{{allocation}}/return"),
            post(return_allocation),
        )
        .route(&format!("{license}/renew"), post(renew))
        .route("/v1/accounts/{account}/usage-reports", post(report_usage))
        .with_state(peer)
}

/// A refusal as a user's service would answer it: a status and the reason.
struct Refused(StatusCode, String);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": self.1}))).into_response()
    }
}

impl<E: std::error::Error> From<AggregateError<E>> for Refused {
    fn from(error: AggregateError<E>) -> Self {
        let status = match &error {
            AggregateError::UserError(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AggregateError::AggregateConflict => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self(status, error.to_string())
    }
}

fn field<T>(name: &str, parsed: Result<T, ValueError>) -> Result<T, Refused> {
    parsed.map_err(|error| Refused(StatusCode::BAD_REQUEST, format!("{name}: {error}")))
}

/// The ledger's own parsing of a purchase body refused a field.
impl From<ApiError> for Refused {
    fn from(error: ApiError) -> Self {
        Self(StatusCode::BAD_REQUEST, error.to_string())
    }
}

type Answer = Result<(StatusCode, Json<serde_json::Value>), Refused>;

/// Runs `action` on `license` of `account`; answers `status` naming the license.
async fn execute(
    peer: &Peer,
    (account, license): (Uuid, Uuid),
    action: LicenseAction,
    status: StatusCode,
) -> Answer {
    let command = LicenseCommand {
        account_id: AccountId(account),
        now: Utc::now(),
        action,
    };
    peer.licenses.execute(&license.to_string(), command).await?;
    Ok((status, Json(json!({"license_id": license}))))
}

/// `execute`, naming the allocation the command made too.
async fn execute_naming(
    peer: &Peer,
    target: (Uuid, Uuid),
    action: LicenseAction,
    status: StatusCode,
    allocation: AllocationId,
) -> Answer {
    let (status, Json(mut body)) = execute(peer, target, action, status).await?;
    body["allocation_id"] = json!(allocation.0);
    Ok((status, Json(body)))
}

async fn purchase(
    State(peer): State<Arc<Peer>>,
    Path(account): Path<Uuid>,
    Json(body): Json<PurchaseRequest>,
) -> Answer {
    let license = body.license_id.unwrap_or_else(Uuid::new_v4);
    let purchased_at = body.purchased_at.unwrap_or_else(Utc::now);
    let action = LicenseAction::Purchase(body.into_terms(purchased_at)?);
    execute(&peer, (account, license), action, StatusCode::CREATED).await
}

async fn activate(
    State(peer): State<Arc<Peer>>,
    Path(target): Path<(Uuid, Uuid)>,
    Json(body): Json<ActivateRequest>,
) -> Answer {
    let action = LicenseAction::Activate(Activate {
        access_code: body.access_code,
    });
    execute(&peer, target, action, StatusCode::OK).await
}

async fn allocate(
    State(peer): State<Arc<Peer>>,
    Path(target): Path<(Uuid, Uuid)>,
    Json(body): Json<AllocateRequest>,
) -> Answer {
    let allocation_id = AllocationId(body.allocation_id.unwrap_or_else(Uuid::new_v4));
    let action = LicenseAction::Allocate(Allocate {
        allocation_id,
        host: body.host,
        quantity: body.quantity,
    });
    execute_naming(&peer, target, action, StatusCode::CREATED, allocation_id).await
}

async fn modify(
    State(peer): State<Arc<Peer>>,
    Path((account, license, allocation)): Path<(Uuid, Uuid, Uuid)>,
    Json(body): Json<ModifyRequest>,
) -> Answer {
    let new_allocation_id = AllocationId(body.new_allocation_id.unwrap_or_else(Uuid::new_v4));
    let action = LicenseAction::ModifyAllocation(ModifyAllocation {
        allocation_id: AllocationId(allocation),
        new_allocation_id,
        new_host: body.new_host,
    });
    let target = (account, license);
    execute_naming(&peer, target, action, StatusCode::OK, new_allocation_id).await
}

async fn return_allocation(
    State(peer): State<Arc<Peer>>,
    Path((account, license, allocation)): Path<(Uuid, Uuid, Uuid)>,
) -> Answer {
    let action = LicenseAction::ReturnAllocation(ReturnAllocation {
        allocation_id: AllocationId(allocation),
    });
    execute(&peer, (account, license), action, StatusCode::OK).await
}

async fn renew(
    State(peer): State<Arc<Peer>>,
    Path(target): Path<(Uuid, Uuid)>,
    Json(body): Json<RenewRequest>,
) -> Answer {
    let action = LicenseAction::Renew(Renew {
        expires_on: body.expires_on,
        maintenance_until: body.maintenance_until,
    });
    execute(&peer, target, action, StatusCode::OK).await
}

/// Without read models the peer cannot know which features the account holds:
/// it takes the reported ones as held (the ledger looks them up).
async fn report_usage(
    State(peer): State<Arc<Peer>>,
    Path(account): Path<Uuid>,
    Json(body): Json<UsageReportBody>,
) -> Answer {
    let host = field("host", ServerHost::parse(&body.host))?;
    let peaks: BTreeMap<String, u32> = body
        .peaks
        .into_iter()
        .map(|peak| (peak.feature, peak.peak_in_use))
        .collect();
    let account_id = AccountId(account);
    let stream = UsageStreamId::of(account_id, &host, body.day);
    let command = ReportUsage {
        account_id,
        now: Utc::now(),
        host,
        day: body.day,
        known_features: peaks.keys().cloned().collect(),
        peaks,
    };
    peer.usage.execute(&stream.to_string(), command).await?;
    Ok((StatusCode::CREATED, Json(json!({"stream_id": stream.0}))))
}
