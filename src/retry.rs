//! What to retry and how long to wait: the policy ([`RetryPolicy`]) is kept apart from the
//! schedule (backon's exponential backoff, with full jitter) and from the server's own word
//! (`Retry-After`, `X-RateLimit-Reset`), which overrides the schedule when present.

use std::time::{Duration, SystemTime};

use backon::{BackoffBuilder, ExponentialBuilder};

/// When to give up on a page and how long to wait between its attempts.
///
/// Retried: 429, 5xx, truncated bodies, timeouts and connection errors. Never retried: other
/// 4xx (400, 401, 403, 404 cannot succeed by repeating them) and bodies that are not a page.
///
/// The delay before attempt *n + 1* is drawn uniformly from `[0, min(max_delay, min_delay ·
/// 2ⁿ⁻¹)]` ("full jitter"), unless the answer carried `Retry-After` or `X-RateLimit-Reset`, which
/// then decide. Every wait, the server's included, counts towards `max_total_wait`: a wait that
/// would pass it ends the retries at once instead of sleeping first.
///
/// # Default
///
/// - max attempts: 8 (the first request and 7 retries)
/// - min delay: 1 s
/// - max delay: 60 s
/// - max total wait: 5 min
///
/// ```
/// use std::time::Duration;
/// use helpcrunch_pager::RetryPolicy;
///
/// let policy = RetryPolicy::new()
///     .with_max_attempts(5)
///     .with_min_delay(Duration::from_millis(100));
/// assert_eq!(policy.max_attempts(), 5);
/// assert_eq!(policy.max_total_wait(), Duration::from_secs(300));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    min_delay: Duration,
    max_delay: Duration,
    max_total_wait: Duration,
}

impl RetryPolicy {
    /// The default policy (see the `# Default` section).
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = helpcrunch_pager::RetryPolicy::new();
    /// assert_eq!((p.max_attempts(), p.max_total_wait()), (8, Duration::from_secs(300)));
    /// ```
    pub const fn new() -> Self {
        Self {
            max_attempts: 8,
            min_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            max_total_wait: Duration::from_secs(300),
        }
    }

    /// A policy that never retries.
    ///
    /// ```
    /// assert_eq!(helpcrunch_pager::RetryPolicy::never().max_attempts(), 1);
    /// ```
    pub const fn never() -> Self {
        Self::new().with_max_attempts(1)
    }

    /// How many requests a page may take in all, at least 1.
    ///
    /// ```
    /// use helpcrunch_pager::RetryPolicy;
    /// assert_eq!(RetryPolicy::new().with_max_attempts(3).max_attempts(), 3);
    /// assert_eq!(RetryPolicy::new().with_max_attempts(0).max_attempts(), 1);
    /// ```
    pub const fn with_max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = if n == 0 { 1 } else { n };
        self
    }

    /// The ceiling of the first backoff delay, doubled after each failure.
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = helpcrunch_pager::RetryPolicy::new().with_min_delay(Duration::from_millis(250));
    /// ```
    pub const fn with_min_delay(mut self, d: Duration) -> Self {
        self.min_delay = d;
        self
    }

    /// The largest ceiling a computed delay can reach.
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = helpcrunch_pager::RetryPolicy::new().with_max_delay(Duration::from_secs(10));
    /// ```
    pub const fn with_max_delay(mut self, d: Duration) -> Self {
        self.max_delay = d;
        self
    }

    /// The most a page may spend waiting between attempts, the server's `Retry-After` included.
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = helpcrunch_pager::RetryPolicy::new().with_max_total_wait(Duration::from_secs(30));
    /// assert_eq!(p.max_total_wait(), Duration::from_secs(30));
    /// ```
    pub const fn with_max_total_wait(mut self, d: Duration) -> Self {
        self.max_total_wait = d;
        self
    }

    /// How many requests a page may take in all.
    ///
    /// ```
    /// assert_eq!(helpcrunch_pager::RetryPolicy::new().max_attempts(), 8);
    /// ```
    pub const fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The most a page may spend waiting between attempts.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(helpcrunch_pager::RetryPolicy::new().max_total_wait(), Duration::from_secs(300));
    /// ```
    pub const fn max_total_wait(&self) -> Duration {
        self.max_total_wait
    }

    /// The ceilings of the delays, one per retry: backon's exponential schedule, without jitter
    /// (full jitter is drawn beneath each ceiling by [`Schedule`]).
    fn ceilings(&self) -> impl Iterator<Item = Duration> {
        ExponentialBuilder::new()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_attempts.saturating_sub(1) as usize)
            .build()
    }

    pub(crate) fn schedule(&self) -> Schedule {
        Schedule {
            ceilings: Box::new(self.ceilings()),
            waited: Duration::ZERO,
            attempts: 0,
            max_total_wait: self.max_total_wait,
        }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::new()
    }
}

/// One page's progress through its retry policy.
pub(crate) struct Schedule {
    ceilings: Box<dyn Iterator<Item = Duration> + Send>,
    waited: Duration,
    attempts: u32,
    max_total_wait: Duration,
}

impl Schedule {
    /// Records an attempt that failed and says how long to wait before the next, or `None` when
    /// the policy is spent. `server` is the server's own wait (`Retry-After`), which wins over
    /// the computed one but still counts against the total.
    pub(crate) fn next_delay(&mut self, server: Option<Duration>) -> Option<Duration> {
        self.attempts += 1;
        let ceiling = self.ceilings.next()?;
        let delay = server.unwrap_or_else(|| full_jitter(ceiling));
        let waited = self.waited.checked_add(delay)?;
        if waited > self.max_total_wait {
            return None;
        }
        self.waited = waited;
        Some(delay)
    }

    /// Attempts made so far.
    pub(crate) fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Time waited so far.
    pub(crate) fn waited(&self) -> Duration {
        self.waited
    }
}

fn full_jitter(ceiling: Duration) -> Duration {
    ceiling.mul_f64(fastrand::f64())
}

/// Parses `Retry-After`: delta-seconds (`"120"`) or an HTTP-date, relative to `now`. A date in
/// the past means no wait; anything else unreadable is ignored.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use helpcrunch_pager::retry::parse_retry_after;
///
/// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
/// assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
/// assert_eq!(
///     parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
///     Some(Duration::from_secs(30))
/// );
/// assert_eq!(parse_retry_after("soon", now), None);
/// ```
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Parses `X-RateLimit-Reset`, which servers send either as a UNIX time (`"1700000000"`) or as
/// seconds from now (`"30"`): values from 10⁹ on (2001 onwards) are read as a UNIX time.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use helpcrunch_pager::retry::parse_rate_limit_reset;
///
/// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// assert_eq!(parse_rate_limit_reset("30", now), Some(Duration::from_secs(30)));
/// assert_eq!(parse_rate_limit_reset("1700000045", now), Some(Duration::from_secs(45)));
/// assert_eq!(parse_rate_limit_reset("1.5", now), Some(Duration::from_millis(1500)));
/// ```
pub fn parse_rate_limit_reset(value: &str, now: SystemTime) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    if secs >= 1e9 {
        let at = SystemTime::UNIX_EPOCH.checked_add(Duration::try_from_secs_f64(secs).ok()?)?;
        Some(at.duration_since(now).unwrap_or(Duration::ZERO))
    } else {
        Duration::try_from_secs_f64(secs).ok()
    }
}

/// Whether an HTTP status is worth another attempt.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    status == 429 || status == 408 || (500..=599).contains(&status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn delays_stay_under_doubling_ceilings_and_stop_at_max_attempts() {
        let policy = RetryPolicy::new()
            .with_max_attempts(5)
            .with_min_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_millis(300));
        let ceilings: Vec<_> = policy.ceilings().collect();
        // backon multiplies in f32, so compare whole milliseconds.
        assert_eq!(
            ceilings.iter().map(Duration::as_millis).collect::<Vec<_>>(),
            [100, 200, 300, 300],
            "four retries after the first attempt"
        );
        let mut s = policy.schedule();
        for ceiling in &ceilings {
            assert!(s.next_delay(None).unwrap() <= *ceiling);
        }
        assert_eq!(s.next_delay(None), None);
        assert_eq!(s.attempts(), 5);
    }

    #[test]
    fn the_servers_wait_wins_but_counts_against_the_total() {
        let policy = RetryPolicy::new().with_max_total_wait(Duration::from_secs(10));
        let mut s = policy.schedule();
        assert_eq!(
            s.next_delay(Some(Duration::from_secs(6))),
            Some(Duration::from_secs(6))
        );
        assert_eq!(
            s.next_delay(Some(Duration::from_secs(6))),
            None,
            "12 s would pass the 10 s cap"
        );
        assert_eq!(s.waited(), Duration::from_secs(6));
    }

    #[test]
    fn a_policy_that_never_retries_gives_no_delay() {
        assert_eq!(RetryPolicy::never().schedule().next_delay(None), None);
        assert_eq!(RetryPolicy::new().with_max_attempts(0).max_attempts(), 1);
    }

    #[test]
    fn retry_after_dates_in_the_past_mean_now() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after(" 3 ", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("-3", now), None);
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn only_429_408_and_5xx_are_retryable() {
        for s in [429, 408, 500, 502, 503, 504, 599] {
            assert!(is_retryable_status(s), "{s}");
        }
        for s in [200, 400, 401, 403, 404, 422, 600] {
            assert!(!is_retryable_status(s), "{s}");
        }
    }

    proptest! {
        #[test]
        fn retry_after_parsing_never_panics(s in ".{0,64}", t in 0u64..4_000_000_000) {
            let now = SystemTime::UNIX_EPOCH + Duration::from_secs(t);
            let _ = parse_retry_after(&s, now);
            let _ = parse_rate_limit_reset(&s, now);
        }

        #[test]
        fn full_jitter_never_exceeds_its_ceiling(ms in 0u64..10_000_000) {
            let c = Duration::from_millis(ms);
            prop_assert!(full_jitter(c) <= c);
        }
    }
}
