//! Retries of throttled photo requests: which statuses are retried and how long to wait
//! before each retry.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use reqwest::StatusCode;

/// Retry limits for photo requests that Graph throttles (429) or cannot serve right now
/// (503, 504).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt. When they are used up, the person fails with
    /// `FailureKind::Unavailable`.
    pub max_retries: u32,
    /// Wait before the first retry when Graph sends no usable `Retry-After`. It doubles
    /// with each retry, and a random share of up to half is taken off so that parallel
    /// requests spread out.
    pub initial_backoff: Duration,
    /// Maximum single wait, applied to a longer `Retry-After` too.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_retries: 5, initial_backoff: Duration::from_secs(1), max_wait: Duration::from_secs(60) }
    }
}

impl RetryPolicy {
    /// Returns the wait before retry number `retry` (1 for the first retry): the
    /// `Retry-After` value when Graph sent one, otherwise exponential backoff with jitter.
    /// Both are capped at `max_wait`.
    pub(crate) fn wait_before(&self, retry: u32, retry_after: Option<&str>) -> Duration {
        if let Some(wait) = retry_after.and_then(parse_retry_after) {
            return wait.min(self.max_wait);
        }

        let exponent = retry.saturating_sub(1).min(31);
        let backoff = self.initial_backoff.saturating_mul(1 << exponent).min(self.max_wait);

        // Half of the backoff is fixed and half is random ("equal jitter"), so the wait
        // still grows with each retry.
        backoff.mul_f64(0.5 + 0.5 * random_fraction())
    }
}

/// Returns whether the status is one with which Graph requests a later retry: 429, 503
/// or 504.
pub(crate) fn is_retried(status: StatusCode) -> bool {
    matches!(status, StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT)
}

/// Parses a `Retry-After` value in seconds, which Graph may send with a fraction such as
/// `2.128`.
///
/// NOTE: the HTTP-date form of `Retry-After` is not parsed and falls back to the backoff,
/// because Graph documents only seconds.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let seconds: f64 = value.trim().parse().ok()?;
    if !seconds.is_finite() || seconds < 0.0 {
        return None;
    }

    // A finite, non-negative value fails to convert only when it overflows.
    Some(Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX))
}

/// Returns a number in [0, 1) for jitter, without a random number crate. Each
/// `RandomState` gets new SipHash keys, so the hash of nothing differs on every call. This
/// is fine for spreading retries but not for anything secret.
fn random_fraction() -> f64 {
    let bits = RandomState::new().build_hasher().finish() >> 11;
    bits as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_accepts_fractional_seconds() {
        assert_eq!(parse_retry_after("2.128"), Some(Duration::from_millis(2128)));
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("0"), Some(Duration::ZERO));
    }

    #[test]
    fn retry_after_rejects_other_forms() {
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after("NaN"), None);
        assert_eq!(parse_retry_after("inf"), None);
        assert_eq!(parse_retry_after(""), None);
    }

    #[test]
    fn wait_uses_retry_after_up_to_max() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.wait_before(1, Some("2.5")), Duration::from_millis(2500));
        assert_eq!(policy.wait_before(1, Some("3600")), Duration::from_secs(60));
        assert_eq!(policy.wait_before(1, Some("1e300")), Duration::from_secs(60));
    }

    #[test]
    fn backoff_doubles_with_jitter() {
        let policy = RetryPolicy::default();
        for retry in 1..=5u32 {
            let full = Duration::from_secs(1 << (retry - 1));
            for _ in 0..50 {
                let wait = policy.wait_before(retry, None);
                assert!(wait >= full / 2, "retry {retry}: {wait:?} is below half of {full:?}");
                assert!(wait <= full, "retry {retry}: {wait:?} is above {full:?}");
            }
        }
    }

    #[test]
    fn backoff_is_capped() {
        let policy = RetryPolicy::default();
        assert!(policy.wait_before(40, Some("not a number")) <= Duration::from_secs(60));
        assert!(policy.wait_before(u32::MAX, None) <= Duration::from_secs(60));
    }

    #[test]
    fn throttling_statuses_are_retried() {
        for status in [429, 503, 504] {
            assert!(is_retried(StatusCode::from_u16(status).expect("valid status")), "{status}");
        }
        for status in [200, 400, 401, 403, 404, 500, 502] {
            assert!(!is_retried(StatusCode::from_u16(status).expect("valid status")), "{status}");
        }
    }
}
