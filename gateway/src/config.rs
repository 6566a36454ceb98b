//! Settings of the `ledger` binary: defaults, then a TOML file, then `LEDGER_*`
//! environment variables, each layer overriding the one before. Every value is
//! checked at start-up; a bad one stops the process with the key at fault named.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context as _};
use ledger_domain::license_file::VendorName;
use ledger_projections::contract::StreamConfig;
use serde::Deserialize;

use crate::signing_keys::SigningKeys;

/// Everything the binary can be told. Keys are the lower-case names of the
/// `LEDGER_*` variables (`LEDGER_LISTEN_ADDR` sets `listen_addr`).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// PostgreSQL URL; the database is created if it does not exist.
    pub database_url: String,
    /// Pool size per process.
    pub database_max_connections: u32,
    /// NATS URL.
    pub nats_url: String,
    /// Where the HTTP API listens (port 0: any free port).
    pub listen_addr: SocketAddr,
    /// JetStream stream name.
    pub stream_name: String,
    /// Subject prefix; events go to `<prefix>.<account>.license.<id>.<type>`.
    pub subject_prefix: String,
    /// Stream replicas: 1 on one server, 3 in a cluster.
    pub stream_replicas: usize,
    /// Events the relay publishes per round trip.
    pub relay_batch_size: usize,
    /// Pause between the relay's polls of the store while it finds nothing new.
    pub relay_poll_interval_ms: u64,
    /// Messages the projector applies per transaction.
    pub projector_batch_size: usize,
    /// Messages each of `ledger rebuild`'s writers applies per transaction.
    pub rebuild_batch_size: usize,
    /// How long a relay or projector with a backlog may go without advancing
    /// before readiness names it stalled.
    pub stall_after_secs: u64,
    /// Times a command is retried after an optimistic-concurrency conflict.
    pub command_conflict_retries: u32,
    /// Longest a query waits for `min_position` before answering 503.
    pub read_wait_timeout_ms: u64,
    /// Most bytes of landing pages and license lists a gateway keeps in memory,
    /// answered without the database until the account moves (0: none kept).
    pub read_cache_bytes: usize,
    /// Longest a kept page is answered without reading it again, in milliseconds:
    /// how stale a page can be if the projector's notices go missing unnoticed.
    pub read_cache_max_age_ms: u64,
    /// Overdraft allowance of user/device features, in percent of installed seats.
    pub overdraft_allowance_percent: u32,
    /// Overdraft allowance of every other license model, in percent.
    pub overdraft_allowance_percent_other: u32,
    /// How long answers to `Idempotency-Key` requests are kept, in hours.
    pub idempotency_retention_hours: u64,
    /// OTLP gRPC endpoint for traces (e.g. `http://127.0.0.1:4317`); off when empty.
    pub otlp_endpoint: String,
    /// `text` or `json` log lines.
    pub log_format: String,
    /// Log filter in `tracing` syntax (`RUST_LOG` overrides it).
    pub log_filter: String,
    /// The vendor daemon named in license files.
    pub license_vendor: VendorName,
    /// Keys that sign and verify license files (see [`crate::signing_keys`]).
    pub license_signing_keys: SigningKeys,
    /// Keys that sign and verify bearer tokens, in the same formats as
    /// `license_signing_keys`; the gateway needs at least one.
    pub auth_signing_keys: SigningKeys,
    /// The `iss` of the tokens issued and accepted.
    pub auth_issuer: String,
    /// The `aud` tokens must name.
    pub auth_audience: String,
    /// Clock skew tolerated on a token's `exp`, `nbf` and `iat`, in seconds.
    pub auth_clock_leeway_secs: u64,
    /// Requests per second each token may make, sustained (per gateway instance).
    pub rate_limit_per_second: u64,
    /// Requests a token may make at once after a quiet spell.
    pub rate_limit_burst: u64,
    /// Keys that sign and verify the store's integrity checkpoints (same formats);
    /// none: no checkpoint is written, and verifying says so.
    pub checkpoint_signing_keys: SigningKeys,
    /// How often the active relay writes a checkpoint, when events were recorded
    /// since the last one.
    pub checkpoint_interval_secs: u64,
    /// The transparency log's name on every checkpoint (C2SP `origin`): unique to
    /// this ledger, e.g. `ledger.example.com/licenses`. Empty: `licensing-ledger/<stream_name>`.
    pub checkpoint_origin: String,
    /// The witnesses whose cosignatures of checkpoints are kept and served: their
    /// `cosignature/v1` vkeys (comma-separated, or a TOML array).
    pub checkpoint_witness_keys: crate::integrity::witness::WitnessKeys,
    /// Largest message an event may make on the stream, in bytes: an event is
    /// refused before it is recorded if its message would be larger (the relay could
    /// never publish it). At most the broker's `max_payload` (1 MiB by default),
    /// which the relay checks when it connects.
    pub event_max_bytes: usize,
    /// How long a stopping process (SIGTERM, SIGINT) may take to finish the
    /// requests in flight and the relay's and projector's batches, in seconds;
    /// past it the process exits non-zero, naming what was still running.
    pub shutdown_grace_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: "postgres://postgres@127.0.0.1:5432/ledger".into(),
            database_max_connections: 16,
            nats_url: "nats://127.0.0.1:4222".into(),
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            stream_name: "LEDGER_EVENTS".into(),
            subject_prefix: "ledger.events".into(),
            stream_replicas: 1,
            relay_batch_size: 500,
            relay_poll_interval_ms: 10,
            projector_batch_size: 500,
            // Larger than the projector's: no reader waits on a rebuild's batch,
            // and at 2,000 it replayed a million purchases 1.01–1.14× as fast as
            // at 500 (measured, BENCHMARKS.md), for some 80 MiB more in flight.
            rebuild_batch_size: 2_000,
            stall_after_secs: 30,
            command_conflict_retries: 5,
            read_wait_timeout_ms: 5_000,
            read_cache_bytes: 64 * 1024 * 1024,
            read_cache_max_age_ms: 1_000,
            overdraft_allowance_percent: 10,
            overdraft_allowance_percent_other: 0,
            idempotency_retention_hours: 24,
            otlp_endpoint: String::new(),
            log_format: "text".into(),
            log_filter: "info".into(),
            license_vendor: VendorName::default(),
            license_signing_keys: SigningKeys::default(),
            auth_signing_keys: SigningKeys::default(),
            auth_issuer: "licensing-ledger".into(),
            auth_audience: "licensing-ledger".into(),
            auth_clock_leeway_secs: 60,
            rate_limit_per_second: 500,
            rate_limit_burst: 1000,
            checkpoint_signing_keys: SigningKeys::default(),
            checkpoint_interval_secs: 60,
            checkpoint_origin: String::new(),
            checkpoint_witness_keys: Default::default(),
            event_max_bytes: 1024 * 1024,
            // Kubernetes sends SIGKILL 30 s after SIGTERM by default.
            shutdown_grace_secs: 25,
        }
    }
}

/// Database URLs carry passwords: never print them.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &redact(&self.database_url))
            .field("nats_url", &redact(&self.nats_url))
            .field("listen_addr", &self.listen_addr)
            .field("stream_name", &self.stream_name)
            .field("subject_prefix", &self.subject_prefix)
            .field("license_vendor", &self.license_vendor)
            // Key ids and public keys only: `SigningKeys` never prints private keys.
            .field("license_signing_keys", &self.license_signing_keys)
            .field("auth_signing_keys", &self.auth_signing_keys)
            .field("auth_issuer", &self.auth_issuer)
            .field("auth_audience", &self.auth_audience)
            .field("checkpoint_signing_keys", &self.checkpoint_signing_keys)
            .finish_non_exhaustive()
    }
}

/// `scheme://user:secret@host/…` → `scheme://user:***@host/…`.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

const ENV_PREFIX: &str = "LEDGER_";
/// Variables with the prefix that are not settings.
const NOT_SETTINGS: [&str; 1] = ["LEDGER_CONFIG"];

impl Settings {
    /// Loads defaults, then `file` (if given), then the `LEDGER_*` variables in `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<Self> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading config file {}", path.display()))?;
                text.parse::<toml::Table>()
                    .with_context(|| format!("parsing config file {}", path.display()))?
            }
            None => toml::Table::new(),
        };
        let overrides: BTreeMap<String, String> = env
            .into_iter()
            .filter(|(name, _)| {
                name.starts_with(ENV_PREFIX) && !NOT_SETTINGS.contains(&name.as_str())
            })
            .collect();
        let mut from_env = BTreeMap::new();
        for (name, raw) in overrides {
            let key = name[ENV_PREFIX.len()..].to_ascii_lowercase();
            table.insert(key.clone(), toml::Value::String(raw.clone()));
            from_env.insert(key, raw);
        }
        let settings = Self::from_table(table, &from_env)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Reads `table`, whose entries named in `from_env` came from the environment as
    /// text. An environment value is a string unless its setting refuses a string:
    /// only then is it read as the number or boolean it spells, so that
    /// `LEDGER_STREAM_NAME=2026` stays a name while `LEDGER_RELAY_BATCH_SIZE=9` is a
    /// number. Each key is retyped at most once, so this ends.
    fn from_table(
        mut table: toml::Table,
        from_env: &BTreeMap<String, String>,
    ) -> anyhow::Result<Self> {
        let mut retyped = BTreeSet::new();
        loop {
            let error = match serde_path_to_error::deserialize::<_, Self>(table.clone()) {
                Ok(settings) => return Ok(settings),
                Err(error) => error,
            };
            let key = match error.path().iter().next() {
                Some(serde_path_to_error::Segment::Map { key }) => key.clone(),
                _ => error.path().to_string(),
            };
            let typed = from_env
                .get(&key)
                .map(String::as_str)
                .and_then(typed_env_value);
            match typed {
                Some(value) if retyped.insert(key.clone()) => {
                    table.insert(key, value);
                }
                // Refused as it is typed now: as text when it spells no number, else
                // as the number, whose error ("invalid value: integer `-1`") says
                // more than "invalid type: string".
                _ => {
                    let key = error.path().to_string();
                    bail!(
                        "setting `{key}` (LEDGER_{}): {}",
                        key.to_ascii_uppercase(),
                        error.inner()
                    )
                }
            }
        }
    }

    fn validate(&self) -> anyhow::Result<()> {
        let in_range = |key: &str, value: u64, min: u64, max: u64| -> anyhow::Result<()> {
            if (min..=max).contains(&value) {
                Ok(())
            } else {
                bail!("setting `{key}` must be between {min} and {max}, was {value}")
            }
        };
        if !self.database_url.starts_with("postgres://")
            && !self.database_url.starts_with("postgresql://")
        {
            bail!("setting `database_url` must be a postgres:// URL");
        }
        if !self.nats_url.contains("://") && !self.nats_url.contains(':') {
            bail!("setting `nats_url` must be a NATS URL such as nats://127.0.0.1:4222");
        }
        in_range(
            "database_max_connections",
            self.database_max_connections.into(),
            2,
            1_000,
        )?;
        in_range("stream_replicas", self.stream_replicas as u64, 1, 5)?;
        // The JetStream client allows 5,000 unacknowledged publishes at once.
        in_range("relay_batch_size", self.relay_batch_size as u64, 1, 5_000)?;
        in_range(
            "relay_poll_interval_ms",
            self.relay_poll_interval_ms,
            1,
            60_000,
        )?;
        in_range(
            "projector_batch_size",
            self.projector_batch_size as u64,
            1,
            10_000,
        )?;
        in_range(
            "rebuild_batch_size",
            self.rebuild_batch_size as u64,
            1,
            10_000,
        )?;
        // The backlog is measured every second: a shorter stall cannot be told.
        in_range("stall_after_secs", self.stall_after_secs, 1, 24 * 3600)?;
        in_range(
            "command_conflict_retries",
            self.command_conflict_retries.into(),
            0,
            100,
        )?;
        // Requests are cut at 30 s: a wait must end before that to answer 503.
        in_range("read_wait_timeout_ms", self.read_wait_timeout_ms, 0, 25_000)?;
        // Up to 16 GiB; a page takes a sixteenth of it at most.
        in_range(
            "read_cache_bytes",
            self.read_cache_bytes as u64,
            0,
            16 * 1024 * 1024 * 1024,
        )?;
        // A notice missed is noticed at the next one; with none, this bounds it.
        in_range(
            "read_cache_max_age_ms",
            self.read_cache_max_age_ms,
            1,
            60_000,
        )?;
        in_range(
            "overdraft_allowance_percent",
            self.overdraft_allowance_percent.into(),
            0,
            100,
        )?;
        in_range(
            "overdraft_allowance_percent_other",
            self.overdraft_allowance_percent_other.into(),
            0,
            100,
        )?;
        in_range(
            "idempotency_retention_hours",
            self.idempotency_retention_hours,
            1,
            24 * 30,
        )?;
        in_range(
            "checkpoint_interval_secs",
            self.checkpoint_interval_secs,
            1,
            24 * 3600,
        )?;
        // Below 1 KiB hardly an event with its headers fits.
        in_range(
            "event_max_bytes",
            self.event_max_bytes as u64,
            1024,
            64 * 1024 * 1024,
        )?;
        in_range("shutdown_grace_secs", self.shutdown_grace_secs, 1, 3_600)?;
        let origin = &self.checkpoint_origin;
        if origin.len() > 256 || origin.chars().any(|c| c.is_whitespace() || c == '+') {
            bail!(
                "setting `checkpoint_origin` must be at most 256 characters, without spaces or `+`"
            );
        }
        let name_ok = !self.stream_name.is_empty()
            && self
                .stream_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !name_ok {
            bail!("setting `stream_name` must be letters, digits, `_` or `-`");
        }
        let prefix_ok = self.subject_prefix.split('.').all(|token| {
            !token.is_empty()
                && token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        });
        if !prefix_ok {
            bail!("setting `subject_prefix` must be dot-separated tokens of letters, digits, `_` or `-`");
        }
        in_range(
            "auth_clock_leeway_secs",
            self.auth_clock_leeway_secs,
            0,
            600,
        )?;
        in_range(
            "rate_limit_per_second",
            self.rate_limit_per_second,
            1,
            1_000_000,
        )?;
        in_range("rate_limit_burst", self.rate_limit_burst, 1, 1_000_000)?;
        for (key, value) in [
            ("auth_issuer", &self.auth_issuer),
            ("auth_audience", &self.auth_audience),
        ] {
            if !(1..=256).contains(&value.len()) || value.chars().any(char::is_control) {
                bail!("setting `{key}` must be 1 to 256 characters without control characters");
            }
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            bail!("setting `log_format` must be `text` or `json`");
        }
        Ok(())
    }

    /// The stream these settings name.
    pub fn stream(&self) -> StreamConfig {
        StreamConfig {
            name: self.stream_name.clone(),
            subject_prefix: self.subject_prefix.clone(),
            replicas: self.stream_replicas,
        }
    }

    /// The overdraft allowances.
    pub fn allowance_policy(&self) -> ledger_projections::queries::overdraft::AllowancePolicy {
        ledger_projections::queries::overdraft::AllowancePolicy {
            user_device_percent: self.overdraft_allowance_percent,
            other_percent: self.overdraft_allowance_percent_other,
        }
    }

    /// `idempotency_retention_hours` as a duration.
    pub fn idempotency_retention(&self) -> Duration {
        Duration::from_secs(self.idempotency_retention_hours * 3600)
    }

    /// How bearer tokens are checked and issued.
    pub fn token_verifier(&self) -> crate::auth::Verifier {
        crate::auth::Verifier {
            keys: self.auth_signing_keys.0.clone(),
            issuer: self.auth_issuer.clone(),
            audience: self.auth_audience.clone(),
            leeway: chrono::Duration::seconds(self.auth_clock_leeway_secs as i64),
        }
    }

    /// Each token's rate limit.
    pub fn rate_limit(&self) -> crate::http::rate_limit::RateLimit {
        crate::http::rate_limit::RateLimit {
            per_second: self.rate_limit_per_second as f64,
            burst: u32::try_from(self.rate_limit_burst).unwrap_or(u32::MAX),
        }
    }

    /// `checkpoint_interval_secs` as a duration.
    pub fn checkpoint_interval(&self) -> Duration {
        Duration::from_secs(self.checkpoint_interval_secs)
    }

    /// The transparency log's origin line.
    pub fn checkpoint_origin(&self) -> String {
        if self.checkpoint_origin.is_empty() {
            format!("licensing-ledger/{}", self.stream_name)
        } else {
            self.checkpoint_origin.clone()
        }
    }

    /// `shutdown_grace_secs` as a duration.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }

    /// What the page cache may hold.
    pub fn read_cache(&self) -> crate::http::read_cache::CacheSettings {
        crate::http::read_cache::CacheSettings {
            max_bytes: self.read_cache_bytes,
            max_age: Duration::from_millis(self.read_cache_max_age_ms),
        }
    }

    /// `read_wait_timeout_ms` as a duration.
    pub fn read_wait_timeout(&self) -> Duration {
        Duration::from_millis(self.read_wait_timeout_ms)
    }

    /// `stall_after_secs` as a duration.
    pub fn stall_after(&self) -> Duration {
        Duration::from_secs(self.stall_after_secs)
    }
}

/// An environment value as the TOML integer or boolean it spells, if it spells one:
/// for a setting that refuses it as a string.
fn typed_env_value(raw: &str) -> Option<toml::Value> {
    if let Ok(integer) = raw.parse::<i64>() {
        return Some(toml::Value::Integer(integer));
    }
    match raw {
        "true" => Some(toml::Value::Boolean(true)),
        "false" => Some(toml::Value::Boolean(false)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn environment_overrides_file_overrides_defaults() {
        let dir = std::env::temp_dir().join(format!("ledger-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ledger.toml");
        std::fs::write(&file, "stream_name = \"FROM_FILE\"\nrelay_batch_size = 7\n").unwrap();
        let settings = Settings::load(
            Some(&file),
            env(&[("LEDGER_RELAY_BATCH_SIZE", "9"), ("OTHER", "x")]),
        )
        .unwrap();
        assert_eq!(settings.stream_name, "FROM_FILE");
        assert_eq!(settings.relay_batch_size, 9);
        assert_eq!(settings.projector_batch_size, 500);
    }

    #[test]
    fn unknown_or_invalid_settings_name_the_key() {
        let unknown = Settings::load(None, env(&[("LEDGER_STREAM_NAM", "x")])).unwrap_err();
        assert!(format!("{unknown:#}").contains("stream_nam"), "{unknown:#}");
        let wrong_type =
            Settings::load(None, env(&[("LEDGER_RELAY_BATCH_SIZE", "many")])).unwrap_err();
        assert!(
            format!("{wrong_type:#}").contains("relay_batch_size"),
            "{wrong_type:#}"
        );
        let out_of_range =
            Settings::load(None, env(&[("LEDGER_RELAY_BATCH_SIZE", "0")])).unwrap_err();
        assert!(format!("{out_of_range:#}").contains("relay_batch_size"));
        let bad_prefix =
            Settings::load(None, env(&[("LEDGER_SUBJECT_PREFIX", "a..b")])).unwrap_err();
        assert!(format!("{bad_prefix:#}").contains("subject_prefix"));
        for (name, value, key) in [
            ("LEDGER_AUTH_ISSUER", "", "auth_issuer"),
            ("LEDGER_AUTH_AUDIENCE", "a\u{7}b", "auth_audience"),
            (
                "LEDGER_AUTH_CLOCK_LEEWAY_SECS",
                "601",
                "auth_clock_leeway_secs",
            ),
            ("LEDGER_RATE_LIMIT_PER_SECOND", "0", "rate_limit_per_second"),
            ("LEDGER_RATE_LIMIT_BURST", "0", "rate_limit_burst"),
            ("LEDGER_SHUTDOWN_GRACE_SECS", "0", "shutdown_grace_secs"),
            ("LEDGER_SHUTDOWN_GRACE_SECS", "3601", "shutdown_grace_secs"),
            ("LEDGER_STALL_AFTER_SECS", "0", "stall_after_secs"),
            ("LEDGER_READ_CACHE_MAX_AGE_MS", "0", "read_cache_max_age_ms"),
            (
                "LEDGER_READ_CACHE_MAX_AGE_MS",
                "60001",
                "read_cache_max_age_ms",
            ),
            ("LEDGER_READ_CACHE_BYTES", "17179869185", "read_cache_bytes"),
            ("LEDGER_STALL_AFTER_SECS", "86401", "stall_after_secs"),
            (
                "LEDGER_AUTH_SIGNING_KEYS",
                "k1=not-a-key@2026-01-01T00:00:00Z",
                "auth_signing_keys",
            ),
        ] {
            let error = Settings::load(None, env(&[(name, value)])).unwrap_err();
            assert!(format!("{error:#}").contains(key), "{name}: {error:#}");
        }
    }

    #[test]
    fn an_environment_value_is_typed_by_the_setting_it_goes_to() {
        // Digits (or `true`) for a text setting stay text.
        let settings = Settings::load(
            None,
            env(&[
                ("LEDGER_STREAM_NAME", "2026"),
                ("LEDGER_AUTH_AUDIENCE", "12345"),
                ("LEDGER_AUTH_ISSUER", "true"),
                ("LEDGER_RELAY_BATCH_SIZE", "9"),
                ("LEDGER_STREAM_REPLICAS", "3"),
            ]),
        )
        .unwrap();
        assert_eq!(settings.stream_name, "2026");
        assert_eq!(settings.auth_audience, "12345");
        assert_eq!(settings.auth_issuer, "true");
        assert_eq!(settings.checkpoint_origin(), "licensing-ledger/2026");
        // Numbers for numeric settings still work, beside them.
        assert_eq!(settings.relay_batch_size, 9);
        assert_eq!(settings.stream_replicas, 3);
        // A file's TOML types are its own: a quoted number is no number.
        let dir = std::env::temp_dir().join(format!("ledger-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ledger.toml");
        std::fs::write(&file, "relay_batch_size = \"9\"\n").unwrap();
        let quoted = Settings::load(Some(&file), env(&[])).unwrap_err();
        assert!(
            format!("{quoted:#}").contains("relay_batch_size"),
            "{quoted:#}"
        );
    }

    #[test]
    fn a_bad_number_in_the_environment_is_refused_naming_the_key() {
        for (name, value, key) in [
            ("LEDGER_RELAY_BATCH_SIZE", "12x", "relay_batch_size"),
            ("LEDGER_RELAY_BATCH_SIZE", "-1", "relay_batch_size"),
            ("LEDGER_STREAM_REPLICAS", "true", "stream_replicas"),
            (
                "LEDGER_READ_WAIT_TIMEOUT_MS",
                "99999999999999999999",
                "read_wait_timeout_ms",
            ),
        ] {
            let error = Settings::load(None, env(&[(name, value), ("LEDGER_STREAM_NAME", "2026")]))
                .unwrap_err();
            let message = format!("{error:#}");
            assert!(message.contains(key), "{name}={value}: {message}");
            assert!(message.contains(name), "{name}={value}: {message}");
        }
    }

    #[test]
    fn passwords_never_show_in_debug_output() {
        let settings = Settings::load(
            None,
            env(&[(
                "LEDGER_DATABASE_URL",
                "postgres://ledger:s3cret@db:5432/ledger",
            )]),
        )
        .unwrap();
        let printed = format!("{settings:?}");
        assert!(!printed.contains("s3cret"), "{printed}");
        assert!(printed.contains("ledger:***@db"));
    }

    #[test]
    fn signing_keys_come_from_a_toml_table_or_one_environment_string() {
        let old =
            crate::signing_keys::generate("k1", "2026-01-01T00:00:00Z".parse().unwrap()).unwrap();
        let new =
            crate::signing_keys::generate("k2", "2027-01-01T00:00:00Z".parse().unwrap()).unwrap();
        let dir = std::env::temp_dir().join(format!("ledger-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ledger.toml");
        let retired = format!(
            "[[license_signing_keys]]\nkey_id = \"k1\"\nactive_from = \"2026-01-01T00:00:00Z\"\n\
             public_key = \"{}\"\n",
            old.public_key_base64()
        );
        let text = format!(
            "license_vendor = \"ACME_1\"\n{}{retired}",
            crate::signing_keys::toml_entry(&new)
        );
        std::fs::write(&file, text).unwrap();
        let from_file = Settings::load(Some(&file), env(&[])).unwrap();
        assert_eq!(from_file.license_vendor.as_str(), "ACME_1");
        let keys: Vec<(&str, bool)> = from_file
            .license_signing_keys
            .0
            .keys()
            .iter()
            .map(|k| (k.key_id(), k.can_sign()))
            .collect();
        assert_eq!(keys, [("k1", false), ("k2", true)]);

        let line = crate::signing_keys::compact_entry(&old);
        let from_env =
            Settings::load(Some(&file), env(&[("LEDGER_LICENSE_SIGNING_KEYS", &line)])).unwrap();
        let keyring = &from_env.license_signing_keys.0;
        assert_eq!(keyring.keys().len(), 1);
        assert!(keyring.can_sign());
        let printed = format!("{from_env:?}");
        let seed = old.private_key_base64().unwrap();
        assert!(!printed.contains(&seed), "{printed}");
        assert!(printed.contains("k1"), "{printed}");
        assert!(!Settings::default().license_signing_keys.0.can_sign());
    }

    #[test]
    fn bad_signing_keys_or_vendor_name_the_setting_and_never_the_secret() {
        let seed = "bm90LTMyLWJ5dGVzLW9mLXNlZWQ=";
        let bad_key = Settings::load(
            None,
            env(&[(
                "LEDGER_LICENSE_SIGNING_KEYS",
                &format!("k1={seed}@2026-01-01T00:00:00Z"),
            )]),
        )
        .unwrap_err();
        let message = format!("{bad_key:#}");
        assert!(message.contains("license_signing_keys"), "{message}");
        assert!(!message.contains(seed), "{message}");
        let bad_vendor =
            Settings::load(None, env(&[("LEDGER_LICENSE_VENDOR", "NOT A NAME")])).unwrap_err();
        assert!(format!("{bad_vendor:#}").contains("license_vendor"));
    }
}
