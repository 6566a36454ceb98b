//! Latency samples and what a report says of them: count, rate, percentiles.

use std::time::Duration;

use serde::Serialize;

/// Latencies of one kind of request in one phase, and how many failed.
#[derive(Debug, Default, Clone)]
pub struct Samples {
    latencies: Vec<Duration>,
    errors: u64,
}

impl Samples {
    /// One answered request.
    pub fn record(&mut self, latency: Duration) {
        self.latencies.push(latency);
    }

    /// One request that failed (transport error or an unexpected status).
    pub fn record_error(&mut self) {
        self.errors += 1;
    }

    /// Both sets of samples in one.
    pub fn merge(&mut self, other: Samples) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
    }

    /// Count, rate over `elapsed` and percentiles.
    pub fn summary(&self, elapsed: Duration) -> Summary {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let percentile = |p: f64| -> f64 {
            if sorted.is_empty() {
                return 0.0;
            }
            // Nearest rank: the smallest sample with at least p of them at or below it.
            let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
            millis(sorted[rank - 1])
        };
        Summary {
            count: sorted.len() as u64,
            errors: self.errors,
            per_second: sorted.len() as f64 / elapsed.as_secs_f64().max(1e-9),
            p50_ms: percentile(0.50),
            p95_ms: percentile(0.95),
            p99_ms: percentile(0.99),
            max_ms: sorted.last().copied().map(millis).unwrap_or(0.0),
        }
    }
}

/// What a report says of a set of samples.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Requests answered as expected.
    pub count: u64,
    /// Requests that failed.
    pub errors: u64,
    /// Answered requests per second of the phase.
    pub per_second: f64,
    /// Median latency.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut samples = Samples::default();
        for ms in 1..=100 {
            samples.record(Duration::from_millis(ms));
        }
        samples.record_error();
        let summary = samples.summary(Duration::from_secs(10));
        assert_eq!(summary.count, 100);
        assert_eq!(summary.errors, 1);
        assert!((summary.per_second - 10.0).abs() < 1e-9);
        assert!((summary.p50_ms - 50.0).abs() < 1e-9);
        assert!((summary.p95_ms - 95.0).abs() < 1e-9);
        assert!((summary.p99_ms - 99.0).abs() < 1e-9);
        assert!((summary.max_ms - 100.0).abs() < 1e-9);
    }

    #[test]
    fn no_samples_summarise_to_zeros() {
        let summary = Samples::default().summary(Duration::from_secs(1));
        assert_eq!(summary.count, 0);
        assert_eq!(summary.p99_ms, 0.0);
    }
}
