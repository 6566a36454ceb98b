//! The usage report rules, given/when/then: every outcome of `decide_usage`, run
//! through cqrs-es' `TestFramework` (so through `ServerUsage::handle`), plus the
//! stream ids, server ids, error codes and stored form the reports rely on.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Days, NaiveDate, Utc};
use cqrs_es::test::{AggregateTestExecutor, TestFramework};
use cqrs_es::Aggregate;
use ledger_domain::usage::{
    ReportUsage, ServerHost, ServerUsage, UsageError, UsageEvent, UsageReported, UsageState,
    UsageStreamId,
};
use ledger_domain::AccountId;
use uuid::Uuid;

// ---------------------------------------------------------------------------
// Fixed facts: one account, one server, one "today".
// ---------------------------------------------------------------------------

fn day(year: i32, month: u32, dom: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, dom).unwrap()
}

fn noon(date: NaiveDate) -> DateTime<Utc> {
    date.and_hms_opt(12, 0, 0).unwrap().and_utc()
}

/// "Today" for every report unless a test says otherwise.
fn today() -> NaiveDate {
    day(2027, 3, 1)
}

fn yesterday() -> NaiveDate {
    today() - Days::new(1)
}

fn tomorrow() -> NaiveDate {
    today() + Days::new(1)
}

fn account() -> AccountId {
    AccountId(Uuid::from_u128(0xACC0_0000_0000_0001))
}

fn another_account() -> AccountId {
    AccountId(Uuid::from_u128(0xACC0_0000_0000_0002))
}

fn host(raw: &str) -> ServerHost {
    ServerHost::parse(raw).unwrap()
}

/// The server every report comes from unless a test says otherwise.
fn server() -> ServerHost {
    host("srv-a")
}

const ENTERPRISE: &str = "XDT_ENT_UD";
const PLATINUM: &str = "XDT_PLT_UD";
const UNLICENSED: &str = "QRS_STD_FL";

/// Peak seats per feature.
fn peaks(lines: &[(&str, u32)]) -> BTreeMap<String, u32> {
    lines
        .iter()
        .map(|(feature, seats)| ((*feature).to_owned(), *seats))
        .collect()
}

/// The features our account holds licenses for.
fn known_features() -> BTreeSet<String> {
    [ENTERPRISE, PLATINUM]
        .into_iter()
        .map(str::to_owned)
        .collect()
}

// ---------------------------------------------------------------------------
// Commands and events.
// ---------------------------------------------------------------------------

/// Our server reports `lines` for yesterday, decided at noon today.
fn report(lines: &[(&str, u32)]) -> ReportUsage {
    ReportUsage {
        account_id: account(),
        now: noon(today()),
        host: server(),
        day: yesterday(),
        peaks: peaks(lines),
        known_features: known_features(),
    }
}

/// What `command` records when accepted.
fn reported(command: &ReportUsage) -> UsageEvent {
    UsageEvent::UsageReported(UsageReported {
        account_id: command.account_id,
        host: command.host.clone(),
        day: command.day,
        peaks: command.peaks.clone(),
        reported_at: command.now,
    })
}

/// The stream's first report: 40 Enterprise and 5 Platinum seats yesterday.
fn first_report() -> ReportUsage {
    report(&[(ENTERPRISE, 40), (PLATINUM, 5)])
}

fn given(events: Vec<UsageEvent>) -> AggregateTestExecutor<ServerUsage> {
    TestFramework::<ServerUsage>::with(()).given(events)
}

fn given_nothing() -> AggregateTestExecutor<ServerUsage> {
    TestFramework::<ServerUsage>::with(()).given_no_previous_events()
}

/// The state after folding `events` with `Aggregate::apply`.
fn state_after(events: Vec<UsageEvent>) -> UsageState {
    let mut usage = ServerUsage::default();
    for event in events {
        usage.apply(event);
    }
    usage.state().cloned().unwrap()
}

// ===========================================================================
// A first report
// ===========================================================================

#[test]
fn a_first_report_records_the_peaks_received_now() {
    given_nothing()
        .when(first_report())
        .then_expect_events(vec![UsageEvent::UsageReported(UsageReported {
            account_id: account(),
            host: server(),
            day: yesterday(),
            peaks: peaks(&[(ENTERPRISE, 40), (PLATINUM, 5)]),
            reported_at: noon(today()),
        })]);
}

#[test]
fn a_report_for_today_is_accepted() {
    let command = ReportUsage {
        day: today(),
        ..first_report()
    };
    given_nothing()
        .when(command.clone())
        .then_expect_events(vec![reported(&command)]);
}

#[test]
fn a_report_for_tomorrow_is_refused() {
    given_nothing()
        .when(ReportUsage {
            day: tomorrow(),
            ..first_report()
        })
        .then_expect_error(UsageError::DayInFuture { day: tomorrow() });
}

#[test]
fn a_report_without_any_feature_is_refused() {
    given_nothing()
        .when(report(&[]))
        .then_expect_error(UsageError::NothingReported);
}

#[test]
fn a_report_of_a_feature_the_account_holds_no_license_for_is_refused() {
    given_nothing()
        .when(report(&[(UNLICENSED, 3)]))
        .then_expect_error(UsageError::UnknownFeature {
            feature: UNLICENSED.to_owned(),
        });
}

#[test]
fn a_report_mixing_known_features_with_an_unknown_one_is_refused_naming_it() {
    given_nothing()
        .when(report(&[(ENTERPRISE, 40), (UNLICENSED, 3), (PLATINUM, 5)]))
        .then_expect_error(UsageError::UnknownFeature {
            feature: UNLICENSED.to_owned(),
        });
}

// ===========================================================================
// Later reports for the same server-day
// ===========================================================================

#[test]
fn a_second_report_for_the_same_server_day_is_accepted() {
    let second = ReportUsage {
        now: noon(today()) + chrono::Duration::hours(2),
        ..report(&[(ENTERPRISE, 55)])
    };
    given(vec![reported(&first_report())])
        .when(second.clone())
        .then_expect_events(vec![reported(&second)]);
}

#[test]
fn a_second_report_supersedes_the_features_it_names_and_keeps_the_others() {
    let state = state_after(vec![
        reported(&first_report()),
        reported(&report(&[(ENTERPRISE, 55)])),
    ]);
    assert_eq!(state.peaks, peaks(&[(ENTERPRISE, 55), (PLATINUM, 5)]));
    assert_eq!(state.reports, 2);
    assert_eq!(state.account_id, account());
    assert_eq!(state.host, server());
    assert_eq!(state.day, yesterday());
}

#[test]
fn a_later_report_wins_even_when_its_peak_is_lower() {
    let state = state_after(vec![
        reported(&first_report()),
        reported(&report(&[(PLATINUM, 1)])),
    ]);
    assert_eq!(state.peaks, peaks(&[(ENTERPRISE, 40), (PLATINUM, 1)]));
    assert_eq!(state.reports, 2);
}

#[test]
fn a_report_from_another_server_is_refused_on_this_stream() {
    given(vec![reported(&first_report())])
        .when(ReportUsage {
            host: host("srv-b"),
            ..first_report()
        })
        .then_expect_error(UsageError::WrongStream);
}

#[test]
fn a_report_for_another_day_is_refused_on_this_stream() {
    given(vec![reported(&first_report())])
        .when(ReportUsage {
            day: today(),
            ..first_report()
        })
        .then_expect_error(UsageError::WrongStream);
}

#[test]
fn a_report_by_another_account_is_refused_on_this_stream() {
    given(vec![reported(&first_report())])
        .when(ReportUsage {
            account_id: another_account(),
            ..first_report()
        })
        .then_expect_error(UsageError::WrongStream);
}

// ===========================================================================
// Stream ids
// ===========================================================================

#[test]
fn the_stream_id_of_a_server_day_is_always_the_same() {
    assert_eq!(
        UsageStreamId::of(account(), &server(), yesterday()),
        UsageStreamId::of(account(), &server(), yesterday()),
    );
}

#[test]
fn the_stream_id_differs_when_account_host_or_day_differs() {
    let id = UsageStreamId::of(account(), &server(), yesterday());
    assert_ne!(
        id,
        UsageStreamId::of(another_account(), &server(), yesterday()),
        "another account"
    );
    assert_ne!(
        id,
        UsageStreamId::of(account(), &host("srv-b"), yesterday()),
        "another host"
    );
    assert_ne!(
        id,
        UsageStreamId::of(account(), &server(), today()),
        "another day"
    );
}

// ===========================================================================
// Server ids
// ===========================================================================

#[test]
fn server_ids_of_every_binding_type_are_accepted() {
    for (what, raw) in [
        ("a host name", "srv-a.example.com".to_owned()),
        ("a MAC address", "00155D0A1B2C".to_owned()),
        ("a hardware serial", "SN-4C4C4544-0042_B".to_owned()),
        ("253 characters", "h".repeat(253)),
    ] {
        let parsed = ServerHost::parse(&raw);
        assert!(parsed.is_ok(), "{what}: {parsed:?}");
        assert_eq!(parsed.unwrap().as_str(), raw, "{what}");
    }
}

#[test]
fn server_ids_that_are_empty_too_long_or_contain_spaces_are_refused() {
    for (what, raw) in [
        ("empty", String::new()),
        ("254 characters", "h".repeat(254)),
        ("containing a space", "srv a".to_owned()),
        ("surrounded by spaces", " srv-a ".to_owned()),
    ] {
        assert!(ServerHost::parse(&raw).is_err(), "{what}");
    }
}

#[test]
fn a_report_for_a_day_before_1970_is_rejected() {
    let day = NaiveDate::from_ymd_opt(1969, 12, 31).unwrap();
    given_nothing()
        .when(ReportUsage {
            day,
            ..report(&[(ENTERPRISE, 1)])
        })
        .then_expect_error(UsageError::DayTooEarly { day });
}

#[test]
fn a_peak_beyond_any_license_is_rejected() {
    given_nothing()
        .when(report(&[(ENTERPRISE, u32::MAX)]))
        .then_expect_error(UsageError::PeakTooLarge {
            feature: ENTERPRISE.to_owned(),
            peak: u32::MAX,
        });
}

// ===========================================================================
// Errors and stored form
// ===========================================================================

/// One of every `UsageError` variant.
fn every_usage_error() -> Vec<UsageError> {
    let all = vec![
        UsageError::NothingReported,
        UsageError::DayInFuture { day: tomorrow() },
        UsageError::UnknownFeature {
            feature: UNLICENSED.to_owned(),
        },
        UsageError::WrongStream,
        UsageError::DayTooEarly {
            day: NaiveDate::from_ymd_opt(1969, 12, 31).unwrap(),
        },
        UsageError::PeakTooLarge {
            feature: ENTERPRISE.to_owned(),
            peak: u32::MAX,
        },
    ];
    // Stops compiling when a variant is added: list it above as well.
    for error in &all {
        match error {
            UsageError::NothingReported
            | UsageError::DayInFuture { .. }
            | UsageError::UnknownFeature { .. }
            | UsageError::WrongStream
            | UsageError::DayTooEarly { .. }
            | UsageError::PeakTooLarge { .. } => {}
        }
    }
    all
}

#[test]
fn every_usage_error_has_its_own_code() {
    let errors = every_usage_error();
    let codes: BTreeSet<&str> = errors.iter().map(UsageError::code).collect();
    assert_eq!(codes.len(), errors.len(), "{codes:?}");
}

#[test]
fn a_usage_event_round_trips_through_its_stored_form() {
    let event = reported(&first_report());
    let stored = serde_json::to_value(&event).unwrap();
    let tagged = stored.as_object().unwrap();
    assert_eq!(
        tagged.keys().collect::<Vec<_>>(),
        vec!["UsageReported"],
        "{stored}"
    );
    assert_eq!(tagged["UsageReported"]["host"], "srv-a");
    assert_eq!(tagged["UsageReported"]["day"], "2027-02-28");
    assert_eq!(tagged["UsageReported"]["peaks"][ENTERPRISE], 40);

    let back: UsageEvent = serde_json::from_value(stored.clone()).unwrap();
    assert_eq!(back, event);

    let body = tagged["UsageReported"].clone();
    let decoded = UsageEvent::decode(event.name(), "1", body).unwrap();
    assert_eq!(decoded, event);
}
