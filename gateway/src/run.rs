//! Starting the ledger: one process runs any set of roles — the HTTP gateway, the
//! relay (store → NATS) and the projector (NATS → read models). By default all
//! three run together; each can run alone to be scaled and placed separately.
//! Beside the relay and the projector runs a watch of their progress
//! ([`crate::progress::watch`]), which readiness, `/health/status` and `/metrics`
//! read.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use ledger_projections::applied::Announcer;
use ledger_projections::consumer::{self, ProjectorSettings, LICENSES_PROJECTION};
use ledger_projections::lag::projector_backlog;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::http::app::{app, health_only, AppState};
use crate::http::in_flight::InFlight;
use crate::http::read_cache::listen::{listen, Connection};
use crate::progress::watch::watch;
use crate::progress::RoleProgress;
use crate::relay::checkpoint_schedule::CheckpointSchedule;
use crate::relay::{self, RelaySettings};
use crate::shutdown::{Part, Parts};
use crate::vitals::Vitals;

/// A part of the ledger a process can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Role {
    /// The HTTP API.
    Gateway,
    /// Publishes committed events to JetStream (one active per database).
    Relay,
    /// Applies the stream to the read models.
    Projector,
}

impl Role {
    /// Its name, as `--roles` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gateway => "gateway",
            Self::Relay => "relay",
            Self::Projector => "projector",
        }
    }
}

/// Checkpoints are written only with a key that can sign: without one the relay
/// says so once and verifying reports that there is no checkpoint.
fn checkpoint_schedule(settings: &Settings) -> Option<CheckpointSchedule> {
    let keyring = &settings.checkpoint_signing_keys.0;
    if !keyring.can_sign() {
        tracing::warn!(
            "no checkpoint signing key is configured (checkpoint_signing_keys): \
             no integrity checkpoint is written"
        );
        return None;
    }
    Some(CheckpointSchedule {
        keyring: Arc::new(keyring.clone()),
        interval: settings.checkpoint_interval(),
        origin: settings.checkpoint_origin(),
    })
}

/// Runs `roles` until `shutdown` is cancelled or a role fails, then stops them in
/// order ([`crate::shutdown`]). `listener` serves the API (gateway role) or only
/// the health probes; binding it is the caller's job, so tests can use port 0.
pub async fn run(
    settings: Settings,
    roles: BTreeSet<Role>,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    if roles.contains(&Role::Gateway) && settings.auth_signing_keys.0.keys().is_empty() {
        // Every API request needs a token; without a key none could ever verify.
        anyhow::bail!(
            "setting `auth_signing_keys` (LEDGER_AUTH_SIGNING_KEYS): the gateway needs at least \
             one key to verify bearer tokens; make one with `ledger signing-key generate --key-id <id>`"
        );
    }
    let pool =
        crate::db::connect_and_migrate(&settings.database_url, settings.database_max_connections)
            .await?;
    let needs_nats = roles.contains(&Role::Relay) || roles.contains(&Role::Projector);
    let (nats, disconnects) = if needs_nats {
        let (client, disconnects) = crate::nats::connect_watched(&settings.nats_url).await?;
        (Some(client), Some(disconnects))
    } else {
        (None, None)
    };
    let in_flight = Arc::new(InFlight::default());
    let mut parts = Parts::new(in_flight.clone());
    // The relay and projector outlive the HTTP server's last requests, so that
    // what those record is carried on like everything before; so do their stall
    // watches, so readiness still tells while the HTTP server drains.
    let behind_http = parts.behind_http();
    let vitals = Vitals::new(&roles, nats.is_some());
    let tracked = |role| -> anyhow::Result<Arc<RoleProgress>> {
        vitals
            .progress
            .role(role)
            .cloned()
            .with_context(|| format!("no progress tracked for the {} role", role.as_str()))
    };
    if let (true, Some(client), Some(disconnects)) =
        (roles.contains(&Role::Relay), &nats, &disconnects)
    {
        let progress = tracked(Role::Relay)?;
        let watched = pool.clone();
        parts.spawn(
            Part::Watch(Role::Relay),
            watch(
                progress.clone(),
                vitals.blockers.clone(),
                settings.stall_after(),
                behind_http.clone(),
                move || {
                    let pool = watched.clone();
                    async move { relay::lag::backlog(&pool).await }
                },
            ),
        );
        let relay_settings = RelaySettings {
            database_url: settings.database_url.clone(),
            stream: settings.stream(),
            batch_size: settings.relay_batch_size,
            poll_interval: Duration::from_millis(settings.relay_poll_interval_ms),
            checkpoints: checkpoint_schedule(&settings),
            event_max_bytes: settings.event_max_bytes,
            blockers: vitals.blockers.clone(),
            progress,
            metrics: vitals.metrics.relay.clone(),
            disconnects: disconnects.clone(),
        };
        parts.spawn(
            Part::Relay,
            relay::run(
                pool.clone(),
                async_nats::jetstream::new(client.clone()),
                relay_settings,
                behind_http.clone(),
            ),
        );
    }
    if let (true, Some(client)) = (roles.contains(&Role::Projector), &nats) {
        let progress = tracked(Role::Projector)?;
        let (watched, jetstream) = (pool.clone(), async_nats::jetstream::new(client.clone()));
        let stream_name = settings.stream_name.clone();
        parts.spawn(
            Part::Watch(Role::Projector),
            watch(
                progress.clone(),
                vitals.blockers.clone(),
                settings.stall_after(),
                behind_http.clone(),
                move || {
                    let (pool, jetstream, stream) =
                        (watched.clone(), jetstream.clone(), stream_name.clone());
                    async move {
                        projector_backlog(&pool, &jetstream, &stream, LICENSES_PROJECTION).await
                    }
                },
            ),
        );
        let projector_settings = ProjectorSettings {
            trace_hook: Some(crate::telemetry::continue_trace_from),
            stream: settings.stream(),
            projection: LICENSES_PROJECTION.to_owned(),
            batch_size: settings.projector_batch_size,
            applied: vitals.metrics.projected.clone(),
            last_failure: progress.last_failure.clone(),
            announcer: Some(Announcer::new(
                client.clone(),
                &settings.subject_prefix,
                LICENSES_PROJECTION,
            )),
        };
        parts.spawn(
            Part::Projector,
            consumer::run(
                pool.clone(),
                async_nats::jetstream::new(client.clone()),
                projector_settings,
                behind_http.clone(),
            ),
        );
    }
    if roles.contains(&Role::Gateway) {
        let keyring = &settings.license_signing_keys.0;
        if keyring.can_sign() {
            let key_ids: Vec<&str> = keyring.keys().iter().map(|k| k.key_id()).collect();
            tracing::info!(?key_ids, "license file signing keys");
        } else {
            tracing::warn!(
                "no license file signing key is configured (license_signing_keys): \
                 license file downloads answer 503"
            );
        }
    }
    // Every process serves the health probes; only the gateway role serves the API.
    let state = AppState::new(pool.clone(), &settings, nats.clone(), vitals);
    let router = if roles.contains(&Role::Gateway) {
        if state.read_cache.enabled() {
            let connection = match (&nats, &disconnects) {
                (Some(client), Some(disconnects)) => {
                    Connection::Shared(client.clone(), disconnects.clone())
                }
                _ => Connection::Own(settings.nats_url.clone()),
            };
            parts.spawn(
                Part::ReadCacheListener,
                listen(
                    state.read_cache.clone(),
                    connection,
                    settings.subject_prefix.clone(),
                    pool.clone(),
                    behind_http.clone(),
                ),
            );
        }
        parts.spawn(
            Part::IdempotencyPurge,
            crate::http::idempotency::purge_expired(
                pool.clone(),
                settings.idempotency_retention(),
                behind_http,
            ),
        );
        app(state)
    } else {
        health_only(state)
    };
    let router = router.layer(axum::middleware::from_fn_with_state(
        in_flight,
        crate::http::in_flight::track,
    ));
    parts.spawn(
        Part::Http,
        crate::http::serve::serve(listener, router, shutdown.clone()),
    );
    tracing::info!(?roles, "ledger running");
    let outcome = parts
        .run_until_stopped(&shutdown, settings.shutdown_grace())
        .await;
    // Past the grace period a request may still hold a connection: closing the
    // pool would wait for it.
    if parts.all_stopped() {
        if let Some(client) = nats {
            client.flush().await.ok();
        }
        pool.close().await;
    }
    outcome
}
