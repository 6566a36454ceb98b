//! The License rules, given/when/then: every command's success and every error
//! `decide` can return, run through cqrs-es' `TestFramework` (so through
//! `Aggregate::handle`, exactly as the command handler runs them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use cqrs_es::test::{AggregateTestExecutor, TestFramework};
use ledger_domain::events::{
    Activated, Allocated, Hidden, Modified, Purchased, Renewed, Returned, Unhidden, Upgraded,
};
use ledger_domain::{
    AccountId, Activate, Allocate, AllocationId, AllocationStatus, BindingType, Edition, HostId,
    License, LicenseAction, LicenseCommand, LicenseError, LicenseEvent, LicenseModel,
    ModifyAllocation, ProductCode, ProductVersion, Purchase, Renew, ReturnAllocation, Upgrade,
};
use uuid::Uuid;

// ---------------------------------------------------------------------------
// Fixed facts: one account, one purchase day, one "today".
// ---------------------------------------------------------------------------

fn day(year: i32, month: u32, dom: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, dom).unwrap()
}

fn noon(date: NaiveDate) -> DateTime<Utc> {
    date.and_hms_opt(12, 0, 0).unwrap().and_utc()
}

/// The day every license in these tests was purchased.
fn purchase_day() -> NaiveDate {
    day(2026, 11, 22)
}

/// "Today" for every command unless a test says otherwise.
fn today() -> NaiveDate {
    day(2027, 3, 1)
}

fn yesterday() -> NaiveDate {
    today() - Days::new(1)
}

fn tomorrow() -> NaiveDate {
    today() + Days::new(1)
}

/// Last day of maintenance of the standard purchase.
fn maintenance_end() -> NaiveDate {
    day(2027, 11, 21)
}

/// Last valid day of a term license.
fn term_end() -> NaiveDate {
    day(2027, 11, 21)
}

fn account() -> AccountId {
    AccountId(Uuid::from_u128(0xACC0_0000_0000_0001))
}

fn another_account() -> AccountId {
    AccountId(Uuid::from_u128(0xACC0_0000_0000_0002))
}

fn allocation(n: u128) -> AllocationId {
    AllocationId(Uuid::from_u128(0xA110_0000_0000_0000 + n))
}

fn host(raw: &str) -> HostId {
    HostId::parse(BindingType::HostName, raw).unwrap()
}

fn version(raw: &str) -> ProductVersion {
    ProductVersion::parse(raw).unwrap()
}

const ACCESS_CODE: &str = "LA-0001234567-12345";

/// A valid purchase: 1,000 perpetual XDT Enterprise 7.15 user/device seats, bound
/// to host names, splittable across servers.
fn purchase() -> Purchase {
    Purchase {
        product: ProductCode::parse("XDT").unwrap(),
        edition: Edition::Enterprise,
        version: version("7.15"),
        license_model: LicenseModel::UserDevice,
        binding_type: BindingType::HostName,
        quantity: 1000,
        expires_on: None,
        maintenance_until: maintenance_end(),
        order_number: "ORD-2026-0042".to_owned(),
        access_code: ACCESS_CODE.to_owned(),
        trial: false,
        partial_allocation: true,
        purchased_at: Utc.with_ymd_and_hms(2026, 11, 22, 9, 30, 0).unwrap(),
    }
}

/// The standard purchase as a term license ending on `expires_on`.
fn term_purchase(expires_on: NaiveDate) -> Purchase {
    Purchase {
        expires_on: Some(expires_on),
        ..purchase()
    }
}

// ---------------------------------------------------------------------------
// Events, as the ledger records them.
// ---------------------------------------------------------------------------

fn purchased(p: &Purchase) -> LicenseEvent {
    LicenseEvent::Purchased(Purchased::new(account(), p.clone()))
}

fn activated_at() -> DateTime<Utc> {
    noon(purchase_day() + Days::new(1))
}

fn activated() -> LicenseEvent {
    LicenseEvent::Activated(Activated {
        activated_at: activated_at(),
    })
}

fn allocated(id: AllocationId, on: &str, quantity: u32) -> LicenseEvent {
    LicenseEvent::Allocated(Allocated {
        allocation_id: id,
        host: host(on),
        quantity,
    })
}

fn moved(
    id: AllocationId,
    new_id: AllocationId,
    from: &str,
    to: &str,
    quantity: u32,
) -> LicenseEvent {
    LicenseEvent::Modified(Modified {
        allocation_id: id,
        new_allocation_id: new_id,
        from_host: host(from),
        to_host: host(to),
        quantity,
    })
}

fn returned(id: AllocationId, on: &str, quantity: u32) -> LicenseEvent {
    LicenseEvent::Returned(Returned {
        allocation_id: id,
        host: host(on),
        quantity,
    })
}

fn hidden() -> LicenseEvent {
    LicenseEvent::Hidden(Hidden {})
}

fn unhidden() -> LicenseEvent {
    LicenseEvent::Unhidden(Unhidden {})
}

fn renewed(expires_on: Option<NaiveDate>, maintenance_until: Option<NaiveDate>) -> LicenseEvent {
    LicenseEvent::Renewed(Renewed {
        expires_on,
        maintenance_until,
    })
}

fn upgraded(
    to_edition: Option<Edition>,
    to_version: Option<&str>,
    reissued_allocations: Vec<AllocationId>,
) -> LicenseEvent {
    LicenseEvent::Upgraded(Upgraded {
        to_edition,
        to_version: to_version.map(version),
        reissued_allocations,
    })
}

// ---------------------------------------------------------------------------
// Commands.
// ---------------------------------------------------------------------------

/// `action`, asked by our account today.
fn command(action: LicenseAction) -> LicenseCommand {
    command_on(today(), action)
}

/// `action`, asked by our account on `date`.
fn command_on(date: NaiveDate, action: LicenseAction) -> LicenseCommand {
    LicenseCommand {
        account_id: account(),
        now: noon(date),
        action,
    }
}

/// `action`, asked by `account_id` today.
fn command_by(account_id: AccountId, action: LicenseAction) -> LicenseCommand {
    LicenseCommand {
        account_id,
        now: noon(today()),
        action,
    }
}

fn buy(p: Purchase) -> LicenseAction {
    LicenseAction::Purchase(p)
}

fn activate(access_code: &str) -> LicenseAction {
    LicenseAction::Activate(Activate {
        access_code: access_code.to_owned(),
    })
}

fn allocate(id: AllocationId, host: &str, quantity: u32) -> LicenseAction {
    LicenseAction::Allocate(Allocate {
        allocation_id: id,
        host: host.to_owned(),
        quantity,
    })
}

fn modify(id: AllocationId, new_id: AllocationId, new_host: &str) -> LicenseAction {
    LicenseAction::ModifyAllocation(ModifyAllocation {
        allocation_id: id,
        new_allocation_id: new_id,
        new_host: new_host.to_owned(),
    })
}

fn return_allocation(id: AllocationId) -> LicenseAction {
    LicenseAction::ReturnAllocation(ReturnAllocation { allocation_id: id })
}

fn renew(expires_on: Option<NaiveDate>, maintenance_until: Option<NaiveDate>) -> LicenseAction {
    LicenseAction::Renew(Renew {
        expires_on,
        maintenance_until,
    })
}

fn upgrade(edition: Option<Edition>, to_version: Option<&str>) -> LicenseAction {
    LicenseAction::Upgrade(Upgrade {
        edition,
        version: to_version.map(version),
    })
}

// ---------------------------------------------------------------------------
// Givens.
// ---------------------------------------------------------------------------

fn given(events: Vec<LicenseEvent>) -> AggregateTestExecutor<License> {
    TestFramework::<License>::with(()).given(events)
}

fn given_nothing() -> AggregateTestExecutor<License> {
    TestFramework::<License>::with(()).given_no_previous_events()
}

/// `p` purchased and activated.
fn active(p: Purchase) -> Vec<LicenseEvent> {
    vec![purchased(&p), activated()]
}

/// The standard purchase, activated.
fn active_license() -> Vec<LicenseEvent> {
    active(purchase())
}

/// The standard purchase, activated, with 800 seats on `srv-a`.
fn license_with_800_on_server_a() -> Vec<LicenseEvent> {
    let mut events = active_license();
    events.push(allocated(allocation(1), "srv-a", 800));
    events
}

/// The state after `events`, for checks the events alone do not show.
fn state_after(events: &[LicenseEvent]) -> ledger_domain::LicenseState {
    License::replay(events).state().cloned().unwrap()
}

// ===========================================================================
// Purchase
// ===========================================================================

#[test]
fn purchasing_records_the_line_for_the_callers_account() {
    given_nothing()
        .when(command(buy(purchase())))
        .then_expect_events(vec![purchased(&purchase())]);
}

#[test]
fn purchasing_a_term_license_expiring_the_day_after_purchase_is_accepted() {
    let p = term_purchase(purchase_day() + Days::new(1));
    given_nothing()
        .when(command(buy(p.clone())))
        .then_expect_events(vec![purchased(&p)]);
}

#[test]
fn purchasing_under_a_license_id_already_taken_is_rejected() {
    given(vec![purchased(&purchase())])
        .when(command(buy(purchase())))
        .then_expect_error(LicenseError::AlreadyPurchased);
}

#[test]
fn purchasing_a_trial_without_an_expiry_is_rejected() {
    given_nothing()
        .when(command(buy(Purchase {
            trial: true,
            ..purchase()
        })))
        .then_expect_error(LicenseError::TrialNeedsExpiry);
}

#[test]
fn purchasing_a_trial_term_license_is_accepted() {
    let p = Purchase {
        trial: true,
        ..term_purchase(purchase_day() + Days::new(30))
    };
    given_nothing()
        .when(command(buy(p.clone())))
        .then_expect_events(vec![purchased(&p)]);
}

#[test]
fn purchasing_more_seats_than_a_line_can_hold_is_rejected() {
    given_nothing()
        .when(command(buy(Purchase {
            quantity: 3_000_000_000,
            ..purchase()
        })))
        .then_expect_error(LicenseError::QuantityTooLarge {
            quantity: 3_000_000_000,
            max: ledger_domain::decide::MAX_QUANTITY,
        });
}

#[test]
fn purchasing_with_dates_outside_1970_to_9999_is_rejected() {
    let ancient = NaiveDate::from_ymd_opt(-5000, 1, 1).unwrap();
    given_nothing()
        .when(command(buy(Purchase {
            maintenance_until: ancient,
            ..purchase()
        })))
        .then_expect_error(LicenseError::DateOutOfRange {
            field: "maintenance_until",
            date: ancient,
            earliest: ledger_domain::decide::EARLIEST_DATE,
            latest: ledger_domain::decide::LATEST_DATE,
        });
}

#[test]
fn purchasing_zero_seats_is_rejected() {
    given_nothing()
        .when(command(buy(Purchase {
            quantity: 0,
            ..purchase()
        })))
        .then_expect_error(LicenseError::QuantityMustBePositive { quantity: 0 });
}

#[test]
fn purchasing_a_term_license_expiring_on_its_purchase_day_is_rejected() {
    given_nothing()
        .when(command(buy(term_purchase(purchase_day()))))
        .then_expect_error(LicenseError::ExpiryNotAfterPurchase {
            purchased_on: purchase_day(),
            expires_on: purchase_day(),
        });
}

#[test]
fn purchasing_a_term_license_expiring_before_its_purchase_day_is_rejected() {
    let day_before = purchase_day() - Days::new(1);
    given_nothing()
        .when(command(buy(term_purchase(day_before))))
        .then_expect_error(LicenseError::ExpiryNotAfterPurchase {
            purchased_on: purchase_day(),
            expires_on: day_before,
        });
}

/// Values that are not 1 to 64 printable ASCII characters.
fn invalid_references() -> Vec<(&'static str, String)> {
    vec![
        ("empty", String::new()),
        ("65 characters", "X".repeat(65)),
        ("containing a space", "ORD 42".to_owned()),
        ("containing a tab", "ORD\t42".to_owned()),
        ("not ASCII", "ORDÉ42".to_owned()),
    ]
}

#[test]
fn purchasing_with_an_invalid_order_number_is_rejected() {
    for (why, order_number) in invalid_references() {
        let result = given_nothing()
            .when(command(buy(Purchase {
                order_number,
                ..purchase()
            })))
            .inspect_result();
        assert_eq!(
            result,
            Err(LicenseError::InvalidReference {
                field: "order_number"
            }),
            "order number {why}"
        );
    }
}

#[test]
fn purchasing_with_an_invalid_access_code_is_rejected() {
    for (why, access_code) in invalid_references() {
        let result = given_nothing()
            .when(command(buy(Purchase {
                access_code,
                ..purchase()
            })))
            .inspect_result();
        assert_eq!(
            result,
            Err(LicenseError::InvalidReference {
                field: "access_code"
            }),
            "access code {why}"
        );
    }
}

#[test]
fn references_of_exactly_64_characters_are_accepted() {
    let p = Purchase {
        order_number: "O".repeat(64),
        access_code: "A".repeat(64),
        ..purchase()
    };
    given_nothing()
        .when(command(buy(p.clone())))
        .then_expect_events(vec![purchased(&p)]);
}

// ===========================================================================
// Another account's license, or no license at all
// ===========================================================================

/// One of every action but purchase, each valid on `license_with_800_on_server_a`
/// for its owner.
fn every_action_but_purchase() -> Vec<LicenseAction> {
    vec![
        activate(ACCESS_CODE),
        allocate(allocation(2), "srv-b", 200),
        modify(allocation(1), allocation(2), "srv-b"),
        return_allocation(allocation(1)),
        LicenseAction::Hide,
        LicenseAction::Unhide,
        renew(None, Some(maintenance_end() + Days::new(365))),
        upgrade(Some(Edition::Platinum), None),
    ]
}

#[test]
fn another_accounts_license_is_not_found_for_every_action() {
    for action in every_action_but_purchase() {
        let result = given(license_with_800_on_server_a())
            .when(command_by(another_account(), action.clone()))
            .inspect_result();
        assert_eq!(result, Err(LicenseError::LicenseNotFound), "{action:?}");
    }
}

#[test]
fn a_license_never_purchased_is_not_found_for_every_action() {
    for action in every_action_but_purchase() {
        let result = given_nothing()
            .when(command(action.clone()))
            .inspect_result();
        assert_eq!(result, Err(LicenseError::LicenseNotFound), "{action:?}");
    }
}

// ===========================================================================
// Activate
// ===========================================================================

#[test]
fn activating_with_the_access_code_records_when() {
    given(vec![purchased(&purchase())])
        .when(command(activate(ACCESS_CODE)))
        .then_expect_events(vec![LicenseEvent::Activated(Activated {
            activated_at: noon(today()),
        })]);
}

#[test]
fn activating_with_another_access_code_is_rejected() {
    given(vec![purchased(&purchase())])
        .when(command(activate("LA-0009999999-99999")))
        .then_expect_error(LicenseError::AccessCodeMismatch);
}

#[test]
fn activating_with_the_access_code_in_another_case_is_rejected() {
    given(vec![purchased(&purchase())])
        .when(command(activate(&ACCESS_CODE.to_lowercase())))
        .then_expect_error(LicenseError::AccessCodeMismatch);
}

#[test]
fn activating_twice_is_rejected() {
    given(active_license())
        .when(command(activate(ACCESS_CODE)))
        .then_expect_error(LicenseError::AlreadyActivated);
}

// ===========================================================================
// Allocate
// ===========================================================================

#[test]
fn allocating_part_of_the_quantity_issues_an_allocation() {
    given(active_license())
        .when(command(allocate(allocation(1), "srv-a", 800)))
        .then_expect_events(vec![allocated(allocation(1), "srv-a", 800)]);
}

#[test]
fn allocating_keeps_the_host_name_exactly_as_given() {
    given(active_license())
        .when(command(allocate(allocation(1), "CtxSrv-01.Corp", 5)))
        .then_expect_events(vec![allocated(allocation(1), "CtxSrv-01.Corp", 5)]);
}

#[test]
fn allocating_before_activation_is_rejected() {
    given(vec![purchased(&purchase())])
        .when(command(allocate(allocation(1), "srv-a", 800)))
        .then_expect_error(LicenseError::NotActivated);
}

#[test]
fn allocating_zero_seats_is_rejected() {
    given(active_license())
        .when(command(allocate(allocation(1), "srv-a", 0)))
        .then_expect_error(LicenseError::QuantityMustBePositive { quantity: 0 });
}

#[test]
fn allocating_on_the_expiry_day_is_accepted() {
    given(active(term_purchase(term_end())))
        .when(command_on(term_end(), allocate(allocation(1), "srv-a", 10)))
        .then_expect_events(vec![allocated(allocation(1), "srv-a", 10)]);
}

#[test]
fn allocating_the_day_after_expiry_is_rejected() {
    given(active(term_purchase(term_end())))
        .when(command_on(
            term_end() + Days::new(1),
            allocate(allocation(1), "srv-a", 10),
        ))
        .then_expect_error(LicenseError::LicenseExpired {
            expired_on: term_end(),
        });
}

#[test]
fn allocating_a_perpetual_license_years_later_is_accepted() {
    given(active_license())
        .when(command_on(
            day(2040, 1, 1),
            allocate(allocation(1), "srv-a", 10),
        ))
        .then_expect_events(vec![allocated(allocation(1), "srv-a", 10)]);
}

#[test]
fn allocating_exactly_the_unallocated_quantity_is_accepted() {
    given(license_with_800_on_server_a())
        .when(command(allocate(allocation(2), "srv-b", 200)))
        .then_expect_events(vec![allocated(allocation(2), "srv-b", 200)]);
}

#[test]
fn allocating_more_than_the_unallocated_quantity_is_rejected() {
    given(license_with_800_on_server_a())
        .when(command(allocate(allocation(2), "srv-b", 201)))
        .then_expect_error(LicenseError::AllocationExceedsAvailable {
            requested: 201,
            available: 200,
        });
}

#[test]
fn allocating_more_than_the_whole_quantity_is_rejected() {
    given(active_license())
        .when(command(allocate(allocation(1), "srv-a", 1001)))
        .then_expect_error(LicenseError::AllocationExceedsAvailable {
            requested: 1001,
            available: 1000,
        });
}

#[test]
fn a_thousand_seats_split_800_and_200_leave_nothing_for_a_third_server() {
    // The seeds' example: 800 to server A today, the remaining 200 to server B later.
    given(active_license())
        .when(command(allocate(allocation(1), "server-a", 800)))
        .then_expect_events(vec![allocated(allocation(1), "server-a", 800)]);

    let mut events = active_license();
    events.push(allocated(allocation(1), "server-a", 800));
    given(events.clone())
        .when(command(allocate(allocation(2), "server-b", 200)))
        .then_expect_events(vec![allocated(allocation(2), "server-b", 200)]);

    events.push(allocated(allocation(2), "server-b", 200));
    let state = state_after(&events);
    assert_eq!((state.allocated(), state.unallocated()), (1000, 0));
    given(events)
        .when(command(allocate(allocation(3), "server-c", 1)))
        .then_expect_error(LicenseError::AllocationExceedsAvailable {
            requested: 1,
            available: 0,
        });
}

#[test]
fn returned_seats_can_be_allocated_again() {
    let mut events = license_with_800_on_server_a();
    events.push(allocated(allocation(2), "srv-b", 200));
    events.push(returned(allocation(1), "srv-a", 800));
    given(events.clone())
        .when(command(allocate(allocation(3), "srv-c", 800)))
        .then_expect_events(vec![allocated(allocation(3), "srv-c", 800)]);
    // In any quantity, and to the server they came from.
    given(events)
        .when(command(allocate(allocation(3), "srv-a", 13)))
        .then_expect_events(vec![allocated(allocation(3), "srv-a", 13)]);
}

#[test]
fn allocating_part_of_a_license_that_must_be_allocated_whole_is_rejected() {
    let whole = Purchase {
        quantity: 10,
        partial_allocation: false,
        ..purchase()
    };
    given(active(whole))
        .when(command(allocate(allocation(1), "srv-a", 4)))
        .then_expect_error(LicenseError::PartialAllocationNotAllowed {
            requested: 4,
            quantity: 10,
        });
}

#[test]
fn allocating_a_license_that_must_be_allocated_whole_in_one_go_is_accepted() {
    let whole = Purchase {
        quantity: 10,
        partial_allocation: false,
        ..purchase()
    };
    given(active(whole))
        .when(command(allocate(allocation(1), "srv-a", 10)))
        .then_expect_events(vec![allocated(allocation(1), "srv-a", 10)]);
}

#[test]
fn allocating_to_a_host_name_with_a_space_is_rejected() {
    given(active_license())
        .when(command(allocate(allocation(1), "srv a", 10)))
        .then_expect_error(LicenseError::InvalidHostId {
            binding_type: BindingType::HostName,
            host: "srv a".to_owned(),
        });
}

#[test]
fn allocating_to_a_mac_address_of_11_hex_digits_is_rejected() {
    let mac_bound = Purchase {
        binding_type: BindingType::MacAddress,
        ..purchase()
    };
    given(active(mac_bound))
        .when(command(allocate(allocation(1), "0a1b2c3d4e5", 10)))
        .then_expect_error(LicenseError::InvalidHostId {
            binding_type: BindingType::MacAddress,
            host: "0a1b2c3d4e5".to_owned(),
        });
}

#[test]
fn allocating_to_a_mac_address_of_12_hex_digits_is_accepted() {
    let mac_bound = Purchase {
        binding_type: BindingType::MacAddress,
        ..purchase()
    };
    given(active(mac_bound))
        .when(command(allocate(allocation(1), "0a1B2c3D4e5F", 10)))
        .then_expect_events(vec![LicenseEvent::Allocated(Allocated {
            allocation_id: allocation(1),
            host: HostId::parse(BindingType::MacAddress, "0a1b2c3d4e5f").unwrap(),
            quantity: 10,
        })]);
}

#[test]
fn a_mac_address_in_another_case_is_the_same_server() {
    let mac_bound = Purchase {
        binding_type: BindingType::MacAddress,
        ..purchase()
    };
    let mut events = active(mac_bound);
    events.push(LicenseEvent::Allocated(Allocated {
        allocation_id: allocation(1),
        host: HostId::parse(BindingType::MacAddress, "0a1b2c3d4e5f").unwrap(),
        quantity: 10,
    }));
    assert_eq!(
        HostId::parse(BindingType::MacAddress, "0A1B2C3D4E5F")
            .unwrap()
            .as_str(),
        "0a1b2c3d4e5f"
    );
    given(events)
        .when(command(modify(
            allocation(1),
            allocation(2),
            "0A1B2C3D4E5F",
        )))
        .then_expect_error(LicenseError::SameHost {
            host: "0a1b2c3d4e5f".to_owned(),
        });
}

#[test]
fn allocating_to_a_host_id_invalid_for_the_binding_type_is_rejected() {
    // (binding type, an id it refuses)
    let cases = [
        (BindingType::HostName, "srv a"),
        (BindingType::HostName, "-srv"),
        (BindingType::HostName, ""),
        (BindingType::MacAddress, "0a1b2c3d4e5"),
        (BindingType::MacAddress, "0a:1b:2c:3d:4e:5f"),
        (BindingType::MacAddress, "0a1b2c3d4e5g"),
        (BindingType::HardwareSerial, "SN/123"),
        (BindingType::HardwareSerial, ""),
        (BindingType::OtherId, "id with space"),
        (BindingType::OtherId, &"x".repeat(65)),
    ];
    for (binding_type, raw) in cases {
        let result = given(active(Purchase {
            binding_type,
            ..purchase()
        }))
        .when(command(allocate(allocation(1), raw, 10)))
        .inspect_result();
        assert_eq!(
            result,
            Err(LicenseError::InvalidHostId {
                binding_type,
                host: raw.to_owned(),
            }),
            "{binding_type:?} `{raw}`"
        );
    }
}

#[test]
fn allocating_under_an_allocation_id_already_used_is_rejected() {
    given(license_with_800_on_server_a())
        .when(command(allocate(allocation(1), "srv-b", 100)))
        .then_expect_error(LicenseError::DuplicateAllocationId {
            allocation_id: allocation(1),
        });
}

#[test]
fn allocating_under_the_id_of_a_returned_allocation_is_rejected() {
    let mut events = license_with_800_on_server_a();
    events.push(returned(allocation(1), "srv-a", 800));
    given(events)
        .when(command(allocate(allocation(1), "srv-b", 100)))
        .then_expect_error(LicenseError::DuplicateAllocationId {
            allocation_id: allocation(1),
        });
}

#[test]
fn allocating_a_hidden_license_is_accepted() {
    let mut events = active_license();
    events.push(hidden());
    given(events)
        .when(command(allocate(allocation(1), "srv-a", 10)))
        .then_expect_events(vec![allocated(allocation(1), "srv-a", 10)]);
}

// ===========================================================================
// Modify allocation
// ===========================================================================

#[test]
fn modifying_an_allocation_moves_its_seats_to_the_new_host() {
    given(license_with_800_on_server_a())
        .when(command(modify(allocation(1), allocation(2), "srv-b")))
        .then_expect_events(vec![moved(
            allocation(1),
            allocation(2),
            "srv-a",
            "srv-b",
            800,
        )]);
}

#[test]
fn a_modified_allocation_is_moved_and_its_replacement_is_live_with_the_same_seats() {
    let mut events = license_with_800_on_server_a();
    events.push(moved(allocation(1), allocation(2), "srv-a", "srv-b", 800));
    let state = state_after(&events);
    let old = &state.allocations[&allocation(1)];
    let new = &state.allocations[&allocation(2)];
    assert_eq!(old.status, AllocationStatus::Moved);
    assert_eq!((old.host.as_str(), old.quantity), ("srv-a", 800));
    assert_eq!(new.status, AllocationStatus::Live);
    assert_eq!((new.host.as_str(), new.quantity), ("srv-b", 800));
    assert_eq!((state.allocated(), state.unallocated()), (800, 200));
}

#[test]
fn modifying_an_unknown_allocation_is_rejected() {
    given(license_with_800_on_server_a())
        .when(command(modify(allocation(9), allocation(2), "srv-b")))
        .then_expect_error(LicenseError::AllocationNotFound {
            allocation_id: allocation(9),
        });
}

#[test]
fn modifying_a_returned_allocation_is_rejected() {
    let mut events = license_with_800_on_server_a();
    events.push(returned(allocation(1), "srv-a", 800));
    given(events)
        .when(command(modify(allocation(1), allocation(2), "srv-b")))
        .then_expect_error(LicenseError::AllocationNotLive {
            allocation_id: allocation(1),
            status: AllocationStatus::Returned,
        });
}

#[test]
fn modifying_an_allocation_already_moved_is_rejected() {
    let mut events = license_with_800_on_server_a();
    events.push(moved(allocation(1), allocation(2), "srv-a", "srv-b", 800));
    given(events)
        .when(command(modify(allocation(1), allocation(3), "srv-c")))
        .then_expect_error(LicenseError::AllocationNotLive {
            allocation_id: allocation(1),
            status: AllocationStatus::Moved,
        });
}

#[test]
fn modifying_an_allocation_to_the_host_it_is_on_is_rejected() {
    given(license_with_800_on_server_a())
        .when(command(modify(allocation(1), allocation(2), "srv-a")))
        .then_expect_error(LicenseError::SameHost {
            host: "srv-a".to_owned(),
        });
}

#[test]
fn modifying_an_allocation_to_the_same_name_in_another_case_is_a_move() {
    // Host names are case-sensitive: `SRV-A` is another server.
    given(license_with_800_on_server_a())
        .when(command(modify(allocation(1), allocation(2), "SRV-A")))
        .then_expect_events(vec![moved(
            allocation(1),
            allocation(2),
            "srv-a",
            "SRV-A",
            800,
        )]);
}

#[test]
fn modifying_an_allocation_to_an_invalid_host_is_rejected() {
    given(license_with_800_on_server_a())
        .when(command(modify(allocation(1), allocation(2), "srv b")))
        .then_expect_error(LicenseError::InvalidHostId {
            binding_type: BindingType::HostName,
            host: "srv b".to_owned(),
        });
}

#[test]
fn modifying_an_allocation_into_an_id_already_used_is_rejected() {
    let mut events = license_with_800_on_server_a();
    events.push(allocated(allocation(2), "srv-b", 200));
    given(events.clone())
        .when(command(modify(allocation(1), allocation(2), "srv-c")))
        .then_expect_error(LicenseError::DuplicateAllocationId {
            allocation_id: allocation(2),
        });
    // Its own id included: the replacement is a new allocation.
    given(events)
        .when(command(modify(allocation(1), allocation(1), "srv-c")))
        .then_expect_error(LicenseError::DuplicateAllocationId {
            allocation_id: allocation(1),
        });
}

#[test]
fn modifying_an_allocation_of_an_expired_license_is_rejected() {
    let mut events = active(term_purchase(term_end()));
    events.push(allocated(allocation(1), "srv-a", 800));
    given(events.clone())
        .when(command_on(
            term_end(),
            modify(allocation(1), allocation(2), "srv-b"),
        ))
        .then_expect_events(vec![moved(
            allocation(1),
            allocation(2),
            "srv-a",
            "srv-b",
            800,
        )]);
    given(events)
        .when(command_on(
            term_end() + Days::new(1),
            modify(allocation(1), allocation(2), "srv-b"),
        ))
        .then_expect_error(LicenseError::LicenseExpired {
            expired_on: term_end(),
        });
}

// ===========================================================================
// Return allocation
// ===========================================================================

#[test]
fn returning_an_allocation_gives_its_seats_back_to_the_pool() {
    given(license_with_800_on_server_a())
        .when(command(return_allocation(allocation(1))))
        .then_expect_events(vec![returned(allocation(1), "srv-a", 800)]);

    let mut events = license_with_800_on_server_a();
    events.push(returned(allocation(1), "srv-a", 800));
    let state = state_after(&events);
    assert_eq!(
        state.allocations[&allocation(1)].status,
        AllocationStatus::Returned
    );
    assert_eq!((state.allocated(), state.unallocated()), (0, 1000));
}

#[test]
fn returning_an_unknown_allocation_is_rejected() {
    given(license_with_800_on_server_a())
        .when(command(return_allocation(allocation(9))))
        .then_expect_error(LicenseError::AllocationNotFound {
            allocation_id: allocation(9),
        });
}

#[test]
fn returning_an_allocation_twice_is_rejected() {
    let mut events = license_with_800_on_server_a();
    events.push(returned(allocation(1), "srv-a", 800));
    given(events)
        .when(command(return_allocation(allocation(1))))
        .then_expect_error(LicenseError::AllocationNotLive {
            allocation_id: allocation(1),
            status: AllocationStatus::Returned,
        });
}

#[test]
fn returning_an_allocation_that_was_moved_is_rejected_but_its_replacement_can_be() {
    let mut events = license_with_800_on_server_a();
    events.push(moved(allocation(1), allocation(2), "srv-a", "srv-b", 800));
    given(events.clone())
        .when(command(return_allocation(allocation(1))))
        .then_expect_error(LicenseError::AllocationNotLive {
            allocation_id: allocation(1),
            status: AllocationStatus::Moved,
        });
    given(events)
        .when(command(return_allocation(allocation(2))))
        .then_expect_events(vec![returned(allocation(2), "srv-b", 800)]);
}

#[test]
fn returning_an_allocation_of_an_expired_license_is_accepted() {
    let mut events = active(term_purchase(term_end()));
    events.push(allocated(allocation(1), "srv-a", 800));
    given(events)
        .when(command_on(
            term_end() + Days::new(30),
            return_allocation(allocation(1)),
        ))
        .then_expect_events(vec![returned(allocation(1), "srv-a", 800)]);
}

// ===========================================================================
// Hide / unhide
// ===========================================================================

#[test]
fn hiding_a_visible_license_is_recorded() {
    given(active_license())
        .when(command(LicenseAction::Hide))
        .then_expect_events(vec![hidden()]);
}

#[test]
fn hiding_a_hidden_license_is_rejected() {
    let mut events = active_license();
    events.push(hidden());
    given(events)
        .when(command(LicenseAction::Hide))
        .then_expect_error(LicenseError::AlreadyHidden);
}

#[test]
fn unhiding_a_hidden_license_is_recorded() {
    let mut events = active_license();
    events.push(hidden());
    given(events)
        .when(command(LicenseAction::Unhide))
        .then_expect_events(vec![unhidden()]);
}

#[test]
fn unhiding_a_visible_license_is_rejected() {
    given(active_license())
        .when(command(LicenseAction::Unhide))
        .then_expect_error(LicenseError::NotHidden);
    let mut events = active_license();
    events.extend([hidden(), unhidden()]);
    given(events)
        .when(command(LicenseAction::Unhide))
        .then_expect_error(LicenseError::NotHidden);
}

#[test]
fn hiding_leaves_allocations_untouched() {
    let mut events = license_with_800_on_server_a();
    let before = state_after(&events);
    events.push(hidden());
    let after = state_after(&events);
    assert!(after.hidden);
    assert_eq!(after.allocations, before.allocations);
}

// ===========================================================================
// Renew
// ===========================================================================

#[test]
fn renewing_nothing_is_rejected() {
    given(active(term_purchase(term_end())))
        .when(command(renew(None, None)))
        .then_expect_error(LicenseError::NothingToRenew);
}

#[test]
fn renewing_a_term_licenses_expiry_and_maintenance_is_recorded() {
    let next_year = term_end() + Days::new(365);
    given(active(term_purchase(term_end())))
        .when(command(renew(Some(next_year), Some(next_year))))
        .then_expect_events(vec![renewed(Some(next_year), Some(next_year))]);
}

#[test]
fn renewing_only_a_term_licenses_expiry_is_recorded() {
    let next_day = term_end() + Days::new(1);
    given(active(term_purchase(term_end())))
        .when(command(renew(Some(next_day), None)))
        .then_expect_events(vec![renewed(Some(next_day), None)]);
}

#[test]
fn renewing_a_perpetual_licenses_expiry_is_rejected() {
    given(active_license())
        .when(command(renew(Some(term_end()), None)))
        .then_expect_error(LicenseError::PerpetualHasNoExpiry);
    given(active_license())
        .when(command(renew(
            Some(term_end()),
            Some(maintenance_end() + Days::new(365)),
        )))
        .then_expect_error(LicenseError::PerpetualHasNoExpiry);
}

#[test]
fn renewing_a_perpetual_licenses_maintenance_only_is_recorded() {
    let next_year = maintenance_end() + Days::new(365);
    given(active_license())
        .when(command(renew(None, Some(next_year))))
        .then_expect_events(vec![renewed(None, Some(next_year))]);
}

#[test]
fn renewing_to_the_current_expiry_is_rejected() {
    given(active(term_purchase(term_end())))
        .when(command(renew(Some(term_end()), None)))
        .then_expect_error(LicenseError::DateMustMoveForward {
            field: "expires_on",
            current: term_end(),
            requested: term_end(),
        });
}

#[test]
fn renewing_to_an_earlier_expiry_is_rejected() {
    let earlier = term_end() - Days::new(1);
    given(active(term_purchase(term_end())))
        .when(command(renew(
            Some(earlier),
            Some(maintenance_end() + Days::new(365)),
        )))
        .then_expect_error(LicenseError::DateMustMoveForward {
            field: "expires_on",
            current: term_end(),
            requested: earlier,
        });
}

#[test]
fn renewing_to_the_current_maintenance_date_is_rejected() {
    given(active_license())
        .when(command(renew(None, Some(maintenance_end()))))
        .then_expect_error(LicenseError::DateMustMoveForward {
            field: "maintenance_until",
            current: maintenance_end(),
            requested: maintenance_end(),
        });
}

#[test]
fn renewing_to_an_earlier_maintenance_date_is_rejected() {
    let earlier = maintenance_end() - Days::new(1);
    given(active(term_purchase(term_end())))
        .when(command(renew(
            Some(term_end() + Days::new(365)),
            Some(earlier),
        )))
        .then_expect_error(LicenseError::DateMustMoveForward {
            field: "maintenance_until",
            current: maintenance_end(),
            requested: earlier,
        });
}

#[test]
fn renewing_an_expired_term_license_makes_it_allocatable_again() {
    let after_expiry = term_end() + Days::new(10);
    let next_year = term_end() + Days::new(365);
    given(active(term_purchase(term_end())))
        .when(command_on(after_expiry, renew(Some(next_year), None)))
        .then_expect_events(vec![renewed(Some(next_year), None)]);

    let mut events = active(term_purchase(term_end()));
    events.push(renewed(Some(next_year), None));
    given(events)
        .when(command_on(
            after_expiry,
            allocate(allocation(1), "srv-a", 10),
        ))
        .then_expect_events(vec![allocated(allocation(1), "srv-a", 10)]);
}

#[test]
fn a_renewal_moves_only_the_dates_it_names() {
    let next_year = maintenance_end() + Days::new(365);
    let mut events = active(term_purchase(term_end()));
    events.push(renewed(None, Some(next_year)));
    let state = state_after(&events);
    assert_eq!(state.terms.expires_on, Some(term_end()));
    assert_eq!(state.terms.maintenance_until, next_year);
}

// ===========================================================================
// Upgrade
// ===========================================================================

#[test]
fn upgrading_nothing_is_rejected() {
    given(active_license())
        .when(command(upgrade(None, None)))
        .then_expect_error(LicenseError::NothingToUpgrade);
}

#[test]
fn upgrading_to_a_higher_edition_is_recorded() {
    given(active_license())
        .when(command(upgrade(Some(Edition::Platinum), None)))
        .then_expect_events(vec![upgraded(Some(Edition::Platinum), None, vec![])]);

    let mut events = active_license();
    events.push(upgraded(Some(Edition::Platinum), None, vec![]));
    assert_eq!(state_after(&events).terms.feature(), "XDT_PLT_UD");
}

#[test]
fn upgrading_to_the_same_edition_is_rejected() {
    given(active_license())
        .when(command(upgrade(Some(Edition::Enterprise), None)))
        .then_expect_error(LicenseError::EditionNotHigher {
            current: Edition::Enterprise,
            requested: Edition::Enterprise,
        });
}

#[test]
fn upgrading_to_a_lower_edition_is_rejected() {
    given(active_license())
        .when(command(upgrade(Some(Edition::Standard), None)))
        .then_expect_error(LicenseError::EditionNotHigher {
            current: Edition::Enterprise,
            requested: Edition::Standard,
        });
}

#[test]
fn upgrading_to_a_newer_version_is_recorded() {
    // 7.15 -> 2403.1, and versions compare as numbers: 7.15 -> 7.16 is newer than 7.9.
    given(active_license())
        .when(command(upgrade(None, Some("2403.1"))))
        .then_expect_events(vec![upgraded(None, Some("2403.1"), vec![])]);
    given(active_license())
        .when(command(upgrade(None, Some("7.16"))))
        .then_expect_events(vec![upgraded(None, Some("7.16"), vec![])]);
}

#[test]
fn upgrading_to_the_same_version_is_rejected() {
    given(active_license())
        .when(command(upgrade(None, Some("7.15"))))
        .then_expect_error(LicenseError::VersionNotHigher {
            current: version("7.15"),
            requested: version("7.15"),
        });
}

#[test]
fn upgrading_to_the_same_version_written_differently_is_rejected() {
    // `7.15.0` and `07.15` are release 7.15: not an upgrade.
    for same in ["7.15.0", "07.15", "7.015"] {
        let result = given(active_license())
            .when(command(upgrade(None, Some(same))))
            .inspect_result();
        assert_eq!(
            result,
            Err(LicenseError::VersionNotHigher {
                current: version("7.15"),
                requested: version(same),
            }),
            "{same}"
        );
    }
}

#[test]
fn upgrading_to_an_older_version_is_rejected() {
    given(active_license())
        .when(command(upgrade(None, Some("7.9"))))
        .then_expect_error(LicenseError::VersionNotHigher {
            current: version("7.15"),
            requested: version("7.9"),
        });
}

#[test]
fn upgrading_the_version_after_maintenance_lapsed_is_rejected() {
    let lapsed = Purchase {
        maintenance_until: yesterday(),
        ..purchase()
    };
    given(active(lapsed))
        .when(command(upgrade(None, Some("7.16"))))
        .then_expect_error(LicenseError::MaintenanceLapsed {
            maintenance_until: yesterday(),
        });
}

#[test]
fn upgrading_edition_and_version_after_maintenance_lapsed_is_rejected() {
    let lapsed = Purchase {
        maintenance_until: yesterday(),
        ..purchase()
    };
    given(active(lapsed))
        .when(command(upgrade(Some(Edition::Platinum), Some("7.16"))))
        .then_expect_error(LicenseError::MaintenanceLapsed {
            maintenance_until: yesterday(),
        });
}

#[test]
fn upgrading_the_version_on_the_last_day_of_maintenance_is_accepted() {
    let last_day = Purchase {
        maintenance_until: today(),
        ..purchase()
    };
    given(active(last_day))
        .when(command(upgrade(None, Some("7.16"))))
        .then_expect_events(vec![upgraded(None, Some("7.16"), vec![])]);
}

#[test]
fn upgrading_the_edition_alone_after_maintenance_lapsed_is_accepted() {
    let lapsed = Purchase {
        maintenance_until: yesterday(),
        ..purchase()
    };
    given(active(lapsed))
        .when(command(upgrade(Some(Edition::Platinum), None)))
        .then_expect_events(vec![upgraded(Some(Edition::Platinum), None, vec![])]);
}

#[test]
fn upgrading_the_version_after_renewing_lapsed_maintenance_is_accepted() {
    let lapsed = Purchase {
        maintenance_until: yesterday(),
        ..purchase()
    };
    let mut events = active(lapsed);
    events.push(renewed(None, Some(tomorrow())));
    given(events)
        .when(command(upgrade(None, Some("7.16"))))
        .then_expect_events(vec![upgraded(None, Some("7.16"), vec![])]);
}

#[test]
fn upgrading_an_expired_license_is_rejected() {
    given(active(term_purchase(yesterday())))
        .when(command(upgrade(Some(Edition::Platinum), None)))
        .then_expect_error(LicenseError::LicenseExpired {
            expired_on: yesterday(),
        });
}

#[test]
fn upgrading_reissues_only_the_live_allocations() {
    let mut events = active_license();
    events.extend([
        allocated(allocation(1), "srv-a", 100),
        allocated(allocation(2), "srv-b", 200),
        allocated(allocation(3), "srv-c", 300),
        returned(allocation(2), "srv-b", 200),
        moved(allocation(3), allocation(4), "srv-c", "srv-d", 300),
    ]);
    given(events)
        .when(command(upgrade(Some(Edition::Platinum), Some("8.0"))))
        .then_expect_events(vec![upgraded(
            Some(Edition::Platinum),
            Some("8.0"),
            vec![allocation(1), allocation(4)],
        )]);
}

#[test]
fn an_upgrade_changes_edition_and_version_and_keeps_allocations() {
    let mut events = license_with_800_on_server_a();
    let before = state_after(&events);
    events.push(upgraded(
        Some(Edition::Platinum),
        Some("8.0"),
        vec![allocation(1)],
    ));
    let after = state_after(&events);
    assert_eq!(after.terms.edition, Edition::Platinum);
    assert_eq!(after.terms.version, version("8.0"));
    assert_eq!(after.allocations, before.allocations);
}
