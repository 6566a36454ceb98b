//! Usage reports from license servers: per server, day and feature, the peak
//! number of seats in use. Each (account, server, day) is its own short stream, so
//! streams stay small however long a server keeps reporting; a later report for
//! the same day supersedes the earlier one's lines, and both stay in history.
//!
//! Like the License aggregate, everything here is pure: the features an account
//! owns and the current instant are passed in with the command.

mod aggregate;
mod decide;

pub use aggregate::{ServerUsage, UsageState};
pub use decide::decide_usage;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::values::{AccountId, ValueError};

/// The stream of one server's usage on one day, in one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UsageStreamId(pub Uuid);

/// Namespace of usage stream ids (UUID v5).
const USAGE_NAMESPACE: Uuid = Uuid::from_u128(0x6c65_6467_6572_2d75_7361_6765_2d76_3101);

impl UsageStreamId {
    /// The one stream for `host` on `day` in `account`: the same inputs always give
    /// the same id, so every report for that server-day lands in one stream.
    pub fn of(account: AccountId, host: &ServerHost, day: NaiveDate) -> Self {
        let name = format!("{account}/{day}/{}", host.as_str());
        Self(Uuid::new_v5(&USAGE_NAMESPACE, name.as_bytes()))
    }
}

impl std::fmt::Display for UsageStreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A reporting license server's id: whatever its licenses are bound to (host name,
/// MAC address, serial or other id), so 1 to 253 printable ASCII characters.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ServerHost(String);

impl ServerHost {
    /// Checks the shape every binding type shares.
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        if (1..=253).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ValueError(format!(
                "`{raw}` is not a license server id: 1 to 253 printable characters, no spaces"
            )))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ServerHost {
    type Error = ValueError;
    fn try_from(raw: String) -> Result<Self, ValueError> {
        Self::parse(&raw)
    }
}

impl From<ServerHost> for String {
    fn from(host: ServerHost) -> Self {
        host.0
    }
}

/// Report one server's usage for one day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportUsage {
    /// The reporting account.
    pub account_id: AccountId,
    /// When the report is decided: reports for days after today are refused.
    pub now: DateTime<Utc>,
    /// The reporting server.
    pub host: ServerHost,
    /// The day reported.
    pub day: NaiveDate,
    /// Peak seats in use per feature name.
    pub peaks: BTreeMap<String, u32>,
    /// The features the account holds licenses for; looked up by the caller.
    pub known_features: BTreeSet<String>,
}

/// Everything that happens to a usage stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum UsageEvent {
    /// A server reported (or re-reported) its peaks for a day.
    UsageReported(UsageReported),
}

/// Body of `UsageReported` v1.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageReported {
    /// The owning account.
    pub account_id: AccountId,
    /// The reporting server.
    pub host: ServerHost,
    /// The day reported.
    pub day: NaiveDate,
    /// Peak seats in use per feature; replaces earlier peaks of these features.
    pub peaks: BTreeMap<String, u32>,
    /// When the report was received.
    pub reported_at: DateTime<Utc>,
}

impl UsageEvent {
    /// Every persisted event name.
    pub const TYPES: [&'static str; 1] = ["UsageReported"];

    /// The persisted name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::UsageReported(_) => "UsageReported",
        }
    }

    /// Reads an event from its name, version and body (stream form).
    pub fn decode(
        event_type: &str,
        version: &str,
        body: serde_json::Value,
    ) -> Result<Self, crate::events::EventDecodeError> {
        crate::events::decode_tagged(
            &Self::TYPES,
            event_type,
            version,
            crate::events::CURRENT_VERSION,
            body,
        )
    }
}

impl DomainEvent for UsageEvent {
    fn event_type(&self) -> String {
        self.name().to_owned()
    }

    fn event_version(&self) -> String {
        crate::events::CURRENT_VERSION.to_owned()
    }
}

/// Why a usage report was refused; nothing was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
pub enum UsageError {
    /// A report with no feature lines.
    #[error("a usage report needs at least one feature")]
    NothingReported,
    /// A report for a day that has not happened yet.
    #[error("usage for {day} cannot be reported before that day")]
    DayInFuture {
        /// The day reported.
        day: NaiveDate,
    },
    /// A day before any license could have been in use.
    #[error("usage for {day} is too long ago to report")]
    DayTooEarly {
        /// The day reported.
        day: NaiveDate,
    },
    /// A peak above any license's possible quantity.
    #[error("a peak of {peak} for `{feature}` is beyond any license")]
    PeakTooLarge {
        /// The feature.
        feature: String,
        /// The peak given.
        peak: u32,
    },
    /// A feature the account holds no license for.
    #[error("the account holds no license for feature `{feature}`")]
    UnknownFeature {
        /// The feature named.
        feature: String,
    },
    /// The command names another server, day or account than its stream.
    #[error("the report does not belong to this usage stream")]
    WrongStream,
}

impl UsageError {
    /// A stable, machine-readable name for the rule.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NothingReported => "nothing-reported",
            Self::DayInFuture { .. } => "day-in-future",
            Self::DayTooEarly { .. } => "day-too-early",
            Self::PeakTooLarge { .. } => "peak-too-large",
            Self::UnknownFeature { .. } => "unknown-feature",
            Self::WrongStream => "wrong-stream",
        }
    }
}
