//! The demo's story told to the domain alone, on many days of loading: every
//! step is a command its rules accept, and the account ends with what the
//! landing page, the filters and the overdraft figures should show.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate, Utc};
use ledger_domain::usage::{decide_usage, ServerUsage};
use ledger_domain::{decide, AccountId, License, LicenseId};
use uuid::Uuid;

use super::story::{steps, Act, HQ, LAB, REPORTING};
use super::usage::{held_features, reports};
use super::{command, console_url, usage_command, Ids};

/// The story's licenses after every step is decided by the domain's rules as of
/// `today`, each step at its own instant; panics naming a refused step.
fn told(today: NaiveDate) -> BTreeMap<LicenseId, License> {
    let account = AccountId(Uuid::from_u128(7));
    let mut ids = Ids::default();
    let mut licenses: BTreeMap<LicenseId, License> = BTreeMap::new();
    for step in steps(today) {
        let (id, command) = command(&step, account, today, &mut ids).unwrap();
        let license = licenses.entry(id).or_default();
        let events = decide(license, &command)
            .unwrap_or_else(|rule| panic!("{today}: {} {:?}: {rule}", step.license, step.act));
        for event in events {
            cqrs_es::Aggregate::apply(license, event);
        }
    }
    licenses
}

/// Days of loading: today, leap days, a year's turn, weekdays and weekends.
fn loading_days() -> Vec<NaiveDate> {
    let today = Utc::now().date_naive();
    let mut days: Vec<NaiveDate> = ["2028-02-29", "2028-03-01", "2027-01-01", "2026-12-31"]
        .iter()
        .map(|d| d.parse().unwrap())
        .collect();
    days.extend((0..7).map(|n| today + Days::new(n)));
    days
}

#[test]
fn every_step_of_the_story_is_accepted_by_the_rules_whatever_the_day() {
    for today in loading_days() {
        let licenses = told(today);
        assert_eq!(licenses.len(), 16, "{today}");
        for step in steps(today) {
            assert!(
                step.at.date_naive() < today,
                "{today}: {step:?} is not in the past"
            );
        }
    }
}

#[test]
fn the_landing_page_has_new_red_and_orange_licenses_and_hidden_legacy_ones() {
    let today = Utc::now().date_naive();
    let licenses = told(today);
    let states: Vec<_> = licenses.values().filter_map(License::state).collect();
    let new_since = today - Days::new(30);
    let new = states
        .iter()
        .filter(|s| s.terms.purchased_at.date_naive() >= new_since)
        .count();
    assert!(new >= 3, "{new} new");
    let days_left: Vec<i64> = states
        .iter()
        .filter(|s| !s.hidden)
        .filter_map(|s| s.terms.expires_on)
        .map(|expires_on| (expires_on - today).num_days())
        .collect();
    let red = days_left.iter().filter(|d| (0..=30).contains(*d)).count();
    let orange = days_left.iter().filter(|d| (31..=90).contains(*d)).count();
    assert!(red >= 2 && orange >= 2, "{days_left:?}");
    let hidden: Vec<_> = states.iter().filter(|s| s.hidden).collect();
    assert!(hidden.len() >= 3);
    assert!(
        hidden.iter().all(|s| s.expired_on(today).is_some()),
        "legacy only"
    );
    assert!(states.iter().any(|s| s.terms.trial && !s.hidden));
    assert!(states.iter().any(|s| s.terms.expires_on.is_none()));
}

#[test]
fn the_story_moves_returns_renews_and_upgrades_across_several_servers() {
    let today = Utc::now().date_naive();
    let story = steps(today);
    let count = |matches: fn(&Act) -> bool| story.iter().filter(|s| matches(&s.act)).count();
    assert!(count(|a| matches!(a, Act::Move { .. })) >= 1);
    assert!(count(|a| matches!(a, Act::Return { .. })) >= 3);
    assert!(count(|a| matches!(a, Act::Renew { .. })) >= 3);
    assert!(count(|a| matches!(a, Act::UpgradeEdition(_))) >= 1);
    assert!(count(|a| matches!(a, Act::UpgradeVersion(_))) >= 1);
    assert!(count(|a| matches!(a, Act::Unhide)) >= 1);
    let states = told(today);
    let mut hosts: Vec<String> = states
        .values()
        .filter_map(License::state)
        .flat_map(|s| s.allocations.values())
        .filter(|a| a.status == ledger_domain::AllocationStatus::Live)
        .map(|a| a.host.as_str().to_owned())
        .collect();
    hosts.sort();
    hosts.dedup();
    assert!(hosts.len() >= 4, "{hosts:?}");
    assert!(hosts.iter().any(|h| h == HQ) && hosts.iter().any(|h| h == LAB));
}

#[test]
fn usage_reports_are_accepted_and_some_days_are_in_overdraft() {
    for today in loading_days() {
        let story = steps(today);
        let held = held_features(&story);
        let account = AccountId(Uuid::from_u128(7));
        let all = reports(&story, today);
        assert!(all.len() >= 3 * 40, "{today}: {} reports", all.len());
        for report in &all {
            assert!(REPORTING.contains(&report.host));
            let (_, command) = usage_command(report, account, &held).unwrap();
            decide_usage(&ServerUsage::default(), &command)
                .unwrap_or_else(|rule| panic!("{today}: {report:?}: {rule}"));
        }
    }
    // On the headquarters server, user/device seats installed are 800 + 150 +
    // 300 = 1,250 of XDT_ENT_UD all through the reported weeks: some days go past
    // them, and at least one past the 10 % allowance too.
    let today = Utc::now().date_naive();
    let peaks: Vec<u32> = reports(&steps(today), today)
        .iter()
        .filter(|r| r.host == HQ)
        .map(|r| r.peaks["XDT_ENT_UD"])
        .collect();
    assert!(peaks.iter().any(|p| (1251..=1375).contains(p)), "{peaks:?}");
    assert!(peaks.iter().any(|p| *p > 1375), "{peaks:?}");
    assert!(peaks.iter().all(|p| *p > 0));
}

#[test]
fn the_console_is_reached_on_loopback_when_the_ledger_listens_everywhere() {
    let url = |addr: &str| console_url(addr.parse().unwrap());
    assert_eq!(url("127.0.0.1:8080"), "http://127.0.0.1:8080/console");
    assert_eq!(url("0.0.0.0:9000"), "http://127.0.0.1:9000/console");
    assert_eq!(url("[::]:8080"), "http://[::1]:8080/console");
    assert_eq!(url("10.1.2.3:80"), "http://10.1.2.3:80/console");
}
