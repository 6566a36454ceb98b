//! The usage read model as a pure step: a report becomes one row per feature, each
//! replacing an older report's row for the same server, day and feature.

use chrono::{DateTime, NaiveDate, Utc};
use ledger_domain::usage::UsageEvent;
use uuid::Uuid;

use crate::contract::StreamedUsage;

/// A row of `read_model.server_usage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    /// The owning account.
    pub account_id: Uuid,
    /// The reporting server.
    pub host: String,
    /// The day.
    pub day: NaiveDate,
    /// The feature.
    pub feature: String,
    /// Peak seats in use.
    pub peak_in_use: i32,
    /// The report's sequence in its stream: a row is only replaced by a later one.
    pub revision: i64,
    /// When the report arrived.
    pub reported_at: DateTime<Utc>,
}

/// The rows a usage event writes.
pub fn usage_rows(streamed: &StreamedUsage) -> Vec<UsageRow> {
    let UsageEvent::UsageReported(report) = &streamed.event;
    report
        .peaks
        .iter()
        .map(|(feature, peak)| UsageRow {
            account_id: report.account_id.0,
            host: report.host.as_str().to_owned(),
            day: report.day,
            feature: feature.clone(),
            peak_in_use: i32::try_from(*peak).unwrap_or(i32::MAX),
            revision: streamed.envelope.sequence,
            reported_at: report.reported_at,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use ledger_domain::usage::{ServerHost, UsageReported};

    use super::*;
    use crate::contract::Envelope;

    #[test]
    fn a_report_becomes_one_row_per_feature_at_its_revision() {
        let account = "0190f4c2-0000-7000-8000-0000000000aa".parse().unwrap();
        let streamed = StreamedUsage {
            envelope: Envelope {
                stream_sequence: 9,
                account_id: account,
                sequence: 2,
                global_position: 40,
                transaction_id: 7,
                occurred_at: "2026-11-22T10:00:00Z".parse().unwrap(),
            },
            stream_id: Uuid::from_u128(1),
            event: UsageEvent::UsageReported(UsageReported {
                account_id: account,
                host: ServerHost::parse("srv-1").unwrap(),
                day: NaiveDate::from_ymd_opt(2026, 11, 21).unwrap(),
                peaks: BTreeMap::from([("XDT_ENT_UD".into(), 130), ("XDT_PLT_CCU".into(), 4)]),
                reported_at: "2026-11-22T10:00:00Z".parse().unwrap(),
            }),
        };
        let rows = usage_rows(&streamed);
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (
                rows[0].feature.as_str(),
                rows[0].peak_in_use,
                rows[0].revision
            ),
            ("XDT_ENT_UD", 130, 2)
        );
    }
}
