//! The stream contract's JSON Schemas: one per event type and version, generated
//! from the Rust types and committed under `docs/schemas/events/`, so the contract
//! cannot drift from the code. `UPDATE_EVENT_SCHEMAS=1 cargo test -p ledger-gateway
//! --test event_schemas` rewrites the current versions after a deliberate change
//! (which needs a new event version). Older versions stay committed, frozen.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::PathBuf;

use ledger_domain::events::{
    Activated, Allocated, Hidden, LicenseEvent, Modified, Purchased, Renewed, Returned, Unhidden,
    Upgraded,
};
use ledger_domain::usage::UsageReported;
use serde_json::{json, Value};
use utoipa::ToSchema;

const DRAFT: &str = "https://json-schema.org/draft/2020-12/schema";

fn directory() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/schemas/events")
}

/// A self-contained JSON Schema (2020-12) of `T`: nested types under `$defs`.
fn schema_of<T: ToSchema>(event_type: &str, version: &str) -> Value {
    let mut components = Vec::new();
    T::schemas(&mut components);
    let defs: serde_json::Map<String, Value> = components
        .into_iter()
        .map(|(name, schema)| (name, serde_json::to_value(schema).unwrap()))
        .collect();
    let mut root = serde_json::to_value(T::schema()).unwrap();
    root["$schema"] = json!(DRAFT);
    root["$id"] = json!(format!(
        "urn:licensing-ledger:event:{event_type}:v{version}"
    ));
    root["title"] = json!(format!("{event_type} v{version}"));
    if !defs.is_empty() {
        root["$defs"] = Value::Object(defs);
    }
    let text = serde_json::to_string(&root)
        .unwrap()
        .replace("#/components/schemas/", "#/$defs/");
    serde_json::from_str(&text).unwrap()
}

/// Every event type at its current version, with its generated schema.
fn current() -> Vec<(&'static str, &'static str, Value)> {
    let v = LicenseEvent::version_of;
    vec![
        (
            "Purchased",
            v("Purchased"),
            schema_of::<Purchased>("Purchased", v("Purchased")),
        ),
        (
            "Activated",
            v("Activated"),
            schema_of::<Activated>("Activated", v("Activated")),
        ),
        (
            "Allocated",
            v("Allocated"),
            schema_of::<Allocated>("Allocated", v("Allocated")),
        ),
        (
            "Modified",
            v("Modified"),
            schema_of::<Modified>("Modified", v("Modified")),
        ),
        (
            "Returned",
            v("Returned"),
            schema_of::<Returned>("Returned", v("Returned")),
        ),
        (
            "Hidden",
            v("Hidden"),
            schema_of::<Hidden>("Hidden", v("Hidden")),
        ),
        (
            "Unhidden",
            v("Unhidden"),
            schema_of::<Unhidden>("Unhidden", v("Unhidden")),
        ),
        (
            "Renewed",
            v("Renewed"),
            schema_of::<Renewed>("Renewed", v("Renewed")),
        ),
        (
            "Upgraded",
            v("Upgraded"),
            schema_of::<Upgraded>("Upgraded", v("Upgraded")),
        ),
        (
            "UsageReported",
            "1",
            schema_of::<UsageReported>("UsageReported", "1"),
        ),
    ]
}

fn file(event_type: &str, version: &str) -> PathBuf {
    directory().join(format!("{event_type}.v{version}.json"))
}

#[test]
fn every_current_event_schema_is_committed_and_matches_the_code() {
    let update = std::env::var_os("UPDATE_EVENT_SCHEMAS").is_some();
    let schemas = current();
    let covered: Vec<&str> = schemas.iter().map(|(t, _, _)| *t).collect();
    for event_type in LicenseEvent::TYPES {
        assert!(covered.contains(&event_type), "no schema for {event_type}");
    }
    for (event_type, version, schema) in schemas {
        let path = file(event_type, version);
        let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
        if update {
            std::fs::create_dir_all(directory()).unwrap();
            std::fs::write(&path, &text).unwrap();
        }
        let committed = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("{} is not committed", path.display()));
        assert_eq!(
            committed, text,
            "{event_type} v{version} changed: a new shape is a new version (see README)"
        );
    }
}

#[test]
fn every_older_version_stays_committed() {
    for event_type in LicenseEvent::TYPES {
        let current: u32 = LicenseEvent::version_of(event_type).parse().unwrap();
        for version in 1..current {
            let path = file(event_type, &version.to_string());
            let schema: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            assert_eq!(schema["$schema"], DRAFT, "{}", path.display());
        }
    }
    // Purchased v1 is v2 without `feature`, which v2 added.
    let v1: Value =
        serde_json::from_str(&std::fs::read_to_string(file("Purchased", "1")).unwrap()).unwrap();
    let v2: Value =
        serde_json::from_str(&std::fs::read_to_string(file("Purchased", "2")).unwrap()).unwrap();
    // The body is the flattened terms (`allOf[0]`) plus its own members (`allOf[1]`).
    assert_eq!(v1["allOf"][0], v2["allOf"][0], "the terms did not change");
    let names = |schema: &Value| -> Vec<String> {
        let mut names: Vec<String> = schema["allOf"][1]["properties"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        names.sort();
        names
    };
    let mut expected = names(&v2);
    expected.retain(|name| name != "feature");
    assert_eq!(names(&v1), expected);
}
