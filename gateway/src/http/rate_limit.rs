//! Per-token rate limits: a token bucket for each token id, in this gateway's
//! memory. Each instance limits on its own, so N gateways behind a balancer let a
//! token through at most N times the rate; size `rate_limit_per_second` for that.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets kept before idle, full ones are forgotten.
const TIDY_ABOVE: usize = 10_000;

/// The limit every token gets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: f64,
    /// Requests that may come at once after a quiet spell.
    pub burst: u32,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// The buckets of every token seen.
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// Buckets that start full.
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `token_id`'s bucket at `now`; when it is empty, how
    /// long until it holds one again.
    pub fn take(&self, token_id: &str, now: Instant) -> Result<(), Duration> {
        let burst = f64::from(self.limit.burst.max(1));
        // A poisoned lock only means another request panicked mid-update; the
        // counts are still numbers, so go on with them.
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() > TIDY_ABOVE {
            let rate = self.limit.per_second;
            buckets.retain(|_, bucket| {
                bucket.tokens + now.duration_since(bucket.updated).as_secs_f64() * rate < burst
            });
        }
        let bucket = buckets.entry(token_id.to_owned()).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.limit.per_second).min(burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let missing = 1.0 - bucket.tokens;
            Err(Duration::from_secs_f64(missing / self.limit.per_second))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn limiter() -> RateLimiter {
        RateLimiter::new(RateLimit {
            per_second: 2.0,
            burst: 3,
        })
    }

    #[test]
    fn a_burst_passes_then_the_rate_holds() {
        let limiter = limiter();
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.take("t", start).is_ok());
        }
        let wait = limiter.take("t", start).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        assert!(limiter
            .take("t", start + Duration::from_millis(499))
            .is_err());
        assert!(limiter
            .take("t", start + Duration::from_millis(1000))
            .is_ok());
    }

    #[test]
    fn each_token_has_its_own_bucket() {
        let limiter = limiter();
        let now = Instant::now();
        for _ in 0..3 {
            limiter.take("a", now).unwrap();
        }
        assert!(limiter.take("a", now).is_err());
        assert!(limiter.take("b", now).is_ok());
    }

    #[test]
    fn idle_full_buckets_are_forgotten_when_there_are_many() {
        let limiter = limiter();
        let now = Instant::now();
        for i in 0..=TIDY_ABOVE {
            limiter.take(&i.to_string(), now).unwrap();
        }
        limiter.take("last", now + Duration::from_secs(10)).unwrap();
        assert_eq!(limiter.buckets.lock().unwrap().len(), 1);
    }
}
