//! Events: the immutable facts the ledger records about a license.
//!
//! A persisted event's name and shape never change. Each has an explicit name
//! (`event_type`) and version (`event_version`); a change of shape is a new version
//! plus an upcaster in [`LicenseEvent::decode`], never an edit of an old one.
//!
//! In the event store a payload is `{"<name>": {<body>}}` (serde's external tagging,
//! as cqrs-es stores it); on the NATS stream the body alone travels, with the name
//! and version in headers. [`LicenseEvent::body`] and [`LicenseEvent::decode`]
//! convert between the two.

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::terms::LicenseTerms;
use crate::values::{AccountId, AllocationId, Edition, HostId, ProductVersion};

/// Every event of the License aggregate. Variant names are the persisted names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LicenseEvent {
    /// A license line was purchased.
    Purchased(Purchased),
    /// The license was activated with its access code.
    Activated(Activated),
    /// Seats were allocated to a license server; a license file is issued.
    Allocated(Allocated),
    /// An allocation moved to another server; the old file is void.
    Modified(Modified),
    /// An allocation's seats went back to the pool; its file is void.
    Returned(Returned),
    /// The license was hidden from default views.
    Hidden(Hidden),
    /// The license was shown again.
    Unhidden(Unhidden),
    /// Expiry and/or maintenance moved forward.
    Renewed(Renewed),
    /// Edition and/or version went up; live allocations get re-issued files.
    Upgraded(Upgraded),
}

/// Body of `Purchased` v2: the owning account, the terms and the feature name, in
/// one flat object. (v1 had no `feature`; [`crate::upcast`] derives it.) serde
/// cannot deny unknown fields next to `flatten`; this body alone is lenient.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Purchased {
    /// The owning account.
    pub account_id: AccountId,
    /// What was purchased.
    #[serde(flatten)]
    pub terms: LicenseTerms,
    /// The feature name in license files, e.g. `XDT_ENT_UD` (since v2), so a
    /// consumer of the stream need not know how it is formed.
    pub feature: String,
}

impl Purchased {
    /// The event for `terms` bought by `account_id`.
    pub fn new(account_id: AccountId, terms: LicenseTerms) -> Self {
        Self {
            account_id,
            feature: terms.feature(),
            terms,
        }
    }
}

/// Body of `Activated` v1.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Activated {
    /// When it was activated.
    pub activated_at: DateTime<Utc>,
}

/// Body of `Allocated` v1.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allocated {
    /// The new allocation.
    pub allocation_id: AllocationId,
    /// The license server it is bound to.
    pub host: HostId,
    /// Seats allocated.
    pub quantity: u32,
}

/// Body of `Modified` v1.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Modified {
    /// The allocation moved away (now void).
    pub allocation_id: AllocationId,
    /// The allocation that replaces it.
    pub new_allocation_id: AllocationId,
    /// Where it was.
    pub from_host: HostId,
    /// Where it is now.
    pub to_host: HostId,
    /// Seats moved.
    pub quantity: u32,
}

/// Body of `Returned` v1.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Returned {
    /// The allocation returned (now void).
    pub allocation_id: AllocationId,
    /// The server it was on.
    pub host: HostId,
    /// Seats back in the pool.
    pub quantity: u32,
}

/// Body of `Hidden` v1.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hidden {}

/// Body of `Unhidden` v1.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unhidden {}

/// Body of `Renewed` v1. A date is present only when it changed.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Renewed {
    /// The new last valid day.
    pub expires_on: Option<NaiveDate>,
    /// The new last day of maintenance.
    pub maintenance_until: Option<NaiveDate>,
}

/// Body of `Upgraded` v1. Each `to_` is present only when it changed.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upgraded {
    /// The new edition.
    pub to_edition: Option<Edition>,
    /// The new version.
    pub to_version: Option<ProductVersion>,
    /// Live allocations whose license files are re-issued.
    pub reissued_allocations: Vec<AllocationId>,
}

/// Why a stored or streamed event could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EventDecodeError {
    /// A name this code does not know: written by a newer version, or not ours.
    #[error("unknown event type `{0}`")]
    UnknownType(String),
    /// A version of a known event this code cannot read or upcast.
    #[error("unknown version `{version}` of event `{event_type}`")]
    UnknownVersion {
        /// The event name.
        event_type: String,
        /// The version found.
        version: String,
    },
    /// The body does not have the event's shape.
    #[error("malformed `{event_type}` body: {source}")]
    Malformed {
        /// The event name.
        event_type: String,
        /// What serde said.
        source: serde_json::Error,
    },
}

/// The version events are written at, unless [`LicenseEvent::version_of`] says
/// otherwise for one.
pub const CURRENT_VERSION: &str = "1";

impl LicenseEvent {
    /// Every persisted event name, in declaration order.
    pub const TYPES: [&'static str; 9] = [
        "Purchased",
        "Activated",
        "Allocated",
        "Modified",
        "Returned",
        "Hidden",
        "Unhidden",
        "Renewed",
        "Upgraded",
    ];

    /// The persisted name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Purchased(_) => "Purchased",
            Self::Activated(_) => "Activated",
            Self::Allocated(_) => "Allocated",
            Self::Modified(_) => "Modified",
            Self::Returned(_) => "Returned",
            Self::Hidden(_) => "Hidden",
            Self::Unhidden(_) => "Unhidden",
            Self::Renewed(_) => "Renewed",
            Self::Upgraded(_) => "Upgraded",
        }
    }

    /// The version `event_type` is written at now.
    pub fn version_of(event_type: &str) -> &'static str {
        match event_type {
            "Purchased" => "2",
            _ => CURRENT_VERSION,
        }
    }

    /// The version this event is written at.
    pub fn version(&self) -> &'static str {
        Self::version_of(self.name())
    }

    /// The body alone, as it travels on the stream.
    pub fn body(&self) -> Result<Value, serde_json::Error> {
        let tagged = serde_json::to_value(self)?;
        Ok(untag(tagged))
    }

    /// Reads an event from its name, version and body (stream form), upcasting older
    /// versions to the current shape.
    pub fn decode(event_type: &str, version: &str, body: Value) -> Result<Self, EventDecodeError> {
        if !Self::TYPES.contains(&event_type) {
            return Err(EventDecodeError::UnknownType(event_type.to_owned()));
        }
        let current = Self::version_of(event_type);
        let body = crate::upcast::to_current(event_type, version, body)?;
        decode_tagged(&Self::TYPES, event_type, current, current, body)
    }
}

/// Reads an event of an enum whose variants are named in `types` from its name,
/// version (which must be `expected`) and body: the body is re-tagged
/// `{"Name": body}` as the store keeps it.
pub fn decode_tagged<E: serde::de::DeserializeOwned>(
    types: &[&str],
    event_type: &str,
    version: &str,
    expected: &str,
    body: Value,
) -> Result<E, EventDecodeError> {
    if !types.contains(&event_type) {
        return Err(EventDecodeError::UnknownType(event_type.to_owned()));
    }
    if version != expected {
        return Err(EventDecodeError::UnknownVersion {
            event_type: event_type.to_owned(),
            version: version.to_owned(),
        });
    }
    let mut tagged = serde_json::Map::new();
    tagged.insert(event_type.to_owned(), body);
    serde_json::from_value(Value::Object(tagged)).map_err(|source| EventDecodeError::Malformed {
        event_type: event_type.to_owned(),
        source,
    })
}

/// The stream form of a stored payload: `{"Name": body}` becomes `body`. Anything
/// else is passed on unchanged, so the relay never has to understand an event.
pub fn untag(stored: Value) -> Value {
    match stored {
        Value::Object(map) if map.len() == 1 => match map.into_iter().next() {
            Some((_, body)) => body,
            None => Value::Null,
        },
        other => other,
    }
}

impl DomainEvent for LicenseEvent {
    fn event_type(&self) -> String {
        self.name().to_owned()
    }

    fn event_version(&self) -> String {
        self.version().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_body_decodes_back_to_the_same_event() {
        let event = LicenseEvent::Renewed(Renewed {
            expires_on: NaiveDate::from_ymd_opt(2028, 1, 31),
            maintenance_until: None,
        });
        let body = event.body().unwrap();
        assert_eq!(body["expires_on"], "2028-01-31");
        let back = LicenseEvent::decode("Renewed", "1", body).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn unknown_names_versions_and_shapes_are_refused() {
        assert!(matches!(
            LicenseEvent::decode("Exploded", "1", serde_json::json!({})),
            Err(EventDecodeError::UnknownType(_))
        ));
        assert!(matches!(
            LicenseEvent::decode("Hidden", "9", serde_json::json!({})),
            Err(EventDecodeError::UnknownVersion { .. })
        ));
        assert!(matches!(
            LicenseEvent::decode("Hidden", "1", serde_json::json!({"extra": 1})),
            Err(EventDecodeError::Malformed { .. })
        ));
    }

    #[test]
    fn every_declared_name_is_a_variant_name() {
        let hidden = LicenseEvent::Hidden(Hidden {});
        assert_eq!(hidden.event_type(), "Hidden");
        assert!(LicenseEvent::TYPES.contains(&hidden.name()));
    }
}
