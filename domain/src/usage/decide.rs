//! The rules of a usage report.

use super::{ReportUsage, ServerUsage, UsageError, UsageEvent, UsageReported};

/// Decides what a report records on its server-day stream.
pub fn decide_usage(
    usage: &ServerUsage,
    report: &ReportUsage,
) -> Result<Vec<UsageEvent>, UsageError> {
    if let Some(state) = usage.state() {
        let same_stream = state.account_id == report.account_id
            && state.host == report.host
            && state.day == report.day;
        if !same_stream {
            return Err(UsageError::WrongStream);
        }
    }
    if report.peaks.is_empty() {
        return Err(UsageError::NothingReported);
    }
    if report.day > report.now.date_naive() {
        return Err(UsageError::DayInFuture { day: report.day });
    }
    if report.day < crate::decide::EARLIEST_DATE {
        return Err(UsageError::DayTooEarly { day: report.day });
    }
    if let Some((feature, peak)) = report
        .peaks
        .iter()
        .find(|(_, peak)| **peak > crate::decide::MAX_QUANTITY)
    {
        return Err(UsageError::PeakTooLarge {
            feature: feature.clone(),
            peak: *peak,
        });
    }
    if let Some(feature) = report
        .peaks
        .keys()
        .find(|feature| !report.known_features.contains(*feature))
    {
        return Err(UsageError::UnknownFeature {
            feature: feature.clone(),
        });
    }
    Ok(vec![UsageEvent::UsageReported(UsageReported {
        account_id: report.account_id,
        host: report.host.clone(),
        day: report.day,
        peaks: report.peaks.clone(),
        reported_at: report.now,
    })])
}
