//! The process's metrics, served at `GET /metrics` in Prometheus' text format.
//! Every name, unit and help text is here, so the dashboard and the alert rules in
//! `deploy/monitoring/` have one list to follow.
//!
//! Counters and histograms are fed where things happen: HTTP answers
//! ([`crate::http::request_metrics`]), commands ([`crate::write::commands`]),
//! `Idempotency-Key`s, the relay's batches, the projector's. Gauges of state are
//! read when scraped: each role's lag and stall from [`crate::progress`] (the same
//! measurement readiness judges by), the database pool, the NATS connection, the
//! messages set aside and the newest checkpoint's age. A process registers only
//! the families of the roles it runs.

use std::collections::BTreeSet;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use chrono::Utc;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use sqlx::PgPool;

use crate::progress::Progress;
use crate::run::Role;

/// The media type of the answer.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Longest a scrape waits for one of its database reads; past it, the value
/// scraped before stands.
const SCRAPE_READ_TIMEOUT: Duration = Duration::from_secs(2);

/// Latency buckets, in seconds: from a cached read to the 30 s request limit.
const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

type FloatGauge = Gauge<f64, AtomicU64>;
/// A gauge that is present only once it has a value (no labels otherwise).
type OptionalGauge = Family<[(&'static str, &'static str); 0], FloatGauge>;

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// An HTTP answer's labels.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `GET`, `POST`, … (`other` for any other method).
    pub method: &'static str,
    /// The route template, e.g. `/v1/accounts/{account_id}/licenses`; `unmatched`
    /// when no route matched. Never the raw path: its values stay few.
    pub route: String,
    /// The status code.
    pub status: u16,
}

/// A route's labels, for its latency.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

/// HTTP answers: how many, and how long until their head was sent.
#[derive(Debug, Clone)]
pub struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            duration: Family::new_with_constructor(latency_histogram),
        }
    }
}

impl HttpMetrics {
    /// Counts one answer and its latency.
    pub fn answered(&self, labels: RequestLabels, elapsed: Duration) {
        self.duration
            .get_or_create(&RouteLabels {
                method: labels.method,
                route: labels.route.clone(),
            })
            .observe(elapsed.as_secs_f64());
        self.requests.get_or_create(&labels).inc();
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommandLabels {
    command: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommandName {
    command: &'static str,
}

/// Sizes of the groups of commands appended together: 1 to the largest group.
const GROUP_BUCKETS: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// Commands decided, by type and outcome, their conflict retries, and how many
/// were appended together.
#[derive(Debug, Clone)]
pub struct CommandMetrics {
    decided: Family<CommandLabels, Counter>,
    conflict_retries: Family<CommandName, Counter>,
    group_size: Histogram,
}

impl Default for CommandMetrics {
    fn default() -> Self {
        Self {
            decided: Family::default(),
            conflict_retries: Family::default(),
            group_size: Histogram::new(GROUP_BUCKETS),
        }
    }
}

impl CommandMetrics {
    /// Counts one group of `commands` appended together.
    pub fn grouped(&self, commands: usize) {
        self.group_size.observe(commands as f64);
    }

    /// Counts one command of type `command` that ended in `outcome`.
    pub fn decided(&self, command: &'static str, outcome: &'static str) {
        self.decided
            .get_or_create(&CommandLabels { command, outcome })
            .inc();
        // A command type that ran shows its retries, 0 or not: a rate over them
        // then has a series to work on before the first conflict.
        self.conflict_retries
            .get_or_create(&CommandName { command })
            .inc_by(0);
    }

    /// Counts one retry of `command` after another command changed its aggregate first.
    pub fn retried(&self, command: &'static str) {
        self.conflict_retries
            .get_or_create(&CommandName { command })
            .inc();
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

/// What an `Idempotency-Key` gave a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOutcome {
    /// The key was new (or its holder died): the command ran.
    Executed,
    /// The kept answer was sent again.
    Replayed,
    /// The key was another request's (422).
    Reused,
    /// The key's first request was still running (409).
    InProgress,
}

impl KeyOutcome {
    const ALL: [Self; 4] = [
        Self::Executed,
        Self::Replayed,
        Self::Reused,
        Self::InProgress,
    ];

    fn label(self) -> OutcomeLabel {
        let outcome = match self {
            Self::Executed => "executed",
            Self::Replayed => "replayed",
            Self::Reused => "reused",
            Self::InProgress => "in_progress",
        };
        OutcomeLabel { outcome }
    }
}

/// Commands sent with an `Idempotency-Key`, by what the key gave them.
#[derive(Debug, Clone)]
pub struct IdempotencyMetrics(Family<OutcomeLabel, Counter>);

impl IdempotencyMetrics {
    /// Counts one request whose key gave `outcome`.
    pub fn keyed(&self, outcome: KeyOutcome) {
        self.0.get_or_create(&outcome.label()).inc();
    }
}

/// Every outcome, at 0 until it happens.
impl Default for IdempotencyMetrics {
    fn default() -> Self {
        let family: Family<OutcomeLabel, Counter> = Family::default();
        for outcome in KeyOutcome::ALL {
            family.get_or_create(&outcome.label()).inc_by(0);
        }
        Self(family)
    }
}

/// What the page cache did with a request for a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Answered from memory.
    Hit,
    /// Read from the database (nothing kept held).
    Miss,
    /// Read from the database because the request said `Cache-Control: no-cache`.
    Bypassed,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CauseLabel {
    cause: &'static str,
}

/// The gateway's page cache ([`crate::http::read_cache`]).
#[derive(Debug, Clone)]
pub struct ReadCacheMetrics {
    requests: Family<OutcomeLabel, Counter>,
    resets: Family<CauseLabel, Counter>,
    /// Bytes of pages kept.
    pub bytes: Gauge,
    /// 1 while the projector's notices are heard (pages are kept), 0 otherwise.
    pub listening: Gauge,
    /// Most bytes the cache may hold (`read_cache_bytes`; 0: off).
    pub capacity: Gauge,
}

impl ReadCacheMetrics {
    /// Counts one request for a page.
    pub fn counted(&self, outcome: CacheOutcome) {
        let outcome = match outcome {
            CacheOutcome::Hit => "hit",
            CacheOutcome::Miss => "miss",
            CacheOutcome::Bypassed => "bypassed",
        };
        self.requests.get_or_create(&OutcomeLabel { outcome }).inc();
    }

    /// Counts one time everything kept was dropped.
    pub fn reset(&self, cause: crate::http::read_cache::ResetCause) {
        self.resets
            .get_or_create(&CauseLabel {
                cause: cause.as_str(),
            })
            .inc();
    }
}

/// Every outcome and cause, at 0 until it happens.
impl Default for ReadCacheMetrics {
    fn default() -> Self {
        let metrics = Self {
            requests: Family::default(),
            resets: Family::default(),
            bytes: Gauge::default(),
            listening: Gauge::default(),
            capacity: Gauge::default(),
        };
        for outcome in ["hit", "miss", "bypassed"] {
            metrics
                .requests
                .get_or_create(&OutcomeLabel { outcome })
                .inc_by(0);
        }
        for cause in crate::http::read_cache::ResetCause::ALL {
            metrics
                .resets
                .get_or_create(&CauseLabel {
                    cause: cause.as_str(),
                })
                .inc_by(0);
        }
        metrics
    }
}

/// The relay's batches.
#[derive(Debug, Clone)]
pub struct RelayMetrics {
    /// Events published and acknowledged.
    pub published: Counter,
    /// From sending a batch until its acks are in and the checkpoint saved.
    pub batch_duration: Histogram,
    /// Batches whose publishing or acks failed (the relay then starts over).
    pub failures: Counter,
}

impl Default for RelayMetrics {
    fn default() -> Self {
        Self {
            published: Counter::default(),
            batch_duration: latency_histogram(),
            failures: Counter::default(),
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RoleLabel {
    role: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProjectionLabel {
    projection: &'static str,
}

/// Gauges of state, set from what is known when scraped.
#[derive(Debug, Default)]
struct StateGauges {
    role_active: Family<RoleLabel, Gauge>,
    role_lag_events: Family<RoleLabel, Gauge>,
    role_lag_seconds: Family<RoleLabel, FloatGauge>,
    role_stalled: Family<RoleLabel, Gauge>,
    role_last_progress: Family<RoleLabel, FloatGauge>,
    pool_connections: Gauge,
    pool_idle: Gauge,
    pool_max: Gauge,
    nats_connected: Gauge,
    set_aside: Family<ProjectionLabel, Gauge>,
    checkpoint_age: OptionalGauge,
}

/// Everything a process measures of itself.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    roles: BTreeSet<Role>,
    uses_nats: bool,
    /// HTTP answers (every process serves at least the probes).
    pub http: HttpMetrics,
    /// Commands (gateway).
    pub commands: CommandMetrics,
    /// `Idempotency-Key`s (gateway).
    pub idempotency: IdempotencyMetrics,
    /// The page cache (gateway).
    pub read_cache: ReadCacheMetrics,
    /// The relay's batches.
    pub relay: RelayMetrics,
    /// Stream messages the projector applied (or set aside).
    pub projected: Counter,
    state: StateGauges,
}

impl Metrics {
    /// The metrics of a process running `roles`, connected to NATS or not.
    pub fn new(roles: &BTreeSet<Role>, uses_nats: bool) -> Self {
        let mut metrics = Self {
            registry: Registry::default(),
            roles: roles.clone(),
            uses_nats,
            http: HttpMetrics::default(),
            commands: CommandMetrics::default(),
            idempotency: IdempotencyMetrics::default(),
            read_cache: ReadCacheMetrics::default(),
            relay: RelayMetrics::default(),
            projected: Counter::default(),
            state: StateGauges::default(),
        };
        metrics.register();
        metrics
    }

    fn register(&mut self) {
        let r = &mut self.registry;
        let s = &self.state;
        r.register(
            "ledger_http_requests",
            "HTTP answers by method, route template and status",
            self.http.requests.clone(),
        );
        r.register_with_unit(
            "ledger_http_request_duration",
            "Time from a request's arrival until its answer's head is sent, by method and route template",
            Unit::Seconds,
            self.http.duration.clone(),
        );
        r.register(
            "ledger_role_active",
            "1 while the role does its job in this process (0: a standby relay waiting for the lock)",
            s.role_active.clone(),
        );
        r.register(
            "ledger_role_stalled",
            "1 while the role has a backlog and has not advanced for stall_after_secs (readiness names it)",
            s.role_stalled.clone(),
        );
        r.register(
            "ledger_db_pool_connections",
            "Open connections of this process's database pool",
            s.pool_connections.clone(),
        );
        r.register(
            "ledger_db_pool_idle_connections",
            "Idle connections of this process's database pool",
            s.pool_idle.clone(),
        );
        r.register(
            "ledger_db_pool_max_connections",
            "Most connections this process's database pool may open (database_max_connections)",
            s.pool_max.clone(),
        );
        if self.uses_nats {
            r.register(
                "ledger_nats_connected",
                "1 while the NATS connection is up",
                s.nats_connected.clone(),
            );
        }
        if self.roles.contains(&Role::Gateway) {
            r.register(
                "ledger_commands",
                "Commands by type and outcome: recorded, already_recorded (under its Idempotency-Key), \
                 refused (a business rule), version_mismatch, conflict (every retry lost), too_large, failed",
                self.commands.decided.clone(),
            );
            r.register(
                "ledger_command_conflict_retries",
                "Commands decided again because another command changed the same license first",
                self.commands.conflict_retries.clone(),
            );
            r.register(
                "ledger_append_group_commands",
                "Commands whose events one statement appended together (group commit)",
                self.commands.group_size.clone(),
            );
            r.register(
                "ledger_idempotency_requests",
                "Commands with an Idempotency-Key by outcome: executed, replayed, reused, in_progress",
                self.idempotency.0.clone(),
            );
            r.register(
                "ledger_read_cache_requests",
                "Requests for a landing page or a license list by what the page cache did: \
                 hit (answered from memory), miss, bypassed (Cache-Control: no-cache)",
                self.read_cache.requests.clone(),
            );
            r.register(
                "ledger_read_cache_resets",
                "Times the page cache dropped every page, by cause: listening, deaf, gap \
                 (a missed notice), everything, malformed, too_many_accounts",
                self.read_cache.resets.clone(),
            );
            r.register_with_unit(
                "ledger_read_cache",
                "Bytes of pages the page cache holds",
                Unit::Bytes,
                self.read_cache.bytes.clone(),
            );
            r.register_with_unit(
                "ledger_read_cache_capacity",
                "Most bytes of pages the page cache may hold (read_cache_bytes; 0: off)",
                Unit::Bytes,
                self.read_cache.capacity.clone(),
            );
            r.register(
                "ledger_read_cache_listening",
                "1 while the projector's applied notices are heard and pages are kept; \
                 0 while every page is read from the database",
                self.read_cache.listening.clone(),
            );
        }
        if self.roles.contains(&Role::Relay) || self.roles.contains(&Role::Projector) {
            r.register(
                "ledger_role_lag_events",
                "Events waiting for the role: committed but not on the stream (relay), \
                 on the stream but not applied (projector)",
                s.role_lag_events.clone(),
            );
            r.register_with_unit(
                "ledger_role_lag",
                "How long the oldest event waiting for the role has waited (0 when none waits)",
                Unit::Seconds,
                s.role_lag_seconds.clone(),
            );
            r.register(
                "ledger_role_last_progress_timestamp_seconds",
                "When the role last advanced or was found caught up (Unix time)",
                s.role_last_progress.clone(),
            );
        }
        if self.roles.contains(&Role::Relay) {
            r.register(
                "ledger_relay_published_events",
                "Events this process's relay published and saw acknowledged",
                self.relay.published.clone(),
            );
            r.register_with_unit(
                "ledger_relay_batch_duration",
                "Time from sending a batch to JetStream until its acks are in and the relay's checkpoint saved",
                Unit::Seconds,
                self.relay.batch_duration.clone(),
            );
            r.register(
                "ledger_relay_publish_failures",
                "Batches whose publishing or acks failed; the relay starts over from the stream's end",
                self.relay.failures.clone(),
            );
            r.register_with_unit(
                "ledger_integrity_checkpoint_age",
                "Age of the newest signed integrity checkpoint (absent while there is none)",
                Unit::Seconds,
                s.checkpoint_age.clone(),
            );
        }
        if self.roles.contains(&Role::Projector) {
            r.register(
                "ledger_projector_applied_events",
                "Stream messages this process's projector applied to the read models (or set aside)",
                self.projected.clone(),
            );
            r.register(
                "ledger_projector_messages_set_aside",
                "Messages that could not be applied, kept in read_model.rejected_messages for an operator",
                s.set_aside.clone(),
            );
        }
    }

    /// Every metric, read now, in Prometheus' text format (version 0.0.4).
    pub async fn render(
        &self,
        pool: &PgPool,
        nats: Option<&async_nats::Client>,
        progress: &Progress,
    ) -> String {
        self.read_state(pool, nats, progress).await;
        let mut text = String::new();
        if let Err(error) =
            prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
        {
            // Writing to a String fails only on a bug in a metric's encoding.
            tracing::error!(%error, "encoding the metrics failed");
        }
        text
    }

    async fn read_state(
        &self,
        pool: &PgPool,
        nats: Option<&async_nats::Client>,
        progress: &Progress,
    ) {
        let s = &self.state;
        s.pool_connections.set(pool.size().into());
        s.pool_idle
            .set(i64::try_from(pool.num_idle()).unwrap_or(i64::MAX));
        s.pool_max.set(pool.options().get_max_connections().into());
        if let Some(client) = nats {
            let connected = client.connection_state() == async_nats::connection::State::Connected;
            s.nats_connected.set(connected.into());
        }
        let now = Utc::now();
        for snapshot in progress.snapshots(now) {
            let role = RoleLabel {
                role: snapshot.role.as_str(),
            };
            s.role_active
                .get_or_create(&role)
                .set(snapshot.active.into());
            s.role_stalled
                .get_or_create(&role)
                .set(snapshot.stalled.is_some().into());
            if let Some(lag) = snapshot.lag {
                s.role_lag_events
                    .get_or_create(&role)
                    .set(i64::try_from(lag.events).unwrap_or(i64::MAX));
                s.role_lag_seconds.get_or_create(&role).set(lag.seconds);
            }
            if let Some(at) = snapshot.last_progress {
                s.role_last_progress
                    .get_or_create(&role)
                    .set(at.timestamp_micros() as f64 / 1e6);
            }
        }
        if self.roles.contains(&Role::Relay) {
            let newest = read(crate::integrity::checkpoint::store::newest_at(pool)).await;
            match newest {
                Some(Some(at)) => {
                    let age = (now - at).to_std().unwrap_or_default();
                    s.checkpoint_age.get_or_create(&[]).set(age.as_secs_f64());
                }
                Some(None) => s.checkpoint_age.clear(),
                None => {}
            }
        }
        if self.roles.contains(&Role::Projector) {
            let projection = ledger_projections::consumer::LICENSES_PROJECTION;
            if let Some(count) = read(ledger_projections::lag::set_aside(pool, projection)).await {
                s.set_aside
                    .get_or_create(&ProjectionLabel { projection })
                    .set(count);
            }
        }
    }
}

/// A scrape's database read, or `None` (logged) when it fails or takes too long.
async fn read<T>(query: impl std::future::Future<Output = sqlx::Result<T>>) -> Option<T> {
    match tokio::time::timeout(SCRAPE_READ_TIMEOUT, query).await {
        Ok(Ok(value)) => Some(value),
        Ok(Err(error)) => {
            tracing::warn!(%error, "a metric could not be read from the database");
            None
        }
        Err(_) => {
            tracing::warn!("a metric's database read timed out");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prometheus_conventions_and_a_process_shows_only_its_roles() {
        let metrics = Metrics::new(&BTreeSet::from([Role::Relay]), true);
        metrics.relay.published.inc_by(3);
        metrics.state.checkpoint_age.get_or_create(&[]).set(1.5);
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &metrics.registry)
            .unwrap_or_default();
        assert!(
            text.contains("\nledger_relay_published_events_total 3\n"),
            "{text}"
        );
        assert!(
            text.contains("\nledger_integrity_checkpoint_age_seconds 1.5\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE ledger_relay_batch_duration_seconds histogram"));
        assert!(text.contains("\nledger_nats_connected 0\n"), "{text}");
        assert!(!text.contains("ledger_commands"), "{text}");
        assert!(!text.contains("ledger_projector"), "{text}");
        for line in text.lines().filter(|line| !line.starts_with('#')) {
            assert!(line.starts_with("ledger_"), "{line}");
        }
    }
}
