//! Liveness and readiness probes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

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
    /// Both.
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

/// Ready when PostgreSQL answers and NATS (if this process uses it) is connected.
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
    let status = if database && nats {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Readiness {
            database,
            nats,
            ready: database && nats,
        }),
    )
}
