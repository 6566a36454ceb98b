//! The HTTP application: shared state, the router and its middleware. `app(state)`
//! is what the binary serves and what tests drive with `oneshot`. Its routes come
//! from [`crate::http::openapi::api`], which also makes their OpenAPI document.

use std::sync::Arc;
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderName, Request};
use axum::Router;
use sqlx::PgPool;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use ledger_domain::transparency::note::VerifierKey;
use ledger_domain::usage::ServerUsage;
use ledger_domain::License;
use ledger_projections::queries::overdraft::AllowancePolicy;

use crate::auth::verified::VerifiedTokens;
use crate::auth::{Caller, Verifier};
use crate::http::error::ApiError;
use crate::http::idempotency::keeper::Keeper;
use crate::http::rate_limit::RateLimiter;
use crate::http::read_cache::ReadCache;
use crate::http::routes;
use crate::http::routes::license_files::LicenseFiles;
use crate::vitals::Vitals;
use crate::write::commands::{CommandContext, CommandService, IdempotencyKey};

/// Largest request body accepted; license commands are small.
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;
/// Longest a request may take, including a read-your-writes wait.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The database (read models and the event store).
    pub pool: PgPool,
    /// Executes license commands.
    pub commands: Arc<CommandService<License>>,
    /// Records usage reports.
    pub usage: Arc<CommandService<ServerUsage>>,
    /// Overdraft allowances by license model.
    pub allowance: AllowancePolicy,
    /// Longest a query waits for `min_position`.
    pub read_wait_timeout: Duration,
    /// Whether the NATS connection is up, for readiness.
    pub nats: Option<async_nats::Client>,
    /// Keys and vendor name for license files.
    pub license_files: LicenseFiles,
    /// Keys that verify the store's integrity checkpoints.
    pub checkpoint_keys: Arc<ledger_domain::keys::Keyring>,
    /// The transparency log's name (`checkpoint_origin`).
    pub checkpoint_origin: String,
    /// Witnesses whose cosignatures are kept (`checkpoint_witness_keys`).
    pub witness_keys: Arc<Vec<VerifierKey>>,
    /// Bearer-token checks and rate limits.
    pub auth: Arc<Gate>,
    /// Writes concurrent requests' idempotency claims and answers together.
    pub idempotency: Keeper,
    /// Landing pages and license lists kept in memory while their account has
    /// not moved.
    pub read_cache: Arc<ReadCache>,
    /// What the process reports about itself: readiness, progress, metrics.
    pub vitals: Vitals,
}

/// What the authentication middleware needs.
#[derive(Debug)]
pub struct Gate {
    /// Checks (and, for admins, issues) tokens.
    pub verifier: Verifier,
    /// Per-token rate limits.
    pub limiter: RateLimiter,
    /// Tokens whose signature already held.
    pub verified: VerifiedTokens,
}

/// The router with all routes and middleware.
pub fn app(state: AppState) -> Router {
    Router::from(crate::http::openapi::api())
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        // Per route, so the gate knows the matched route; the gate is outermost, so
        // nothing (an idempotent replay included) answers an unchecked caller.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::http::idempotency::middleware,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::http::gate::middleware,
        ))
        // Outside the gate, so refused requests are counted under their route too.
        .route_layer(axum::middleware::from_fn(
            crate::http::request_metrics::note_route,
        ))
        // After the gate's layers, so they do not wrap it: the console's files hold
        // no data and load without a token; its calls to the API need one.
        .merge(crate::http::console::router())
        .with_state(state.clone())
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(
            tower::ServiceBuilder::new()
                .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
                    ApiError::TimedOut {
                        seconds: REQUEST_TIMEOUT.as_secs(),
                    }
                }))
                .timeout(REQUEST_TIMEOUT),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                let span = tracing::info_span!(
                    "ledger.http.request",
                    method = %request.method(),
                    path = %request.uri().path(),
                    request_id = request
                        .headers()
                        .get(&REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or(""),
                );
                crate::telemetry::continue_trace(&span, request.headers());
                span
            }),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        // Outside the timeout, so a request cut off at 30 s is counted as its 408.
        .layer(axum::middleware::from_fn_with_state(
            state.vitals,
            crate::http::request_metrics::record,
        ))
}

/// Only the health probes and the metrics, for processes that run no gateway role.
pub fn health_only(state: AppState) -> Router {
    Router::from(routes::health::router().merge(routes::metrics::router()))
        .route_layer(axum::middleware::from_fn(
            crate::http::request_metrics::note_route,
        ))
        .with_state(state.clone())
        .layer(axum::middleware::from_fn_with_state(
            state.vitals,
            crate::http::request_metrics::record,
        ))
}

impl AppState {
    /// State over `pool` with the given settings.
    pub fn new(
        pool: PgPool,
        settings: &crate::config::Settings,
        nats: Option<async_nats::Client>,
        vitals: Vitals,
    ) -> Self {
        let (commands, usage) =
            crate::write::command_services(&pool, settings, &vitals.metrics.commands);
        Self {
            commands: Arc::new(commands),
            usage: Arc::new(usage),
            allowance: settings.allowance_policy(),
            read_wait_timeout: settings.read_wait_timeout(),
            license_files: LicenseFiles {
                keyring: Arc::new(settings.license_signing_keys.0.clone()),
                vendor: settings.license_vendor.clone(),
            },
            auth: Arc::new(Gate {
                verifier: settings.token_verifier(),
                limiter: RateLimiter::new(settings.rate_limit()),
                verified: VerifiedTokens::default(),
            }),
            checkpoint_keys: Arc::new(settings.checkpoint_signing_keys.0.clone()),
            checkpoint_origin: settings.checkpoint_origin(),
            witness_keys: Arc::new(settings.checkpoint_witness_keys.0.clone()),
            idempotency: Keeper::start(pool.clone(), crate::http::idempotency::LEASE),
            read_cache: Arc::new(ReadCache::new(
                settings.read_cache(),
                vitals.metrics.read_cache.clone(),
            )),
            nats,
            pool,
            vitals,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CommandContext {
    type Rejection = ApiError;

    /// The caller and request behind a command: the actor is the token's subject.
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let request_id = parts
            .headers
            .get(&REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .chars()
            .take(128)
            .collect();
        Ok(Self {
            actor: caller.subject,
            actor_role: caller.role.as_str(),
            token_id: caller.token_id,
            request_id,
            idempotency_key: parts.extensions.get::<IdempotencyKey>().cloned(),
            item: String::new(),
            // With export on, the request span's own context; otherwise the caller's,
            // passed through, so a trace id still joins the command to its events.
            traceparent: crate::telemetry::current_traceparent()
                .or_else(|| crate::telemetry::incoming_traceparent(&parts.headers)),
        })
    }
}
