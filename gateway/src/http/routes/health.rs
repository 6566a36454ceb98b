//! Liveness and readiness probes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::app::AppState;

/// `/health/live` and `/health/ready`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(live))
        .routes(routes!(ready))
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
    /// cause (e.g. an event the relay cannot publish).
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
    let database = sqlx::query("SELECT 1").execute(&state.pool).await.is_ok();
    let nats = state
        .nats
        .as_ref()
        .is_none_or(|client| client.connection_state() == async_nats::connection::State::Connected);
    let problems = state.blockers.all();
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
