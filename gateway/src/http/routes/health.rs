//! Liveness and readiness probes, and each role's progress.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::app::AppState;

/// How long readiness waits for the database's answer (the pool waits 5 s for a
/// connection, longer than a probe's usual timeout of 1–2 s).
const DATABASE_PATIENCE: std::time::Duration = std::time::Duration::from_millis(1500);

/// `/health/live`, `/health/ready` and `/health/status`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(live))
        .routes(routes!(ready))
        .routes(routes!(status))
}

/// The liveness answer.
#[derive(Serialize, ToSchema)]
pub struct Liveness {
    /// Always `live`.
    #[schema(value_type = String, example = "live")]
    pub status: &'static str,
}

/// The readiness answer.
#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// PostgreSQL answers.
    pub database: bool,
    /// NATS is connected (or not used by this process).
    pub nats: bool,
    /// What keeps a role of this process from making progress, each naming its
    /// cause: an event the relay cannot publish, a relay or projector with a
    /// backlog that has not advanced for `stall_after_secs` (`relay stalled: …`,
    /// `projector stalled: …`, with the role's last failure), …
    pub problems: Vec<String>,
    /// The database and NATS answer, and no role is stopped.
    pub ready: bool,
}

/// Live while the process serves HTTP.
#[utoipa::path(
    get,
    path = "/health/live",
    operation_id = "live",
    tag = "health",
    responses((status = 200, description = "Live", body = Liveness)),
)]
async fn live() -> Json<Liveness> {
    Json(Liveness { status: "live" })
}

/// Ready when PostgreSQL answers, NATS (if this process uses it) is connected and
/// no role of this process is stopped.
#[utoipa::path(
    get,
    path = "/health/ready",
    operation_id = "ready",
    tag = "health",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "Not ready: what is down", body = Readiness),
    ),
)]
async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    // Bounded well below a probe's own timeout: a database that gives no answer
    // within it is as down as one that refuses.
    let database = tokio::time::timeout(
        DATABASE_PATIENCE,
        sqlx::query("SELECT 1").execute(&state.pool),
    )
    .await
    .is_ok_and(|answered| answered.is_ok());
    let nats = state
        .nats
        .as_ref()
        .is_none_or(|client| client.connection_state() == async_nats::connection::State::Connected);
    let problems = state.vitals.blockers.all();
    let ready = database && nats && problems.is_empty();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Readiness {
            database,
            nats,
            problems,
            ready,
        }),
    )
}

/// Each role this process runs, and how far it has got.
#[derive(Serialize, ToSchema)]
pub struct Status {
    /// One entry per role, in the order gateway, relay, projector.
    pub roles: Vec<RoleStatus>,
}

/// A role's progress, as its watch last measured it (every second).
#[derive(Serialize, ToSchema)]
pub struct RoleStatus {
    /// `gateway`, `relay` or `projector`.
    #[schema(example = "relay")]
    pub role: String,
    /// Whether the role does its job here; false for a standby relay (another
    /// process holds the lock).
    pub active: bool,
    /// Events waiting for it: committed but not yet on the stream (relay), on the
    /// stream but not yet applied (projector). Null for the gateway, and before the
    /// first measurement.
    pub lag_events: Option<u64>,
    /// How long the oldest of them has waited, in seconds (0 when none waits).
    pub lag_seconds: Option<f64>,
    /// When it last advanced or was found caught up.
    pub last_progress_at: Option<DateTime<Utc>>,
    /// When its backlog was last measured.
    pub measured_at: Option<DateTime<Utc>>,
    /// Why it counts as stalled (as readiness says it), or null.
    pub stalled: Option<String>,
}

/// Each role's lag and last progress, whether or not it is stalled: what
/// readiness judges by, in numbers.
#[utoipa::path(
    get,
    path = "/health/status",
    operation_id = "status",
    tag = "health",
    responses((status = 200, description = "Each role's progress", body = Status)),
)]
async fn status(State(state): State<AppState>) -> Json<Status> {
    let roles = state
        .vitals
        .progress
        .snapshots(Utc::now())
        .into_iter()
        .map(|snapshot| RoleStatus {
            role: snapshot.role.as_str().to_owned(),
            active: snapshot.active,
            lag_events: snapshot.lag.map(|lag| lag.events),
            lag_seconds: snapshot.lag.map(|lag| lag.seconds),
            last_progress_at: snapshot.last_progress,
            measured_at: snapshot.measured_at,
            stalled: snapshot.stalled,
        })
        .collect();
    Json(Status { roles })
}
