//! Overdraft usage: per day, feature and license server, what was installed
//! (allocated there at the end of the day), the peak in use, how much of that was
//! beyond what was installed, and whether it went past the overdraft allowance.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

/// The overdraft allowance, as a percentage of installed seats (rounded down).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllowancePolicy {
    /// User/device features (`_UD`): 10 by default (125 installed → 12 more usable).
    pub user_device_percent: u32,
    /// Every other license model: none by default.
    pub other_percent: u32,
}

impl AllowancePolicy {
    /// The allowance of `feature`, in percent of installed seats (the `ODP=` of its
    /// license files).
    pub fn percent(&self, feature: &str) -> u32 {
        if feature.ends_with("_UD") {
            self.user_device_percent
        } else {
            self.other_percent
        }
    }

    /// Extra seats allowed over `installed` for `feature`.
    pub fn allowance(&self, feature: &str, installed: i64) -> i64 {
        installed * i64::from(self.percent(feature)) / 100
    }
}

/// One day, feature and server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OverdraftLine {
    /// The day.
    pub day: NaiveDate,
    /// The license server.
    pub host: String,
    /// The feature.
    pub feature: String,
    /// Seats allocated to that server for that feature at the end of the day.
    pub installed: i64,
    /// Peak seats in use, as reported.
    pub in_use: i64,
    /// Seats in use beyond those installed.
    pub overdraft: i64,
    /// Extra seats the license model allows beyond those installed.
    pub allowance: i64,
    /// In use beyond installed plus allowance: to be bought.
    pub allowance_exceeded: bool,
}

/// Account-wide figures for one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DailyTotal {
    /// The day.
    pub day: NaiveDate,
    /// Seats installed across servers and features.
    pub installed: i64,
    /// Peak seats in use, summed.
    pub in_use: i64,
    /// Seats in overdraft, summed.
    pub overdraft: i64,
    /// Server-feature lines in overdraft.
    pub lines_in_overdraft: i64,
    /// Server-feature lines past their allowance.
    pub lines_exceeding_allowance: i64,
}

/// Which lines to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverdraftQuery {
    /// The account.
    pub account_id: Uuid,
    /// First day, inclusive.
    pub from: NaiveDate,
    /// Last day, inclusive.
    pub to: NaiveDate,
    /// One server only.
    pub host: Option<String>,
    /// One feature only.
    pub feature: Option<String>,
}

/// Where a page of lines continues: after this day, host and feature.
pub type LineKey = (NaiveDate, String, String);

#[derive(sqlx::FromRow)]
struct Row {
    day: NaiveDate,
    host: String,
    feature: String,
    peak_in_use: i32,
    installed: i64,
}

/// Up to `limit` lines after `after`, ordered by day, host and feature.
pub async fn overdraft_lines(
    pool: &PgPool,
    query: &OverdraftQuery,
    policy: AllowancePolicy,
    after: Option<&LineKey>,
    limit: u32,
) -> sqlx::Result<Vec<OverdraftLine>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT u.day, u.host, u.feature, u.peak_in_use,
                COALESCE((
                    SELECT sum(a.quantity) FROM read_model.license_allocations a
                      JOIN read_model.licenses l ON l.license_id = a.license_id
                     WHERE a.account_id = u.account_id AND a.host = u.host
                       AND l.feature = u.feature
                       AND a.allocated_at < ((u.day + 1)::timestamp AT TIME ZONE 'UTC')
                       AND (a.ended_at IS NULL
                            OR a.ended_at >= ((u.day + 1)::timestamp AT TIME ZONE 'UTC'))
                ), 0)::bigint AS installed
           FROM read_model.server_usage u
          WHERE u.account_id = $1 AND u.day BETWEEN $2 AND $3
            AND ($4::text IS NULL OR u.host = $4) AND ($5::text IS NULL OR u.feature = $5)
            AND ($6::date IS NULL OR (u.day, u.host, u.feature) > ($6, $7, $8))
          ORDER BY u.day, u.host, u.feature LIMIT $9",
    )
    .bind(query.account_id)
    .bind(query.from)
    .bind(query.to)
    .bind(&query.host)
    .bind(&query.feature)
    .bind(after.map(|(day, _, _)| *day))
    .bind(after.map(|(_, host, _)| host.as_str()))
    .bind(after.map(|(_, _, feature)| feature.as_str()))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let in_use = i64::from(row.peak_in_use);
            let allowance = policy.allowance(&row.feature, row.installed);
            OverdraftLine {
                overdraft: (in_use - row.installed).max(0),
                allowance_exceeded: in_use > row.installed + allowance,
                allowance,
                in_use,
                installed: row.installed,
                day: row.day,
                host: row.host,
                feature: row.feature,
            }
        })
        .collect())
}

/// Lines read per round trip when totalling.
const TOTALS_PAGE: u32 = 5_000;

/// Account-wide totals per day of the range, from every line.
pub async fn daily_totals(
    pool: &PgPool,
    query: &OverdraftQuery,
    policy: AllowancePolicy,
) -> sqlx::Result<Vec<DailyTotal>> {
    let mut totals: BTreeMap<NaiveDate, DailyTotal> = BTreeMap::new();
    let mut after: Option<LineKey> = None;
    loop {
        let lines = overdraft_lines(pool, query, policy, after.as_ref(), TOTALS_PAGE).await?;
        for line in &lines {
            let total = totals.entry(line.day).or_insert(DailyTotal {
                day: line.day,
                installed: 0,
                in_use: 0,
                overdraft: 0,
                lines_in_overdraft: 0,
                lines_exceeding_allowance: 0,
            });
            total.installed += line.installed;
            total.in_use += line.in_use;
            total.overdraft += line.overdraft;
            total.lines_in_overdraft += i64::from(line.overdraft > 0);
            total.lines_exceeding_allowance += i64::from(line.allowance_exceeded);
        }
        match lines.last() {
            Some(last) if lines.len() == TOTALS_PAGE as usize => {
                after = Some((last.day, last.host.clone(), last.feature.clone()));
            }
            _ => return Ok(totals.into_values().collect()),
        }
    }
}

/// Which of `features` the account holds licenses for: what its servers may
/// report. One index probe per feature: listing every feature of the account
/// read all its licenses, and at 10,000 licenses an account that made each usage
/// report cost a millisecond of PostgreSQL's time (measured with the benchmark
/// harness).
pub async fn held_features(
    pool: &PgPool,
    account_id: Uuid,
    features: &[&str],
) -> sqlx::Result<BTreeSet<String>> {
    let held: Vec<String> = sqlx::query_scalar(
        "SELECT f.feature FROM unnest($2::text[]) AS f(feature)
          WHERE EXISTS (SELECT 1 FROM read_model.licenses l
                         WHERE l.account_id = $1 AND l.feature = f.feature)",
    )
    .bind(account_id)
    .bind(features)
    .fetch_all(pool)
    .await?;
    Ok(held.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_device_features_get_ten_percent_rounded_down_and_others_none() {
        let policy = AllowancePolicy {
            user_device_percent: 10,
            other_percent: 0,
        };
        assert_eq!(
            policy.allowance("XDT_ENT_UD", 125),
            12,
            "125 purchased → 137 usable"
        );
        assert_eq!(policy.allowance("XDT_ENT_UD", 9), 0);
        assert_eq!(policy.allowance("XDT_ENT_CCU", 125), 0);
    }
}
