//! Liveness and readiness probes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::app::AppState;

/// `/health/live` and `/health/ready`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/health/live",
            get(|| async { Json(json!({"status": "live"})) }),
        )
        .route("/health/ready", get(ready))
}

/// Ready when PostgreSQL answers and NATS (if this process uses it) is connected.
async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
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
        Json(json!({"database": database, "nats": nats, "ready": database && nats})),
    )
}
