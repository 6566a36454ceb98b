//! Laws of the License aggregate under random command sequences (proptest): seats
//! always add up, replay rebuilds the same license, a refused command changes and
//! records nothing, and every recorded event survives its stored and streamed forms.
//!
//! A sequence starts with a purchase (sometimes invalid) and goes on with up to 40
//! commands, valid and invalid alike: quantities from 0 to 1,500, allocation ids from
//! a small pool so they repeat, hosts from a small pool including invalid ones, dates
//! around the purchase, right and wrong access codes, and now and then another account.
//! Each command goes through `Aggregate::handle` (as cqrs-es runs it) and is checked
//! against `decide` on the state before.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use ledger_domain::decide::{LATEST_DATE, MAX_QUANTITY};
use ledger_domain::{
    decide, AccountId, Activate, Allocate, AllocationId, BindingType, Edition, License,
    LicenseAction, LicenseCommand, LicenseEvent, LicenseModel, ModifyAllocation, ProductCode,
    ProductVersion, Purchase, Renew, ReturnAllocation, Upgrade,
};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use uuid::Uuid;

// ---------------------------------------------------------------------------
// Running a command the way cqrs-es does, without a runtime.
// ---------------------------------------------------------------------------

/// Polls `future` once. `License::handle` does no I/O and only awaits an
/// uncontended lock, so it must be ready at once; if it ever is not, that is a bug.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("License::handle was not ready at once: the domain must not wait"),
    }
}

// ---------------------------------------------------------------------------
// Fixed facts.
// ---------------------------------------------------------------------------

const ACCESS_CODE: &str = "LA-0001234567-12345";

fn purchase_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
}

/// `days` after (or before) the purchase day.
fn day(days: i64) -> NaiveDate {
    let base = purchase_day();
    if days >= 0 {
        base + Days::new(days.unsigned_abs())
    } else {
        base - Days::new(days.unsigned_abs())
    }
}

/// `days` after the purchase day's midnight, plus `seconds` into that day.
fn instant(days: i64, seconds: i64) -> DateTime<Utc> {
    day(days).and_hms_opt(0, 0, 0).unwrap().and_utc() + TimeDelta::seconds(seconds)
}

fn account() -> AccountId {
    AccountId(Uuid::from_u128(0xACC0_0000_0000_0001))
}

fn another_account() -> AccountId {
    AccountId(Uuid::from_u128(0xACC0_0000_0000_0002))
}

// ---------------------------------------------------------------------------
// Strategies.
// ---------------------------------------------------------------------------

/// Mostly ours, now and then another account's.
fn account_strategy() -> impl Strategy<Value = AccountId> {
    prop_oneof![9 => Just(account()), 1 => Just(another_account())]
}

/// Some instant, mostly in the license's first year, sometimes from ten days before
/// the purchase to about two and a half years after.
fn now_strategy() -> impl Strategy<Value = DateTime<Utc>> {
    let days = prop_oneof![3 => 0i64..365, 1 => -10i64..900];
    (days, 0i64..86_400).prop_map(|(days, seconds)| instant(days, seconds))
}

/// A date around the purchase, as renewals and expiries name them; rarely one past
/// the last date the ledger accepts.
fn date_strategy() -> impl Strategy<Value = NaiveDate> {
    let beyond = LATEST_DATE + Days::new(1);
    prop_oneof![40 => (-30i64..1200).prop_map(day), 1 => Just(beyond)]
}

/// Order numbers and access codes: mostly valid, sometimes not.
fn reference_strategy(valid: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        40 => Just(valid.to_owned()),
        1 => Just(String::new()),
        1 => Just("has space".to_owned()),
        1 => Just("X".repeat(65)),
        1 => Just("O".repeat(64)),
    ]
}

fn edition_strategy() -> impl Strategy<Value = Edition> {
    select(vec![
        Edition::Standard,
        Edition::Advanced,
        Edition::Enterprise,
        Edition::Platinum,
    ])
}

/// Versions that tie, order by number, and are written differently for one release.
fn version_strategy() -> impl Strategy<Value = ProductVersion> {
    select(vec![
        "7", "7.0", "7.9", "7.15", "7.15.0", "07.15", "7.16", "8.0", "2403.1",
    ])
    .prop_map(|raw| ProductVersion::parse(raw).unwrap())
}

fn binding_strategy() -> impl Strategy<Value = BindingType> {
    prop_oneof![
        4 => Just(BindingType::HostName),
        2 => Just(BindingType::MacAddress),
        1 => Just(BindingType::HardwareSerial),
        1 => Just(BindingType::OtherId),
    ]
}

fn model_strategy() -> impl Strategy<Value = LicenseModel> {
    select(vec![
        LicenseModel::UserDevice,
        LicenseModel::ConcurrentUser,
        LicenseModel::ConcurrentSystem,
        LicenseModel::PerServer,
        LicenseModel::PerSocket,
        LicenseModel::Appliance,
    ])
}

/// A small pool of hosts, valid for some binding types and not others: the same
/// name in two cases, a space, empty, MAC addresses of 12 and 11 digits, too long.
fn host_strategy() -> impl Strategy<Value = String> {
    let valid_somewhere = select(vec![
        "srv-a",
        "srv-b",
        "SRV-A",
        "0a1b2c3d4e5f",
        "001122334455",
        "0a1b2c3d4e5",
        "SN-0001",
    ])
    .prop_map(str::to_owned);
    let valid_nowhere = select(vec!["srv a".to_owned(), String::new(), "x".repeat(65)]);
    prop_oneof![4 => valid_somewhere, 1 => valid_nowhere]
}

/// A small pool so that ids repeat: duplicates, unknown ids, moved and returned ones.
fn allocation_id_strategy() -> impl Strategy<Value = AllocationId> {
    (1u128..=4).prop_map(|n| AllocationId(Uuid::from_u128(0xA110_0000_0000_0000 + n)))
}

/// A wider pool for the id a modification creates, so it is often, not always, new.
fn new_allocation_id_strategy() -> impl Strategy<Value = AllocationId> {
    (1u128..=8).prop_map(|n| AllocationId(Uuid::from_u128(0xA110_0000_0000_0000 + n)))
}

/// Zero, small, or anything up to 1,500.
fn quantity_strategy() -> impl Strategy<Value = u32> {
    prop_oneof![1 => Just(0u32), 8 => 1u32..20, 2 => 0u32..1500]
}

/// A purchase, sometimes of zero seats, with an expiry on or before its purchase
/// day, or with a bad reference.
fn purchase_strategy() -> impl Strategy<Value = Purchase> {
    (
        (
            edition_strategy(),
            version_strategy(),
            model_strategy(),
            binding_strategy(),
        ),
        prop_oneof![
            1 => Just(0u32),
            4 => 1u32..20,
            10 => 1u32..1500,
            1 => Just(MAX_QUANTITY + 1)
        ],
        prop::option::of(prop_oneof![1 => -5i64..=3, 6 => 4i64..800]),
        -30i64..900,
        reference_strategy("ORD-2026-0042"),
        reference_strategy(ACCESS_CODE),
        (any::<bool>(), prop::bool::weighted(0.8)),
        (-3i64..3, 0i64..86_400),
    )
        .prop_map(
            |(
                (edition, version, license_model, binding_type),
                quantity,
                expiry,
                maintenance,
                order_number,
                access_code,
                (trial, partial_allocation),
                (purchase_offset, seconds),
            )| Purchase {
                product: ProductCode::parse("XDT").unwrap(),
                edition,
                version,
                license_model,
                binding_type,
                quantity,
                expires_on: expiry.map(day),
                maintenance_until: day(maintenance),
                order_number,
                access_code,
                trial,
                partial_allocation,
                // Near the purchase day, so an expiry of -5..0 days is sometimes
                // on or before it.
                purchased_at: instant(purchase_offset, seconds),
            },
        )
}

fn action_strategy() -> impl Strategy<Value = LicenseAction> {
    prop_oneof![
        1 => purchase_strategy().prop_map(LicenseAction::Purchase),
        2 => prop_oneof![4 => Just(ACCESS_CODE), 1 => Just("LA-WRONG")].prop_map(|code| {
            LicenseAction::Activate(Activate {
                access_code: code.to_owned(),
            })
        }),
        10 => (allocation_id_strategy(), host_strategy(), quantity_strategy()).prop_map(
            |(allocation_id, host, quantity)| LicenseAction::Allocate(Allocate {
                allocation_id,
                host,
                quantity,
            })
        ),
        3 => (allocation_id_strategy(), new_allocation_id_strategy(), host_strategy()).prop_map(
            |(allocation_id, new_allocation_id, new_host)| {
                LicenseAction::ModifyAllocation(ModifyAllocation {
                    allocation_id,
                    new_allocation_id,
                    new_host,
                })
            }
        ),
        3 => allocation_id_strategy().prop_map(|allocation_id| {
            LicenseAction::ReturnAllocation(ReturnAllocation { allocation_id })
        }),
        1 => Just(LicenseAction::Hide),
        1 => Just(LicenseAction::Unhide),
        2 => (
            prop::option::of(date_strategy()),
            prop::option::of(date_strategy())
        )
            .prop_map(|(expires_on, maintenance_until)| LicenseAction::Renew(Renew {
                expires_on,
                maintenance_until,
            })),
        2 => (
            prop::option::of(edition_strategy()),
            prop::option::of(version_strategy())
        )
            .prop_map(|(edition, version)| LicenseAction::Upgrade(Upgrade {
                edition,
                version
            })),
    ]
}

fn command_strategy(
    action: impl Strategy<Value = LicenseAction>,
) -> impl Strategy<Value = LicenseCommand> {
    (account_strategy(), now_strategy(), action).prop_map(|(account_id, now, action)| {
        LicenseCommand {
            account_id,
            now,
            action,
        }
    })
}

/// A purchase, often followed at once by the right activation, then up to 40 commands.
fn scenario_strategy() -> impl Strategy<Value = Vec<LicenseCommand>> {
    let accepted = |p: &Purchase| {
        let command = LicenseCommand {
            account_id: account(),
            now: p.purchased_at,
            action: LicenseAction::Purchase(p.clone()),
        };
        decide(&License::default(), &command).is_ok()
    };
    // Mostly a purchase that is accepted, so the sequence has a license to work on.
    let first = prop_oneof![
        4 => purchase_strategy().prop_filter("an accepted purchase", accepted),
        1 => purchase_strategy(),
    ];
    (
        first,
        prop::bool::weighted(0.8),
        now_strategy(),
        prop::collection::vec(command_strategy(action_strategy()), 0..40),
    )
        .prop_map(|(purchase, activate_first, now, rest)| {
            let mut commands = vec![LicenseCommand {
                account_id: account(),
                now,
                action: LicenseAction::Purchase(purchase),
            }];
            if activate_first {
                commands.push(LicenseCommand {
                    account_id: account(),
                    now,
                    action: LicenseAction::Activate(Activate {
                        access_code: ACCESS_CODE.to_owned(),
                    }),
                });
            }
            commands.extend(rest);
            commands
        })
}

// ---------------------------------------------------------------------------
// The laws.
// ---------------------------------------------------------------------------

/// What one command did: the events it recorded, or the error code it was refused with.
type Outcome = Result<Vec<LicenseEvent>, &'static str>;

/// What a sequence of commands did.
struct Run {
    /// Each command's outcome, in order.
    outcomes: Vec<Outcome>,
    /// Every event recorded, in order.
    recorded: Vec<LicenseEvent>,
    /// The license as it was after the first `i` recorded events, built step by step
    /// (`history[0]` is the license before anything was recorded).
    history: Vec<License>,
}

/// Runs `commands` from nothing, checking every law after every step.
fn run(commands: Vec<LicenseCommand>) -> Result<Run, TestCaseError> {
    let mut license = License::default();
    let mut recorded: Vec<LicenseEvent> = Vec::new();
    let mut outcomes = Vec::new();
    let mut history = vec![license.clone()];
    for command in commands {
        let before = license.clone();
        let decided = decide(&before, &command);
        let sink = EventSink::default();
        let handled = ready(license.handle(command, &(), &sink));
        let written = ready(sink.collect());
        match handled {
            Err(error) => {
                // (c) A refused command records nothing and changes nothing.
                prop_assert!(written.is_empty(), "{:?} recorded {:?}", error, written);
                prop_assert_eq!(&license, &before);
                prop_assert_eq!(&decided, &Err(error.clone()));
                outcomes.push(Err(error.code()));
            }
            Ok(()) => {
                prop_assert!(!written.is_empty(), "an accepted command recorded nothing");
                prop_assert_eq!(&decided, &Ok(written.clone()));
                // What `handle` applied as it wrote equals applying the events after.
                let mut applied = before;
                for event in &written {
                    applied.apply(event.clone());
                    history.push(applied.clone());
                }
                prop_assert_eq!(&applied, &license);
                for event in &written {
                    // (d) Each event survives the store and the stream.
                    round_trips(event)?;
                }
                recorded.extend(written.iter().cloned());
                outcomes.push(Ok(written));
            }
        }
        // (a) Seats add up.
        seats_add_up(&license, &recorded)?;
        // (b) Replaying everything recorded from scratch gives the same license.
        prop_assert_eq!(&License::replay(&recorded), &license);
    }
    // The aggregate's own serde form (audits, snapshots) round-trips too.
    let json = serde_json::to_string(&license).unwrap();
    prop_assert_eq!(&serde_json::from_str::<License>(&json).unwrap(), &license);
    Ok(Run {
        outcomes,
        recorded,
        history,
    })
}

/// 0 ≤ allocated ≤ quantity and allocated + unallocated = quantity, checked against
/// the state's own counts and against a count kept from the events alone.
fn seats_add_up(license: &License, recorded: &[LicenseEvent]) -> Result<(), TestCaseError> {
    let Some(state) = license.state() else {
        prop_assert!(recorded.is_empty(), "events recorded without a purchase");
        return Ok(());
    };
    let allocated = state.allocated();
    prop_assert!(
        state.terms.quantity >= 1,
        "a purchase of zero seats was recorded"
    );
    prop_assert!(
        allocated <= state.terms.quantity,
        "{} allocated of {}",
        allocated,
        state.terms.quantity
    );
    prop_assert_eq!(allocated + state.unallocated(), state.terms.quantity);
    prop_assert!(state.live_allocations().all(|(_, a)| a.quantity >= 1));
    if !state.terms.partial_allocation {
        prop_assert!(
            allocated == 0 || allocated == state.terms.quantity,
            "{} of {} allocated on a license that must be allocated whole",
            allocated,
            state.terms.quantity
        );
    }
    if let Some(expires_on) = state.terms.expires_on {
        prop_assert!(expires_on > state.terms.purchased_at.date_naive());
    }
    let from_events: i64 = recorded
        .iter()
        .map(|event| match event {
            LicenseEvent::Allocated(a) => i64::from(a.quantity),
            LicenseEvent::Returned(r) => -i64::from(r.quantity),
            _ => 0,
        })
        .sum();
    prop_assert_eq!(from_events, i64::from(allocated));
    Ok(())
}

/// The stream form (name, current version, body) and the stored form
/// (`{"Name": body}`) both read back to the same event.
fn round_trips(event: &LicenseEvent) -> Result<(), TestCaseError> {
    prop_assert_eq!(event.event_type(), event.name());
    prop_assert_eq!(event.event_version(), event.version());
    prop_assert_eq!(event.version(), LicenseEvent::version_of(event.name()));
    prop_assert!(LicenseEvent::TYPES.contains(&event.name()));

    let body = event.body().unwrap();
    let decoded = LicenseEvent::decode(event.name(), event.version(), body.clone()).unwrap();
    prop_assert_eq!(&decoded, event);

    let stored = serde_json::to_value(event).unwrap();
    let tags: Vec<&String> = stored.as_object().unwrap().keys().collect();
    prop_assert_eq!(tags, vec![event.name()]);
    prop_assert_eq!(&stored[event.name()], &body);
    prop_assert_eq!(
        &serde_json::from_value::<LicenseEvent>(stored).unwrap(),
        event
    );

    let text = serde_json::to_string(event).unwrap();
    prop_assert_eq!(&serde_json::from_str::<LicenseEvent>(&text).unwrap(), event);
    Ok(())
}

proptest! {
    #[test]
    fn every_law_holds_after_every_command_of_any_sequence(commands in scenario_strategy()) {
        run(commands)?;
    }

    #[test]
    fn replaying_any_prefix_gives_the_license_as_it_was_then(commands in scenario_strategy()) {
        // What an auditor does to see a license as of an instant.
        let Run { recorded, history, .. } = run(commands)?;
        prop_assert_eq!(history.len(), recorded.len() + 1);
        for (at, then) in history.iter().enumerate() {
            prop_assert_eq!(&License::replay(&recorded[..at]), then);
        }
    }
}

/// Every rule's code, as `LicenseError::code` names it.
const EVERY_RULE: [&str; 28] = [
    "license-not-found",
    "already-purchased",
    "quantity-must-be-positive",
    "quantity-too-large",
    "date-out-of-range",
    "expiry-not-after-purchase",
    "trial-needs-expiry",
    "invalid-reference",
    "already-activated",
    "access-code-mismatch",
    "not-activated",
    "license-expired",
    "allocation-exceeds-available",
    "partial-allocation-not-allowed",
    "invalid-host-id",
    "duplicate-allocation-id",
    "allocation-not-found",
    "allocation-not-live",
    "same-host",
    "already-hidden",
    "not-hidden",
    "nothing-to-renew",
    "perpetual-has-no-expiry",
    "date-must-move-forward",
    "nothing-to-upgrade",
    "edition-not-higher",
    "version-not-higher",
    "maintenance-lapsed",
];

/// The laws above are only as good as the sequences: on a fixed seed, the generator
/// must record every event, break every rule, and have a fair share accepted.
#[test]
fn the_generated_sequences_record_every_event_and_break_every_rule() {
    let mut runner = TestRunner::deterministic();
    let strategy = scenario_strategy();
    let mut events = BTreeSet::new();
    let mut rules = BTreeSet::new();
    let (mut accepted, mut refused) = (0usize, 0usize);
    for _ in 0..400 {
        let commands = strategy.new_tree(&mut runner).unwrap().current();
        let Run {
            outcomes, recorded, ..
        } = run(commands).unwrap();
        for outcome in outcomes {
            match outcome {
                Ok(_) => accepted += 1,
                Err(code) => {
                    refused += 1;
                    rules.insert(code);
                }
            }
        }
        events.extend(recorded.iter().map(LicenseEvent::name));
    }
    let missing_events: Vec<&str> = LicenseEvent::TYPES
        .into_iter()
        .filter(|name| !events.contains(name))
        .collect();
    assert!(
        missing_events.is_empty(),
        "never recorded: {missing_events:?}"
    );
    let missing_rules: Vec<&str> = EVERY_RULE
        .into_iter()
        .filter(|code| !rules.contains(code))
        .collect();
    assert!(missing_rules.is_empty(), "never broken: {missing_rules:?}");
    assert_eq!(
        rules.len(),
        EVERY_RULE.len(),
        "a rule not in EVERY_RULE: {rules:?}"
    );
    assert!(
        accepted * 6 >= refused,
        "{accepted} accepted, {refused} refused"
    );
}
