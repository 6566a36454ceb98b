//! The demo's usage reports: each reporting server's daily peak per feature over
//! the last weeks, drawn around what the story has installed there that day —
//! lower at weekends, and on some days past it: in overdraft, now and then past
//! the overdraft allowance too. Pure, like the story.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeDelta, Utc, Weekday};

use super::story::{Act, Key, Line, Step, REPORTING, USAGE_DAYS};

/// One server's report for one day.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// When the server sends it: late on the day reported.
    pub at: DateTime<Utc>,
    /// The server.
    pub host: &'static str,
    /// The day reported.
    pub day: NaiveDate,
    /// Peak seats in use per feature.
    pub peaks: BTreeMap<String, u32>,
}

/// The feature a license ends the story with: what the read model names its
/// allocations' seats by, on every day (an edition upgrade renames it).
fn final_features(steps: &[Step]) -> BTreeMap<Key, String> {
    let mut lines: BTreeMap<Key, (Line, Option<ledger_domain::Edition>)> = BTreeMap::new();
    for step in steps {
        match &step.act {
            Act::Purchase(line) => {
                lines.insert(step.license, (line.clone(), None));
            }
            Act::UpgradeEdition(edition) => {
                if let Some((_, upgraded)) = lines.get_mut(step.license) {
                    *upgraded = Some(*edition);
                }
            }
            _ => {}
        }
    }
    lines
        .into_iter()
        .map(|(key, (line, upgraded))| {
            let edition = upgraded.unwrap_or(line.edition);
            let suffix = line.model.feature_suffix();
            (key, format!("{}_{}_{suffix}", line.product, edition.code()))
        })
        .collect()
}

/// Every feature the account holds a license for: what a report may name.
pub fn held_features(steps: &[Step]) -> BTreeSet<String> {
    final_features(steps).into_values().collect()
}

/// Seats installed per server and feature at the end of `day`: the live
/// allocations made before the next midnight, as the overdraft figures count them.
fn installed(
    steps: &[Step],
    features: &BTreeMap<Key, String>,
    day: NaiveDate,
) -> BTreeMap<(&'static str, String), u32> {
    let end = day
        .checked_add_days(Days::new(1))
        .unwrap_or(day)
        .and_time(NaiveTime::MIN)
        .and_utc();
    let mut live: BTreeMap<(Key, &'static str), (&'static str, u32)> = BTreeMap::new();
    for step in steps.iter().filter(|step| step.at < end) {
        match &step.act {
            Act::Allocate {
                allocation,
                host,
                quantity,
            } => {
                live.insert((step.license, allocation), (host, *quantity));
            }
            Act::Move {
                allocation,
                to_allocation,
                host,
            } => {
                if let Some((_, quantity)) = live.remove(&(step.license, *allocation)) {
                    live.insert((step.license, to_allocation), (host, quantity));
                }
            }
            Act::Return { allocation } => {
                live.remove(&(step.license, *allocation));
            }
            _ => {}
        }
    }
    let mut seats = BTreeMap::new();
    for ((license, _), (host, quantity)) in live {
        if let Some(feature) = features.get(license) {
            *seats.entry((host, feature.clone())).or_insert(0) += quantity;
        }
    }
    seats
}

/// The share of installed seats in use, in percent, for the `n`-th line of the
/// report of `day`: mostly 55–94 %, half that at weekends. A server's first line
/// is its busiest: on about one day in eight it goes past what is installed —
/// 105 %, within a 10 % allowance, or 113 %, past it.
fn in_use_percent(day: NaiveDate, n: u32) -> u32 {
    let seed = day.num_days_from_ce().unsigned_abs() * 31 + n * 7;
    let percent = match (n, seed % 17) {
        (0, 0) => 113,
        (0, 9) => 105,
        _ => 55 + (seed * 13) % 40,
    };
    match day.weekday() {
        Weekday::Sat | Weekday::Sun if percent < 100 => percent / 2,
        _ => percent,
    }
}

/// The reports of the [`USAGE_DAYS`] days before `today`, from every reporting
/// server that has seats installed that day.
pub fn reports(steps: &[Step], today: NaiveDate) -> Vec<Report> {
    let features = final_features(steps);
    let mut reports = Vec::new();
    for days_ago in (1..=USAGE_DAYS).rev() {
        let Some(day) = today.checked_sub_days(Days::new(days_ago)) else {
            continue;
        };
        let seats = installed(steps, &features, day);
        for host in REPORTING {
            let peaks: BTreeMap<String, u32> = seats
                .iter()
                .filter(|((on, _), _)| *on == host)
                .zip(0..)
                .map(|(((_, feature), installed), n)| {
                    let peak = u64::from(*installed) * u64::from(in_use_percent(day, n)) / 100;
                    (feature.clone(), u32::try_from(peak).unwrap_or(u32::MAX))
                })
                .collect();
            if peaks.is_empty() {
                continue;
            }
            let at = day.and_time(NaiveTime::MIN).and_utc() + TimeDelta::minutes(23 * 60 + 30);
            reports.push(Report {
                at,
                host,
                day,
                peaks,
            });
        }
    }
    reports
}
