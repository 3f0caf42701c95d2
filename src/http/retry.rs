//! What to retry and how long to wait: the policy ([`RetryPolicy`]) is kept apart from the
//! schedule (backon's exponential backoff, with full jitter) and from the server's own word
//! (`Retry-After`, `X-RateLimit-Reset`), which overrides the schedule when present. The
//! server's word is read with the other rate signals; its two parsers are public here.

pub use crate::rate::signals::{parse_rate_limit_reset, parse_retry_after};

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

/// When to give up on a page and how long to wait between its attempts.
///
/// Retried: 429, 5xx, truncated bodies, timeouts and connection errors. Never retried: other
/// 4xx (400, 401, 403, 404 cannot succeed by repeating them) and bodies that are not a page.
///
/// The delay before attempt *n + 1* is drawn uniformly from `[0, min(max_delay, min_delay ·
/// 2ⁿ⁻¹)]` ("full jitter"), unless the answer carried `Retry-After` or `X-RateLimit-Reset`, which
/// then decide. After a 429 with the adaptive budget on (the default), the wait is the budget's
/// own pause for every request of the client, when the server gave none (see
/// [`ClientBuilder::adaptive`](crate::ClientBuilder::adaptive)); it is never more than half
/// the total wait. Every wait, the server's included, counts towards `max_total_wait`, which is
/// what ends a page's retries: a wait that would pass it ends them at once instead of sleeping
/// first, so a server asking for an hour fails the page now rather than freezing the client.
/// The clock counts too, attempts included: from the first attempt, no retry starts later than
/// `max_total_wait`, and a retry waits for its answer no longer than what is left of it (at
/// least a second), so neither a server that keeps answering `Retry-After: 0` (each retry after
/// a 429 counts at least the budget's spacing as waited) nor one that accepts and stays silent
/// can keep a page retrying for longer. The first attempt to a host that has answered before is
/// bounded by the HTTP client's timeout alone; to a host that has never answered since the
/// client was built, by the first contact, which also bounds the page's retries. Time queued
/// for the rate budget is not counted. `max_total_wait` is also the longest the client ever
/// holds all its requests back for one rate-limit signal.
///
/// # Default
///
/// - max attempts: no limit of its own ([`u32::MAX`]): the total wait bounds it
/// - min delay: 1 s
/// - max delay: 60 s
/// - max total wait: 5 min
/// - first contact: 15 s
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
///
/// The `with_*` methods return a new policy and change nothing in place: one whose result is
/// dropped is a warning (here made an error).
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// let policy = helpcrunch_pager::RetryPolicy::new();
/// policy.with_max_attempts(3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a retry policy does nothing until it is given to `ClientBuilder::retry_policy`"]
pub struct RetryPolicy {
    max_attempts: u32,
    min_delay: Duration,
    max_delay: Duration,
    max_total_wait: Duration,
    first_contact: Duration,
}

/// The shortest time an attempt is given, however little of the total is left: a request
/// needs a moment to be answered at all.
const MIN_ATTEMPT: Duration = Duration::from_secs(1);

impl RetryPolicy {
    /// The default policy (see the `# Default` section).
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = helpcrunch_pager::RetryPolicy::new();
    /// assert_eq!((p.max_attempts(), p.max_total_wait()), (u32::MAX, Duration::from_secs(300)));
    /// ```
    pub const fn new() -> Self {
        Self {
            max_attempts: u32::MAX,
            min_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            max_total_wait: Duration::from_secs(300),
            first_contact: Duration::from_secs(15),
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

    /// How many requests a page may take in all, at least 1, for a caller who wants a count on
    /// top of the total wait (by default there is none).
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

    /// The ceiling of the first backoff delay, doubled after each failure. With a zero min delay
    /// the computed waits are all zero and never add up to the total wait: only a server's wait
    /// or [`with_max_attempts`](Self::with_max_attempts) then ends a page's retries.
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

    /// The most a page may spend retrying, from its first attempt: the waits between attempts
    /// (the server's `Retry-After` included) and the attempts after the first themselves.
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

    /// The most a request may spend on a host that has not answered once since the client was
    /// built (a refused connection, a name that does not resolve, a server that accepts and
    /// stays silent), attempts included: a wrong base URL fails in seconds, not minutes. Once
    /// the host has answered anything, [`max_total_wait`](Self::max_total_wait) alone
    /// applies. Never more than the total wait.
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = helpcrunch_pager::RetryPolicy::new().with_first_contact(Duration::from_secs(5));
    /// assert_eq!(p.first_contact(), Duration::from_secs(5));
    /// ```
    pub const fn with_first_contact(mut self, d: Duration) -> Self {
        self.first_contact = d;
        self
    }

    /// The most a request may spend on a host that has never answered (see
    /// [`with_first_contact`](Self::with_first_contact)).
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(helpcrunch_pager::RetryPolicy::new().first_contact(), Duration::from_secs(15));
    /// ```
    pub const fn first_contact(&self) -> Duration {
        self.first_contact
    }

    /// How many requests a page may take in all ([`u32::MAX`], no limit of its own, unless set).
    ///
    /// ```
    /// assert_eq!(helpcrunch_pager::RetryPolicy::new().max_attempts(), u32::MAX);
    /// ```
    pub const fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The most a page may spend retrying, and the longest the client holds back for one
    /// rate-limit signal.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(helpcrunch_pager::RetryPolicy::new().max_total_wait(), Duration::from_secs(300));
    /// ```
    pub const fn max_total_wait(&self) -> Duration {
        self.max_total_wait
    }

    /// The ceilings of the delays, one per retry, without end: backon's exponential schedule,
    /// without jitter (full jitter is drawn beneath each ceiling by [`Schedule`]). The attempts
    /// are counted by [`Schedule`], so that it can still say what the next delay would have been
    /// once they run out.
    fn ceilings(&self) -> impl Iterator<Item = Duration> {
        ExponentialBuilder::new()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .without_max_times()
            .build()
    }

    pub(crate) fn schedule(&self) -> Schedule {
        Schedule {
            ceilings: Box::new(self.ceilings()),
            policy: *self,
            waited: Duration::ZERO,
            attempts: 0,
            started: None,
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
    policy: RetryPolicy,
    waited: Duration,
    attempts: u32,
    /// When the first attempt was sent (moved on by the time since spent queued for the rate
    /// budget): the total is kept against the clock from then, attempts included, so that
    /// neither waits of zero (`Retry-After: 0`, a date in the past) nor attempts that time out
    /// can retry for longer than the policy says.
    started: Option<tokio::time::Instant>,
}

/// What follows a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Wait this long, then try again.
    Retry(Duration),
    /// The policy is spent. After a 429 the rest of the client should still hold back for
    /// `hold`: the server's wait, or the delay the schedule would have drawn, never more than
    /// the policy's total wait.
    GiveUp { hold: Duration },
}

impl Schedule {
    /// Records that an attempt is about to be sent, after `queued` spent waiting for the rate
    /// budget: that wait is the budget's, not the request's retrying, and stays off the clock.
    pub(crate) fn sending(&mut self, queued: Duration) {
        match &mut self.started {
            Some(start) => *start = start.checked_add(queued).unwrap_or(*start),
            None => self.started = Some(tokio::time::Instant::now()),
        }
    }

    /// The most the attempt about to be sent may wait for an answer (its status and headers),
    /// on top of the HTTP client's own timeout. `None`, the client's timeout alone, for the
    /// first attempt to a host that has answered before: the total is for retrying, and a slow
    /// but healthy first answer is not cut by it. The first attempt to a host that has never
    /// answered has the first contact; a retry has what is left of the policy's time, at
    /// least a second. `answered`: whether the host has answered anything since the client
    /// was built.
    pub(crate) fn attempt_limit(&self, answered: bool) -> Option<Duration> {
        match (self.attempts, answered) {
            (0, true) => None,
            (0, false) => Some(self.policy.first_contact.max(MIN_ATTEMPT)),
            _ => Some(
                self.limit(answered)
                    .saturating_sub(self.elapsed())
                    .max(MIN_ATTEMPT),
            ),
        }
    }

    /// Records an attempt that failed and says what follows. `server` is the server's own wait
    /// (`Retry-After`), which wins over the computed one but still counts against the total;
    /// `answered` says whether the host has answered anything since the client was built.
    pub(crate) fn after_failure(&mut self, server: Option<Duration>, answered: bool) -> Next {
        self.attempts = self.attempts.saturating_add(1);
        // backon's schedule without max_times never ends; max_delay stands in should it.
        let ceiling = self.ceilings.next().unwrap_or(self.policy.max_delay);
        let delay = server.unwrap_or_else(|| full_jitter(ceiling));
        let hold = delay.min(self.policy.max_total_wait);
        if self.attempts >= self.policy.max_attempts {
            return Next::GiveUp { hold };
        }
        // A failure with no send recorded (none is made without one) starts the clock.
        let start = *self.started.get_or_insert_with(tokio::time::Instant::now);
        let elapsed = start.elapsed();
        match self.waited.checked_add(delay) {
            Some(waited)
                if waited <= self.policy.max_total_wait
                    && elapsed.saturating_add(delay) <= self.limit(answered) =>
            {
                self.waited = waited;
                Next::Retry(delay)
            }
            _ => Next::GiveUp { hold },
        }
    }

    /// Time on the clock since the first attempt was sent.
    fn elapsed(&self) -> Duration {
        self.started.map_or(Duration::ZERO, |s| s.elapsed())
    }

    /// How long the page may take in all: the total wait, or for a host that has never
    /// answered, the first contact's time if that is shorter.
    fn limit(&self, answered: bool) -> Duration {
        if answered {
            self.policy.max_total_wait
        } else {
            self.policy.max_total_wait.min(self.policy.first_contact)
        }
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
    // `mul_f64` panics where f64 rounding takes a ceiling near `Duration::MAX` past it.
    Duration::try_from_secs_f64(ceiling.as_secs_f64() * fastrand::f64()).unwrap_or(ceiling)
}

/// Whether an HTTP status is worth another attempt.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    status == 429 || status == 408 || (500..=599).contains(&status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn delays_stay_under_doubling_ceilings_and_stop_at_max_attempts() {
        let policy = RetryPolicy::new()
            .with_max_attempts(5)
            .with_min_delay(ms(100))
            .with_max_delay(ms(300));
        let ceilings: Vec<_> = policy.ceilings().take(5).collect();
        // backon multiplies in f32, so compare whole milliseconds.
        assert_eq!(
            ceilings.iter().map(Duration::as_millis).collect::<Vec<_>>(),
            [100, 200, 300, 300, 300]
        );
        let mut s = policy.schedule();
        for ceiling in &ceilings[..4] {
            assert!(matches!(s.after_failure(None, true), Next::Retry(d) if d <= *ceiling));
        }
        assert!(
            matches!(s.after_failure(None, true), Next::GiveUp { hold } if hold <= ms(300)),
            "four retries after the first attempt, then the delay it would have drawn"
        );
        assert_eq!(s.attempts(), 5);
    }

    #[test]
    fn the_servers_wait_wins_but_counts_against_the_total() {
        let policy = RetryPolicy::new().with_max_total_wait(Duration::from_secs(10));
        let mut s = policy.schedule();
        let six = Some(Duration::from_secs(6));
        assert_eq!(
            s.after_failure(six, true),
            Next::Retry(Duration::from_secs(6))
        );
        assert_eq!(
            s.after_failure(six, true),
            Next::GiveUp {
                hold: Duration::from_secs(6)
            },
            "12 s would pass the 10 s cap"
        );
        assert_eq!(s.waited(), Duration::from_secs(6));
    }

    #[test]
    fn a_server_wait_past_the_total_gives_up_at_once_and_holds_no_longer_than_the_total() {
        let policy = RetryPolicy::new().with_max_total_wait(Duration::from_secs(10));
        let mut s = policy.schedule();
        assert_eq!(
            s.after_failure(Some(Duration::MAX), true),
            Next::GiveUp {
                hold: Duration::from_secs(10)
            }
        );
        assert_eq!((s.attempts(), s.waited()), (1, Duration::ZERO));
    }

    #[test]
    fn a_policy_that_never_retries_still_says_how_long_to_hold() {
        let mut s = RetryPolicy::never().schedule();
        assert!(
            matches!(s.after_failure(None, true), Next::GiveUp { hold } if hold <= Duration::from_secs(1))
        );
        let mut s = RetryPolicy::never().schedule();
        assert_eq!(
            s.after_failure(Some(Duration::from_secs(2)), true),
            Next::GiveUp {
                hold: Duration::from_secs(2)
            }
        );
        assert_eq!(RetryPolicy::new().with_max_attempts(0).max_attempts(), 1);
    }

    #[test]
    fn by_default_the_total_wait_not_a_count_ends_a_page() {
        let policy = RetryPolicy::new()
            .with_min_delay(ms(1))
            .with_max_delay(ms(4))
            .with_max_total_wait(ms(100));
        let mut s = policy.schedule();
        while let Next::Retry(_) = s.after_failure(None, true) {
            assert!(s.attempts() < 100_000, "the total wait never ended it");
        }
        assert!(s.attempts() > 8, "ended after {} attempts", s.attempts());
        assert!(s.waited() <= ms(100));
    }

    #[test]
    fn the_last_of_u32_max_attempts_gives_up_without_overflow() {
        let mut s = RetryPolicy::new().with_min_delay(ms(1)).schedule();
        s.attempts = u32::MAX - 2;
        assert!(matches!(s.after_failure(None, true), Next::Retry(_)));
        assert!(matches!(s.after_failure(None, true), Next::GiveUp { .. }));
        assert!(matches!(s.after_failure(None, true), Next::GiveUp { .. }));
        assert_eq!(s.attempts(), u32::MAX);
    }

    #[test]
    fn backons_schedule_runs_on_without_end_or_overflow() {
        let policy = RetryPolicy::new();
        assert_eq!(
            policy.ceilings().nth(100_000),
            Some(Duration::from_secs(60))
        );
        let unbounded = RetryPolicy::new().with_max_delay(Duration::MAX);
        assert_eq!(unbounded.ceilings().nth(2_000), Some(Duration::MAX));
    }

    #[tokio::test(start_paused = true)]
    async fn waits_of_zero_end_when_the_clock_passes_the_total() {
        let mut s = RetryPolicy::new()
            .with_max_total_wait(Duration::from_secs(1))
            .schedule();
        let mut retries = 0;
        while let Next::Retry(_) = s.after_failure(Some(Duration::ZERO), true) {
            retries += 1;
            assert!(retries < 1_000, "a zero wait never ends the retries");
            tokio::time::advance(Duration::from_millis(30)).await;
        }
        assert_eq!(retries, 34, "one attempt every 30 ms for a second");
    }

    #[tokio::test(start_paused = true)]
    async fn time_queued_for_the_budget_is_not_retrying_time() {
        let mut s = RetryPolicy::new()
            .with_max_total_wait(Duration::from_secs(1))
            .schedule();
        assert!(matches!(
            s.after_failure(Some(Duration::ZERO), true),
            Next::Retry(_)
        ));
        // Held back five minutes behind a 429's pause, then failing again: still retried.
        tokio::time::advance(Duration::from_secs(300)).await;
        s.sending(Duration::from_secs(300));
        assert!(matches!(
            s.after_failure(Some(Duration::ZERO), true),
            Next::Retry(_)
        ));
    }

    /// Fails attempts that each take what they are given (a silent server), until the policy
    /// gives up, and says how long that took.
    async fn silent_until_given_up(policy: RetryPolicy, answered: bool) -> Duration {
        let start = tokio::time::Instant::now();
        let mut s = policy.schedule();
        loop {
            s.sending(Duration::ZERO);
            let timeout = Duration::from_secs(30);
            let took = s
                .attempt_limit(answered)
                .map_or(timeout, |l| l.min(timeout));
            tokio::time::advance(took).await;
            match s.after_failure(None, answered) {
                Next::Retry(delay) => tokio::time::advance(delay).await,
                Next::GiveUp { .. } => return start.elapsed(),
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_host_that_never_answered_fails_within_the_first_contact() {
        let took = silent_until_given_up(RetryPolicy::new(), false).await;
        assert_eq!(took, Duration::from_secs(15), "a silent host, by default");
        // The total is for retrying: it does not cut the first attempt short.
        let five = RetryPolicy::new().with_max_total_wait(Duration::from_secs(5));
        let took = silent_until_given_up(five, false).await;
        assert_eq!(took, Duration::from_secs(15), "with 5 s of retrying asked");
        let two = RetryPolicy::new().with_first_contact(Duration::from_secs(2));
        let took = silent_until_given_up(two, false).await;
        assert_eq!(took, Duration::from_secs(2), "with a first contact of 2 s");
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_count_against_the_total() {
        // A host that answered before goes silent: the first attempt has its whole timeout,
        // and no retry starts after the 5 s asked for have passed.
        let five = RetryPolicy::new().with_max_total_wait(Duration::from_secs(5));
        let took = silent_until_given_up(five, true).await;
        assert_eq!(took, Duration::from_secs(30));
        let mut s = five.schedule();
        s.sending(Duration::ZERO);
        tokio::time::advance(Duration::from_secs(4)).await;
        assert!(matches!(
            s.after_failure(Some(Duration::ZERO), true),
            Next::Retry(_)
        ));
        s.sending(Duration::ZERO);
        assert_eq!(
            s.attempt_limit(true),
            Some(Duration::from_secs(1)),
            "a retry has what is left of the total"
        );
        assert_eq!(five.schedule().attempt_limit(true), None);
        assert_eq!(
            five.schedule().attempt_limit(false),
            Some(Duration::from_secs(15))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_host_that_answered_before_is_retried_for_the_whole_total() {
        let took = silent_until_given_up(RetryPolicy::new(), true).await;
        assert!(
            took > Duration::from_secs(240) && took <= Duration::from_secs(330),
            "{took:?}"
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
        fn full_jitter_never_exceeds_its_ceiling(ms in 0u64..10_000_000, secs in any::<u64>()) {
            let c = Duration::from_millis(ms);
            prop_assert!(full_jitter(c) <= c);
            let c = Duration::from_secs(secs);
            prop_assert!(full_jitter(c) <= c);
            prop_assert!(full_jitter(Duration::MAX) <= Duration::MAX);
        }

        #[test]
        fn no_wait_or_hold_passes_the_total_wait(
            server in prop::collection::vec(prop::option::of(any::<u64>()), 1..20),
            total_ms in 0u64..1_000_000,
        ) {
            let total = Duration::from_millis(total_ms);
            let mut s = RetryPolicy::new().with_max_total_wait(total).schedule();
            for secs in server {
                match s.after_failure(secs.map(Duration::from_secs), true) {
                    Next::Retry(_) => prop_assert!(s.waited() <= total),
                    Next::GiveUp { hold } => {
                        prop_assert!(hold <= total);
                        break;
                    }
                }
            }
        }
    }
}
