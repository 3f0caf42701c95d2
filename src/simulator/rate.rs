//! The server's rate-limit algorithms: what HelpCrunch might run, since its docs do not say.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How the simulated server counts requests. Only accepted requests count; a rejected one
/// answers 429 and changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RateLimit {
    /// At most `limit` requests in each window `[k·window, (k+1)·window)` from server start.
    FixedWindow {
        /// Requests per window.
        limit: u32,
        /// The window's length.
        window: Duration,
    },
    /// At most `limit` requests in any `window` ending now (a sliding log).
    SlidingWindow {
        /// Requests per window.
        limit: u32,
        /// The window's length.
        window: Duration,
    },
    /// A leaky bucket with no burst allowance, like nginx's `limit_req` without `burst`: a
    /// request that comes sooner than `interval` after the last accepted one is rejected, even
    /// by a microsecond.
    LeakyBucket {
        /// The least time between two accepted requests.
        interval: Duration,
    },
}

impl RateLimit {
    /// `limit` requests per fixed `window`.
    ///
    /// ```
    /// use helpcrunch_pager::simulator::RateLimit;
    /// use std::time::Duration;
    /// assert_eq!(RateLimit::fixed_window(120, Duration::from_secs(60)).requests_per_minute(), 120.0);
    /// ```
    pub const fn fixed_window(limit: u32, window: Duration) -> Self {
        Self::FixedWindow { limit, window }
    }

    /// `limit` requests per sliding `window`.
    ///
    /// ```
    /// use helpcrunch_pager::simulator::RateLimit;
    /// use std::time::Duration;
    /// assert_eq!(RateLimit::sliding_window(20, Duration::from_secs(1)).requests_per_minute(), 1200.0);
    /// ```
    pub const fn sliding_window(limit: u32, window: Duration) -> Self {
        Self::SlidingWindow { limit, window }
    }

    /// A strict leaky bucket letting `requests_per_minute` through, one every
    /// `60 s / requests_per_minute`.
    ///
    /// ```
    /// use helpcrunch_pager::simulator::RateLimit;
    /// use std::time::Duration;
    /// assert_eq!(RateLimit::leaky_bucket(120), RateLimit::LeakyBucket { interval: Duration::from_millis(500) });
    /// ```
    pub fn leaky_bucket(requests_per_minute: u32) -> Self {
        Self::LeakyBucket {
            interval: Duration::from_secs(60) / requests_per_minute.max(1),
        }
    }

    /// The average rate this limit allows, in requests per minute.
    ///
    /// ```
    /// use helpcrunch_pager::simulator::RateLimit;
    /// assert_eq!(RateLimit::leaky_bucket(600).requests_per_minute(), 600.0);
    /// ```
    pub fn requests_per_minute(&self) -> f64 {
        match *self {
            Self::FixedWindow { limit, window } | Self::SlidingWindow { limit, window } => {
                f64::from(limit) * 60.0 / window.as_secs_f64()
            }
            Self::LeakyBucket { interval } => 60.0 / interval.as_secs_f64(),
        }
    }
}

/// A rate limit's running state.
#[derive(Debug)]
pub(crate) struct RateState {
    pub(super) limit: RateLimit,
    start: Instant,
    /// A fixed window's index, from the server's start.
    pub(super) window_index: u64,
    /// The requests that window has accepted.
    pub(super) window_count: u32,
    /// A sliding window's accepted requests, oldest first.
    pub(super) log: VecDeque<Instant>,
    /// A leaky bucket's last accepted request.
    pub(super) last: Option<Instant>,
}

impl RateState {
    pub(crate) fn new(limit: RateLimit, start: Instant) -> Self {
        Self {
            limit,
            start,
            window_index: 0,
            window_count: 0,
            log: VecDeque::new(),
            last: None,
        }
    }

    /// Accepts a request arriving at `now`, or says how long until one would be accepted.
    pub(crate) fn check(&mut self, now: Instant) -> Result<(), Duration> {
        match self.limit {
            RateLimit::FixedWindow { limit, window } => {
                let index = self.window_at(now, window);
                if index != self.window_index {
                    self.window_index = index;
                    self.window_count = 0;
                }
                if self.window_count < limit {
                    self.window_count += 1;
                    Ok(())
                } else {
                    Err(self
                        .window_end(index, window)
                        .saturating_duration_since(now))
                }
            }
            RateLimit::SlidingWindow { limit, window } => {
                while self
                    .log
                    .front()
                    .is_some_and(|&t| now.saturating_duration_since(t) >= window)
                {
                    self.log.pop_front();
                }
                if self.log.len() < limit as usize {
                    self.log.push_back(now);
                    Ok(())
                } else {
                    // An empty log here means a limit of 0: nothing ever leaves to make room.
                    Err(self
                        .log
                        .front()
                        .map_or(window, |&t| (t + window).saturating_duration_since(now)))
                }
            }
            RateLimit::LeakyBucket { interval } => match self.last {
                Some(last) if now.saturating_duration_since(last) < interval => {
                    Err((last + interval).saturating_duration_since(now))
                }
                _ => {
                    self.last = Some(now);
                    Ok(())
                }
            },
        }
    }

    /// Changes the limit at `now`, carrying over what the requests already accepted mean under
    /// the new one, so that a change is not a free burst: a fixed window keeps its count while
    /// its window runs (windows still counted from the server's start, at the new length), a
    /// sliding window keeps its log, a leaky bucket the time of its last accepted request. A
    /// change of algorithm starts afresh.
    pub(crate) fn set_limit(&mut self, limit: RateLimit, now: Instant) {
        match (self.limit, limit) {
            (RateLimit::FixedWindow { window: old, .. }, RateLimit::FixedWindow { window, .. }) => {
                if self.window_at(now, old) != self.window_index {
                    self.window_count = 0;
                }
                self.window_index = self.window_at(now, window);
            }
            (RateLimit::SlidingWindow { .. }, RateLimit::SlidingWindow { .. })
            | (RateLimit::LeakyBucket { .. }, RateLimit::LeakyBucket { .. }) => {}
            _ => *self = Self::new(limit, self.start),
        }
        self.limit = limit;
    }

    /// The index of the fixed window `now` falls in, counting from the server's start.
    pub(super) fn window_at(&self, now: Instant, window: Duration) -> u64 {
        let since = now.saturating_duration_since(self.start).as_nanos();
        u64::try_from(since / window.as_nanos().max(1)).unwrap_or(u64::MAX)
    }

    /// When the fixed window `index` ends.
    pub(super) fn window_end(&self, index: u64, window: Duration) -> Instant {
        let nanos = window.as_nanos().saturating_mul(u128::from(index) + 1);
        self.start + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn accepted(limit: RateLimit, arrivals_ms: &[u64]) -> Vec<bool> {
        let start = Instant::now();
        let mut state = RateState::new(limit, start);
        arrivals_ms
            .iter()
            .map(|&t| state.check(start + MS * t as u32).is_ok())
            .collect()
    }

    #[test]
    fn a_fixed_window_resets_at_its_boundary() {
        let limit = RateLimit::fixed_window(2, MS * 100);
        assert_eq!(
            accepted(limit, &[0, 10, 20, 99, 100, 150, 160]),
            [true, true, false, false, true, true, false]
        );
    }

    #[test]
    fn a_sliding_window_counts_the_last_window_wherever_it_ends() {
        let limit = RateLimit::sliding_window(2, MS * 100);
        // 90 and 99 fall within 100 ms of 0 and 50; 100 does not include 0 any more.
        assert_eq!(
            accepted(limit, &[0, 50, 90, 100, 120, 150]),
            [true, true, false, true, false, true]
        );
    }

    #[test]
    fn a_leaky_bucket_rejects_anything_early_and_does_not_count_rejections() {
        let limit = RateLimit::LeakyBucket { interval: MS * 100 };
        assert_eq!(
            accepted(limit, &[0, 99, 100, 199, 200, 301]),
            [true, false, true, false, true, true]
        );
    }

    #[test]
    fn a_rejection_says_when_the_next_slot_opens() {
        let start = Instant::now();
        let mut s = RateState::new(RateLimit::fixed_window(1, MS * 100), start);
        s.check(start).unwrap();
        assert_eq!(s.check(start + MS * 30), Err(MS * 70));
        let mut s = RateState::new(RateLimit::LeakyBucket { interval: MS * 100 }, start);
        s.check(start).unwrap();
        assert_eq!(s.check(start + MS * 40), Err(MS * 60));
    }

    /// Feeds `arrivals_ms` to `state`, saying which were accepted.
    fn feed(state: &mut RateState, start: Instant, arrivals_ms: &[u64]) -> Vec<bool> {
        arrivals_ms
            .iter()
            .map(|&t| state.check(start + MS * t as u32).is_ok())
            .collect()
    }

    #[test]
    fn a_fixed_window_keeps_its_count_across_a_change_of_limit() {
        let start = Instant::now();
        let mut s = RateState::new(RateLimit::fixed_window(4, MS * 100), start);
        assert_eq!(feed(&mut s, start, &[0, 10]), [true, true]);
        s.set_limit(RateLimit::fixed_window(2, MS * 100), start + MS * 20);
        assert_eq!(feed(&mut s, start, &[30, 100, 105]), [false, true, true]);
        s.set_limit(RateLimit::fixed_window(4, MS * 100), start + MS * 110);
        assert_eq!(feed(&mut s, start, &[120, 130, 140]), [true, true, false]);
    }

    #[test]
    fn a_fixed_window_of_a_new_length_still_counts_from_the_start() {
        let start = Instant::now();
        let mut s = RateState::new(RateLimit::fixed_window(1, MS * 100), start);
        s.check(start + MS * 150).unwrap();
        // [100, 200) under the old length lies in [0, 200) under the new one: still spent.
        s.set_limit(RateLimit::fixed_window(1, MS * 200), start + MS * 160);
        assert_eq!(s.check(start + MS * 190), Err(MS * 10));
        // A window that ended before the change leaves nothing behind.
        s.set_limit(RateLimit::fixed_window(1, MS * 50), start + MS * 260);
        assert_eq!(feed(&mut s, start, &[270, 280]), [true, false]);
    }

    #[test]
    fn a_sliding_window_keeps_its_log_across_a_change_of_limit() {
        let start = Instant::now();
        let mut s = RateState::new(RateLimit::sliding_window(4, MS * 100), start);
        assert_eq!(feed(&mut s, start, &[0, 10, 20]), [true, true, true]);
        s.set_limit(RateLimit::sliding_window(2, MS * 100), start + MS * 25);
        assert_eq!(s.check(start + MS * 30), Err(MS * 70));
        assert_eq!(
            s.quota(start + MS * 30).remaining,
            0,
            "not three less than none"
        );
        // At 100 the request at 0 has left, but 10 and 20 still fill the halved window.
        assert_eq!(feed(&mut s, start, &[100, 110, 115]), [false, true, false]);
    }

    #[test]
    fn a_leaky_bucket_keeps_its_last_request_across_a_change_of_interval() {
        let start = Instant::now();
        let mut s = RateState::new(RateLimit::LeakyBucket { interval: MS * 100 }, start);
        s.check(start).unwrap();
        s.set_limit(
            RateLimit::LeakyBucket { interval: MS * 200 },
            start + MS * 50,
        );
        assert_eq!(s.check(start + MS * 150), Err(MS * 50));
        assert_eq!(s.check(start + MS * 200), Ok(()));
    }

    #[test]
    fn a_change_of_algorithm_starts_afresh() {
        let start = Instant::now();
        let mut s = RateState::new(RateLimit::fixed_window(1, MS * 100), start);
        s.check(start).unwrap();
        s.set_limit(RateLimit::sliding_window(1, MS * 100), start + MS * 10);
        assert_eq!(feed(&mut s, start, &[20, 30]), [true, false]);
    }

    #[test]
    fn a_sliding_window_of_no_requests_refuses_without_panicking() {
        let start = Instant::now();
        let mut s = RateState::new(RateLimit::sliding_window(0, MS * 100), start);
        assert_eq!(s.check(start), Err(MS * 100));
    }

    #[test]
    fn every_algorithm_reports_its_average_rate() {
        assert_eq!(
            RateLimit::fixed_window(120, Duration::from_secs(6)).requests_per_minute(),
            1200.0
        );
        assert_eq!(RateLimit::leaky_bucket(1200).requests_per_minute(), 1200.0);
    }
}
