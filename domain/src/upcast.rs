//! Upcasting: stored events keep the version they were written at forever; they
//! are brought to the current shape when read — by the event store when a license
//! is loaded ([`LicenseEventUpcaster`], a cqrs-es `EventUpcaster`), and by stream
//! consumers when a message is decoded ([`crate::events::LicenseEvent::decode`]).
//!
//! Versions so far:
//! - `Purchased` v1 → v2: v2 adds `feature` (`XDT_ENT_UD`), derived from the v1
//!   body's `product`, `edition` and `license_model` by the same rule as
//!   [`crate::terms::LicenseTerms::feature`].

use cqrs_es::persist::{EventUpcaster, SerializedEvent};
use serde_json::Value;

use crate::events::{untag, EventDecodeError, LicenseEvent};
use crate::values::{Edition, LicenseModel};

/// `body` of `event_type` written at `version`, in the current version's shape.
pub fn to_current(event_type: &str, version: &str, body: Value) -> Result<Value, EventDecodeError> {
    let current = LicenseEvent::version_of(event_type);
    match (event_type, version) {
        (_, v) if v == current => Ok(body),
        ("Purchased", "1") => purchased_v1_to_v2(body),
        _ => Err(EventDecodeError::UnknownVersion {
            event_type: event_type.to_owned(),
            version: version.to_owned(),
        }),
    }
}

fn purchased_v1_to_v2(mut body: Value) -> Result<Value, EventDecodeError> {
    let malformed = |detail: &str| EventDecodeError::Malformed {
        event_type: "Purchased".to_owned(),
        source: serde::de::Error::custom(format!("v1 body: {detail}")),
    };
    let text = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| malformed(&format!("`{name}` is missing")))
    };
    let product = text("product")?;
    let edition = Edition::parse(&text("edition")?).map_err(|e| malformed(&e.to_string()))?;
    let model =
        LicenseModel::parse(&text("license_model")?).map_err(|e| malformed(&e.to_string()))?;
    let feature = format!("{product}_{}_{}", edition.code(), model.feature_suffix());
    match body.as_object_mut() {
        Some(fields) => {
            fields.insert("feature".to_owned(), feature.into());
            Ok(body)
        }
        None => Err(malformed("not an object")),
    }
}

/// Upcasts License events as postgres-es loads them, before they are deserialized.
#[derive(Debug, Clone, Copy, Default)]
pub struct LicenseEventUpcaster;

impl EventUpcaster for LicenseEventUpcaster {
    fn can_upcast(&self, event_type: &str, event_version: &str) -> bool {
        LicenseEvent::TYPES.contains(&event_type)
            && event_version != LicenseEvent::version_of(event_type)
    }

    fn upcast(&self, mut event: SerializedEvent) -> SerializedEvent {
        let body = untag(std::mem::take(&mut event.payload));
        match to_current(&event.event_type, &event.event_version, body.clone()) {
            Ok(current) => {
                event.payload = tagged(&event.event_type, current);
                event.event_version = LicenseEvent::version_of(&event.event_type).to_owned();
            }
            // Left as stored: deserializing it then fails with the event named.
            Err(_) => event.payload = tagged(&event.event_type, body),
        }
        event
    }
}

fn tagged(event_type: &str, body: Value) -> Value {
    let mut map = serde_json::Map::new();
    map.insert(event_type.to_owned(), body);
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn v1_purchase() -> Value {
        json!({
            "account_id": "00000000-0000-0000-0000-000000000001",
            "product": "XDT", "edition": "ENT", "version": "7.15",
            "license_model": "user_device", "binding_type": "host_name",
            "quantity": 10, "expires_on": null, "maintenance_until": "2027-01-31",
            "order_number": "ORD-1", "access_code": "LA-1", "trial": false,
            "partial_allocation": true, "purchased_at": "2026-11-22T09:00:00Z"
        })
    }

    #[test]
    fn a_v1_purchase_reads_as_v2_with_its_feature() {
        let event = LicenseEvent::decode("Purchased", "1", v1_purchase()).unwrap();
        let LicenseEvent::Purchased(purchased) = event else {
            panic!("a purchase");
        };
        assert_eq!(purchased.feature, "XDT_ENT_UD");
        assert_eq!(purchased.feature, purchased.terms.feature());
    }

    #[test]
    fn the_store_upcaster_turns_a_stored_v1_into_v2() {
        let stored = SerializedEvent {
            aggregate_id: "l-1".into(),
            sequence: 1,
            aggregate_type: "License".into(),
            event_type: "Purchased".into(),
            event_version: "1".into(),
            payload: tagged("Purchased", v1_purchase()),
            metadata: json!({}),
        };
        assert!(LicenseEventUpcaster.can_upcast("Purchased", "1"));
        assert!(!LicenseEventUpcaster.can_upcast("Purchased", "2"));
        assert!(!LicenseEventUpcaster.can_upcast("Hidden", "1"));
        let upcast = LicenseEventUpcaster.upcast(stored);
        assert_eq!(upcast.event_version, "2");
        let event: LicenseEvent = serde_json::from_value(upcast.payload).unwrap();
        assert!(matches!(event, LicenseEvent::Purchased(p) if p.feature == "XDT_ENT_UD"));
    }

    #[test]
    fn a_v1_body_that_cannot_be_upcast_is_refused_with_its_reason() {
        let mut body = v1_purchase();
        body["license_model"] = json!("telepathic");
        assert!(matches!(
            LicenseEvent::decode("Purchased", "1", body),
            Err(EventDecodeError::Malformed { .. })
        ));
        assert!(matches!(
            LicenseEvent::decode("Purchased", "3", v1_purchase()),
            Err(EventDecodeError::UnknownVersion { .. })
        ));
    }
}
