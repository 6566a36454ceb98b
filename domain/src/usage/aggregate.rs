//! The `ServerUsage` aggregate: the latest peaks of one server on one day.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use super::{decide_usage, ReportUsage, ServerHost, UsageError, UsageEvent};
use crate::values::AccountId;

/// One server-day's usage; `None` until the first report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerUsage {
    state: Option<UsageState>,
}

/// What has been reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageState {
    /// The owning account.
    pub account_id: AccountId,
    /// The server.
    pub host: ServerHost,
    /// The day.
    pub day: NaiveDate,
    /// The latest peak per feature.
    pub peaks: BTreeMap<String, u32>,
    /// Reports received.
    pub reports: u32,
}

impl ServerUsage {
    /// The reported state, if any report arrived.
    pub fn state(&self) -> Option<&UsageState> {
        self.state.as_ref()
    }

    fn apply_event(&mut self, event: &UsageEvent) {
        let UsageEvent::UsageReported(report) = event;
        let state = self.state.get_or_insert_with(|| UsageState {
            account_id: report.account_id,
            host: report.host.clone(),
            day: report.day,
            peaks: BTreeMap::new(),
            reports: 0,
        });
        state.peaks.extend(report.peaks.clone());
        state.reports += 1;
    }
}

impl Aggregate for ServerUsage {
    const TYPE: &'static str = "ServerUsage";
    type Command = ReportUsage;
    type Event = UsageEvent;
    type Error = UsageError;
    type Services = ();

    async fn handle(
        &mut self,
        command: ReportUsage,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), UsageError> {
        for event in decide_usage(self, &command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: UsageEvent) {
        self.apply_event(&event);
    }
}
