//! Bulk compatibility: every attribute an action compares, with the reference
//! being the first selected license, and every incompatible license named.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{NaiveDate, TimeZone, Utc};
use ledger_domain::bulk::{incompatibilities, BulkAction, Incompatibility};
use ledger_domain::events::{Activated, Allocated, Hidden, Purchased};
use ledger_domain::{
    AccountId, AllocationId, BindingType, Edition, HostId, License, LicenseEvent, LicenseId,
    LicenseModel, ProductCode, ProductVersion, Purchase,
};
use uuid::Uuid;

fn id(n: u128) -> LicenseId {
    LicenseId(Uuid::from_u128(n))
}

fn purchase(binding_type: BindingType, expires_on: Option<NaiveDate>) -> LicenseEvent {
    LicenseEvent::Purchased(Purchased::new(
        AccountId(Uuid::from_u128(1)),
        Purchase {
            product: ProductCode::parse("XDT").unwrap(),
            edition: Edition::Enterprise,
            version: ProductVersion::parse("7.15").unwrap(),
            license_model: LicenseModel::UserDevice,
            binding_type,
            quantity: 100,
            expires_on,
            maintenance_until: NaiveDate::from_ymd_opt(2027, 11, 21).unwrap(),
            order_number: "ORD-1".into(),
            access_code: "LA-1".into(),
            trial: false,
            partial_allocation: true,
            purchased_at: Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap(),
        },
    ))
}

fn allocated_to(host: &str) -> Vec<LicenseEvent> {
    vec![
        LicenseEvent::Activated(Activated {
            activated_at: Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
        }),
        LicenseEvent::Allocated(Allocated {
            allocation_id: AllocationId(Uuid::from_u128(9)),
            host: HostId::parse(BindingType::HostName, host).unwrap(),
            quantity: 10,
        }),
    ]
}

fn license(events: Vec<LicenseEvent>) -> License {
    License::replay(&events)
}

fn host_named() -> License {
    license(vec![purchase(BindingType::HostName, None)])
}

fn check(action: BulkAction, licenses: &[(LicenseId, Option<&License>)]) -> Vec<Incompatibility> {
    let selection: Vec<_> = licenses
        .iter()
        .map(|(id, license)| (*id, license.and_then(License::state)))
        .collect();
    incompatibilities(&action, &selection)
}

fn named(found: &[Incompatibility]) -> Vec<(LicenseId, &'static str, &str, &str)> {
    found
        .iter()
        .map(|i| {
            (
                i.license_id,
                i.attribute,
                i.expected.as_str(),
                i.actual.as_str(),
            )
        })
        .collect()
}

#[test]
fn allocation_needs_the_reference_binding_type() {
    let mac = license(vec![purchase(BindingType::MacAddress, None)]);
    let (a, b) = (host_named(), host_named());
    let found = check(
        BulkAction::Allocate,
        &[(id(1), Some(&a)), (id(2), Some(&mac)), (id(3), Some(&b))],
    );
    assert_eq!(
        named(&found),
        [(id(2), "binding_type", "host_name", "mac_address")]
    );
    // The first selected license sets the reference: the same set, mac first, flips it.
    let found = check(
        BulkAction::Allocate,
        &[(id(2), Some(&mac)), (id(1), Some(&a)), (id(3), Some(&b))],
    );
    assert_eq!(found.len(), 2);
    assert!(found.iter().all(|i| i.expected == "mac_address"));
}

#[test]
fn a_license_outside_the_account_is_named() {
    let a = host_named();
    let found = check(BulkAction::Hide, &[(id(1), Some(&a)), (id(2), None)]);
    assert_eq!(
        named(&found),
        [(id(2), "license", "in this account", "not found")]
    );
    // A missing reference is reported; nothing is compared against it.
    let found = check(BulkAction::Allocate, &[(id(2), None), (id(1), Some(&a))]);
    assert_eq!(
        named(&found),
        [(id(2), "license", "in this account", "not found")]
    );
}

#[test]
fn returning_needs_every_license_allocated() {
    let mut events = vec![purchase(BindingType::HostName, None)];
    events.extend(allocated_to("SRV-A"));
    let allocated = license(events);
    let unallocated = host_named();
    let found = check(
        BulkAction::Return { host: None },
        &[(id(1), Some(&allocated)), (id(2), Some(&unallocated))],
    );
    assert_eq!(
        named(&found),
        [(id(2), "allocated", "allocated", "not allocated")]
    );
    let found = check(
        BulkAction::Return {
            host: Some("SRV-B".into()),
        },
        &[(id(1), Some(&allocated))],
    );
    assert_eq!(
        named(&found),
        [(
            id(1),
            "allocated",
            "allocated to SRV-B",
            "not allocated to SRV-B"
        )]
    );
    assert!(check(
        BulkAction::Return {
            host: Some("SRV-A".into())
        },
        &[(id(1), Some(&allocated))]
    )
    .is_empty());
}

#[test]
fn hiding_needs_visible_licenses_and_unhiding_hidden_ones() {
    let visible = host_named();
    let hidden = license(vec![
        purchase(BindingType::HostName, None),
        LicenseEvent::Hidden(Hidden {}),
    ]);
    let selection = [(id(1), Some(&visible)), (id(2), Some(&hidden))];
    assert_eq!(
        named(&check(BulkAction::Hide, &selection)),
        [(id(2), "hidden", "visible", "hidden")]
    );
    assert_eq!(
        named(&check(BulkAction::Unhide, &selection)),
        [(id(1), "hidden", "hidden", "visible")]
    );
}

#[test]
fn a_term_renewal_needs_term_licenses_and_a_maintenance_renewal_takes_any() {
    let term = license(vec![purchase(
        BindingType::HostName,
        NaiveDate::from_ymd_opt(2027, 11, 21),
    )]);
    let perpetual = host_named();
    let selection = [(id(1), Some(&term)), (id(2), Some(&perpetual))];
    assert_eq!(
        named(&check(BulkAction::Renew { new_expiry: true }, &selection)),
        [(id(2), "term", "term", "perpetual")]
    );
    assert!(check(BulkAction::Renew { new_expiry: false }, &selection).is_empty());
}
