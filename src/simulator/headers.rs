//! The rate-limit headers many APIs send and HelpCrunch does not document: what the rate limit
//! tells a client about its window, and how that is written.

use std::time::{Duration, Instant};

use super::rate::{RateLimit, RateState};

/// Where a client stands in the rate limit's window, just after a request was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Quota {
    /// The requests a window allows (1 for a leaky bucket).
    pub(crate) limit: u32,
    /// The requests left in the current window after this one.
    pub(crate) remaining: u32,
    /// How long until the window frees the next request.
    pub(crate) reset: Duration,
    /// The window's length (a leaky bucket's interval).
    pub(crate) window: Duration,
}

impl Quota {
    /// `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` and
    /// `RateLimit-Policy`, as names and values.
    pub(crate) fn headers(&self) -> [(&'static str, String); 4] {
        [
            ("x-ratelimit-limit", self.limit.to_string()),
            ("x-ratelimit-remaining", self.remaining.to_string()),
            ("x-ratelimit-reset", seconds_to_the_millisecond(self.reset)),
            ("ratelimit-policy", self.policy()),
        ]
    }
}

impl Quota {
    /// `RateLimit-Policy`: its window `w` is whole seconds, so the quota `q` is the limit
    /// scaled to that window, rounded down: 20 per 50 ms reads `q=400;w=1`, a leaky bucket of
    /// one per 50 ms `q=20;w=1`. Rounding down understates the rate, the safe side.
    fn policy(&self) -> String {
        let w = whole_seconds(self.window);
        let q = u128::from(self.limit) * w * 1_000_000_000 / self.window.as_nanos().max(1);
        format!("\"default\";q={q};w={w}")
    }
}

impl RateState {
    /// What the limit tells a client at `now`, just after it has checked a request.
    pub(crate) fn quota(&self, now: Instant) -> Quota {
        match self.limit {
            RateLimit::FixedWindow { limit, window } => {
                let index = self.window_at(now, window);
                let used = if index == self.window_index {
                    self.window_count
                } else {
                    0
                };
                Quota {
                    limit,
                    remaining: limit.saturating_sub(used),
                    reset: self
                        .window_end(index, window)
                        .saturating_duration_since(now),
                    window,
                }
            }
            RateLimit::SlidingWindow { limit, window } => {
                let mut live = self
                    .log
                    .iter()
                    .skip_while(|&&t| now.saturating_duration_since(t) >= window);
                let oldest = live.next();
                let used = oldest.map_or(0, |_| live.count() + 1);
                Quota {
                    limit,
                    remaining: limit.saturating_sub(u32::try_from(used).unwrap_or(u32::MAX)),
                    reset: oldest.map_or(Duration::ZERO, |&t| {
                        (t + window).saturating_duration_since(now)
                    }),
                    window,
                }
            }
            RateLimit::LeakyBucket { interval } => {
                let next = self.last.map_or(now, |last| last + interval);
                Quota {
                    limit: 1,
                    remaining: u32::from(next <= now),
                    reset: next.saturating_duration_since(now),
                    window: interval,
                }
            }
        }
    }
}

/// Seconds with three decimals, rounded up: the tests' windows last a few seconds, and a
/// client that waits what it is told must not arrive a fraction of a millisecond early, which a
/// strict leaky bucket refuses.
fn seconds_to_the_millisecond(d: Duration) -> String {
    let ms = d.as_nanos().div_ceil(1_000_000);
    format!("{}.{:03}", ms / 1_000, ms % 1_000)
}

/// Whole seconds, rounded up and at least 1, as a policy's `w` has them.
fn whole_seconds(d: Duration) -> u128 {
    d.as_nanos().div_ceil(1_000_000_000).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn quota(limit: u32, remaining: u32, reset_ms: u32, window_ms: u32) -> Quota {
        Quota {
            limit,
            remaining,
            reset: MS * reset_ms,
            window: MS * window_ms,
        }
    }

    #[test]
    fn a_fixed_window_reports_what_is_left_until_its_end() {
        let start = Instant::now();
        let mut s = RateState::new(RateLimit::fixed_window(3, MS * 100), start);
        s.check(start + MS * 120).unwrap();
        assert_eq!(s.quota(start + MS * 120), quota(3, 2, 80, 100));
        s.check(start + MS * 130).unwrap();
        s.check(start + MS * 140).unwrap();
        assert!(s.check(start + MS * 150).is_err());
        assert_eq!(s.quota(start + MS * 150), quota(3, 0, 50, 100));
        assert_eq!(
            s.quota(start + MS * 210),
            quota(3, 3, 90, 100),
            "a new window"
        );
    }

    #[test]
    fn a_sliding_window_reports_when_its_oldest_request_leaves() {
        let start = Instant::now();
        let mut s = RateState::new(RateLimit::sliding_window(2, MS * 100), start);
        s.check(start + MS * 10).unwrap();
        assert_eq!(s.quota(start + MS * 10), quota(2, 1, 100, 100));
        s.check(start + MS * 60).unwrap();
        assert!(s.check(start + MS * 90).is_err());
        assert_eq!(s.quota(start + MS * 90), quota(2, 0, 20, 100));
        assert_eq!(
            s.quota(start + MS * 130),
            quota(2, 1, 30, 100),
            "10 has left"
        );
    }

    #[test]
    fn a_leaky_bucket_reports_one_request_a_slot_and_none_left_after_it() {
        let start = Instant::now();
        let mut s = RateState::new(RateLimit::LeakyBucket { interval: MS * 100 }, start);
        assert_eq!(s.quota(start), quota(1, 1, 0, 100));
        s.check(start).unwrap();
        assert_eq!(s.quota(start), quota(1, 0, 100, 100));
        assert!(s.check(start + MS * 30).is_err());
        assert_eq!(s.quota(start + MS * 30), quota(1, 0, 70, 100));
    }

    fn headers(remaining: u32, reset: Duration, window: Duration) -> Vec<(&'static str, String)> {
        let quota = Quota {
            limit: 20,
            remaining,
            reset,
            window,
        };
        quota.headers().to_vec()
    }

    fn value(headers: &[(&'static str, String)], name: &str) -> String {
        headers.iter().find(|(n, _)| *n == name).unwrap().1.clone()
    }

    #[test]
    fn every_header_is_written_as_clients_read_it() {
        let h = headers(7, Duration::from_millis(2_345), Duration::from_secs(60));
        assert_eq!(
            h,
            [
                ("x-ratelimit-limit", "20".to_owned()),
                ("x-ratelimit-remaining", "7".to_owned()),
                ("x-ratelimit-reset", "2.345".to_owned()),
                ("ratelimit-policy", "\"default\";q=20;w=60".to_owned()),
            ]
        );
    }

    #[test]
    fn the_reset_rounds_up_to_the_millisecond() {
        let reset = |d| value(&headers(0, d, Duration::from_secs(1)), "x-ratelimit-reset");
        assert_eq!(reset(Duration::ZERO), "0.000");
        assert_eq!(reset(Duration::from_nanos(1)), "0.001");
        assert_eq!(reset(Duration::from_micros(2_345_001)), "2.346");
        assert_eq!(reset(Duration::from_secs(61)), "61.000");
    }

    #[test]
    fn the_policy_window_is_whole_seconds_rounded_up_and_never_zero() {
        let policy = |w| value(&headers(0, Duration::ZERO, w), "ratelimit-policy");
        // The quota scaled to the whole seconds: the rate it tells is the limit's, or under.
        assert_eq!(policy(Duration::from_millis(50)), "\"default\";q=400;w=1");
        assert_eq!(policy(Duration::from_millis(1_500)), "\"default\";q=26;w=2");
        assert_eq!(policy(Duration::from_secs(3)), "\"default\";q=20;w=3");
    }
}
