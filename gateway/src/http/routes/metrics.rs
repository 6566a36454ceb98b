//! `GET /metrics`: the process's metrics for Prometheus to scrape, whatever roles
//! it runs (see [`crate::metrics`] for what they are).

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::app::AppState;

/// `/metrics`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(metrics))
}

/// Every metric of this process, read now, in Prometheus' text format: HTTP
/// answers by route template and status, commands by type and outcome, the
/// relay's and the projector's throughput and lag, stalls, the database pool, the
/// NATS connection, messages set aside, the newest checkpoint's age.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "health",
    responses((
        status = 200,
        description = "Prometheus text exposition format 0.0.4",
        content_type = "text/plain; version=0.0.4; charset=utf-8",
        body = String,
    )),
)]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let text = state
        .vitals
        .metrics
        .render(&state.pool, state.nats.as_ref(), &state.vitals.progress)
        .await;
    ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text)
}
