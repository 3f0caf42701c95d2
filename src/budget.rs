//! The rate budget every request of a [`Client`](crate::Client) draws from: a governor GCRA
//! limiter with no burst at the configured rate (the ceiling, never exceeded), a small safety
//! margin, the adaptive rate ([`crate::adaptive`]) under it, and a gate that a 429 closes for
//! everyone.
//!
//! # Why no burst, and why a margin
//!
//! governor's `Quota::per_minute(120)` allows a burst of 120 at once. A server that counts in a
//! fixed minute would take that burst, but one that counts in a sliding minute would see up to
//! 240 in a row across a window boundary, and a leaky bucket without burst allowance (nginx's
//! `limit_req` with `burst=0`) rejects any request that comes sooner than 500 ms after the last
//! one it took. So the budget is one request per interval with a burst of one: it never has
//! more than one request "in credit", which satisfies all three algorithms at once.
//!
//! The interval is stretched by a margin (default 2 %: 120/min becomes one request every
//! 510 ms, 117.6/min) because the server measures arrivals, not departures: two requests sent
//! exactly 500 ms apart can arrive 499 ms apart when the first is delayed on the way, and a
//! strict leaky bucket would reject the second. The margin absorbs that much jitter while
//! keeping at least 98 % of the allowed rate.

use std::sync::Mutex;
use std::time::Duration;

use crate::adaptive::{Adaptive, Change, Reason};
use crate::signals::Signals;
use governor::clock::DefaultClock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::time::Instant;

use crate::error::Error;

type Limiter = RateLimiter<NotKeyed, InMemoryState, DefaultClock, NoOpMiddleware>;

/// What tokio itself takes for "never" (its `Instant::far_future`): thirty years, which an
/// `Instant` can always hold, so a pause can end no later than this.
const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// The default safety margin: 2 % slower than the account's limit.
pub(crate) const DEFAULT_MARGIN: f64 = 0.02;

pub(crate) struct Budget {
    limiter: Limiter,
    /// Requests take their turn at the limiter first come, first served (tokio's mutex is
    /// fair). governor alone grants whichever waiter wakes first, so a scan's oldest window
    /// could lose round after round while later ones finish and fill the stream's buffer, and
    /// the scan would stall for a whole server latency.
    queue: tokio::sync::Mutex<()>,
    interval: Duration,
    /// The retry policy's total wait: a server may ask for any wait, but the client holds
    /// back no longer than a page would retry.
    longest_pause: Duration,
    paused_until: Mutex<Option<Instant>>,
    /// The rate under the ceiling; `None` keeps the configured rate.
    adaptive: Option<Mutex<Adaptive>>,
    /// When the adaptive rate lets the next request go: GCRA's theoretical arrival time, so
    /// that a timer waking a millisecond late does not push every later request back too.
    next_slot: Mutex<Option<Instant>>,
    /// How late a grant may be counted from its slot rather than from when it went: half the
    /// margin, so two requests are never closer than the server's own spacing.
    slack: Duration,
}

/// The rate a budget keeps now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rate {
    pub(crate) per_minute: f64,
    pub(crate) ceiling_per_minute: f64,
    pub(crate) changes: u64,
}

impl Budget {
    /// One request per `60 s / requests_per_minute · (1 + margin)`, burst one; no pause longer
    /// than `longest_pause`.
    pub(crate) fn new(
        requests_per_minute: u32,
        margin: f64,
        longest_pause: Duration,
        adaptive_window: Option<Duration>,
    ) -> Result<Self, Error> {
        if requests_per_minute == 0 {
            return Err(Error::InvalidInput(
                "requests_per_minute must be at least 1 (HelpCrunch's default limit is 120)".into(),
            ));
        }
        if !(0.0..=0.5).contains(&margin) {
            return Err(Error::InvalidInput(format!(
                "rate margin {margin} is out of range: use a fraction from 0.0 to 0.5"
            )));
        }
        let interval = Self::interval_for(requests_per_minute, margin);
        let quota = Quota::with_period(interval).ok_or_else(|| {
            Error::InvalidInput(format!(
                "requests_per_minute {requests_per_minute} is too high"
            ))
        })?;
        let adaptive = adaptive_window
            .map(|window| Mutex::new(Adaptive::new(1.0 / interval.as_secs_f64(), margin, window)));
        Ok(Self {
            limiter: RateLimiter::direct(quota),
            queue: tokio::sync::Mutex::new(()),
            interval,
            longest_pause,
            paused_until: Mutex::new(None),
            adaptive,
            next_slot: Mutex::new(None),
            slack: interval.mul_f64(margin / (1.0 + margin) / 2.0),
        })
    }

    fn interval_for(requests_per_minute: u32, margin: f64) -> Duration {
        Duration::from_secs(60)
            .div_f64(f64::from(requests_per_minute))
            .mul_f64(1.0 + margin)
    }

    /// The spacing between two requests now.
    pub(crate) fn interval(&self) -> Duration {
        match &self.adaptive {
            Some(a) => lock(a).interval(Instant::now()).max(self.interval),
            None => self.interval,
        }
    }

    /// The rate kept now, the ceiling, and how often the rate has changed.
    pub(crate) fn rate(&self) -> Rate {
        let configured = 60.0 / self.interval.as_secs_f64();
        match &self.adaptive {
            Some(a) => {
                let a = lock(a);
                Rate {
                    per_minute: a.rate(Instant::now()) * 60.0,
                    ceiling_per_minute: a.ceiling() * 60.0,
                    changes: a.changes(),
                }
            }
            None => Rate {
                per_minute: configured,
                ceiling_per_minute: configured,
                changes: 0,
            },
        }
    }

    /// Whether the rate adapts to the server's 429s and limit headers.
    pub(crate) fn is_adaptive(&self) -> bool {
        self.adaptive.is_some()
    }

    /// Waits, in turn, until the gate is open, the adaptive spacing has passed and the limiter
    /// grants one request; returns when the request went.
    pub(crate) async fn acquire(&self) -> Instant {
        let _turn = self.queue.lock().await;
        loop {
            if let Some(until) = self.paused_until() {
                tokio::time::sleep_until(until).await;
                continue;
            }
            if let Some(next) = self.next_slot() {
                if next > Instant::now() {
                    // Woken, the rate may have been cut meanwhile: look again.
                    tokio::time::sleep_until(next).await;
                    continue;
                }
            }
            self.limiter.until_ready().await;
            // A 429 may have closed the gate while this request queued at the limiter; its
            // grant is spent, but sending now would be the very burst the gate exists to stop.
            if self.paused_until().is_none() {
                let now = Instant::now();
                if let Some(a) = &self.adaptive {
                    let change = {
                        let mut a = lock(a);
                        let mut slot = lock(&self.next_slot);
                        // A grant late by no more than the slack counts from its slot.
                        let from = match *slot {
                            Some(s) if s + self.slack >= now => s,
                            _ => now,
                        };
                        *slot = from.checked_add(a.interval(now));
                        a.granted(now)
                    };
                    tell(change);
                }
                return now;
            }
        }
    }

    /// When the adaptive rate lets the next request go.
    fn next_slot(&self) -> Option<Instant> {
        let adaptive = self.adaptive.as_ref()?;
        // At the configured rate governor alone keeps the spacing, as without adaptation.
        if lock(adaptive).interval(Instant::now()) <= self.interval {
            return None;
        }
        *lock(&self.next_slot)
    }

    /// A request that went at `sent_at` was answered, not 429: what the server said of its
    /// limit moves the ceiling, and a success ends a run of 429s.
    pub(crate) fn answered(&self, sent_at: Instant, signals: &Signals, success: bool) {
        let Some(a) = &self.adaptive else { return };
        let now = Instant::now();
        let change = {
            let mut a = lock(a);
            if success {
                a.succeeded(sent_at, now);
            }
            a.announced(signals.limit, &signals.policies, signals.reset, now)
        };
        // Told with no lock held: a subscriber may well ask the client for its stats.
        tell(change);
    }

    /// A request that went at `sent_at` was answered 429, the server asking for a wait in its
    /// `signals` where it said. Holds every request back as long as the server asked (at most the
    /// longest pause), or as the adaptive budget judges (see [`crate::adaptive`]); returns the
    /// wait asked for, which the page's retry policy weighs: a server's wait longer than the
    /// policy allows ends the page at once.
    pub(crate) fn rate_limited(&self, sent_at: Instant, signals: &Signals) -> Duration {
        let Some(a) = &self.adaptive else {
            return Duration::ZERO;
        };
        let now = Instant::now();
        let (own, changes) = {
            let mut a = lock(a);
            let header = a.announced(signals.limit, &signals.policies, signals.reset, now);
            let (pause, cut) = a.limited(sent_at, now);
            // The budget's own judgement, unlike the server's word, never ends a page's
            // retries by itself: it leaves room for a retry within the policy's total wait.
            (pause.min(self.longest_pause / 2), [header, cut])
        };
        changes.into_iter().for_each(tell);
        let wait = signals.wait().map_or(own, |w| w.max(own));
        self.pause_for(wait);
        wait
    }

    /// Holds every request of the client back for `wait`, at most the longest pause, or longer
    /// if already paused longer.
    pub(crate) fn pause_for(&self, wait: Duration) {
        let until = Instant::now() + wait.min(self.longest_pause).min(FAR_FUTURE);
        let mut paused = lock(&self.paused_until);
        if paused.is_none_or(|p| p < until) {
            *paused = Some(until);
        }
    }

    fn paused_until(&self) -> Option<Instant> {
        let paused = lock(&self.paused_until);
        paused.filter(|&until| until > Instant::now())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The tracing event for a change of the rate.
fn tell(change: Option<Change>) {
    let Some(c) = change else { return };
    let (per_minute, ceiling) = (c.per_second * 60.0, c.ceiling * 60.0);
    match c.reason {
        Reason::RateLimited => tracing::info!(
            rate_per_minute = per_minute,
            ceiling_per_minute = ceiling,
            "rate lowered after a 429"
        ),
        Reason::LimitHeader => tracing::info!(
            rate_per_minute = per_minute,
            ceiling_per_minute = ceiling,
            "rate ceiling set by the server's limit headers"
        ),
        Reason::Recovering => tracing::debug!(
            rate_per_minute = per_minute,
            ceiling_per_minute = ceiling,
            "rate climbing back"
        ),
    }
}

impl std::fmt::Debug for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budget")
            .field("interval", &self.interval)
            .field("adaptive", &self.adaptive.is_some())
            .field("paused_until", &self.paused_until())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn the_interval_is_the_limit_stretched_by_the_margin() {
        assert_eq!(Budget::interval_for(120, 0.0), Duration::from_millis(500));
        assert_eq!(Budget::interval_for(120, 0.02), Duration::from_millis(510));
        assert_eq!(Budget::interval_for(1200, 0.02), Duration::from_millis(51));
    }

    #[test]
    fn zero_rate_and_silly_margins_are_refused() {
        assert!(Budget::new(0, 0.02, MINUTE, None).is_err());
        assert!(Budget::new(120, -0.1, MINUTE, None).is_err());
        assert!(Budget::new(120, 0.9, MINUTE, None).is_err());
        assert!(Budget::new(120, f64::NAN, MINUTE, None).is_err());
    }

    #[tokio::test]
    async fn grants_are_spaced_by_the_interval_with_no_burst() {
        let budget = Budget::new(6_000, 0.0, MINUTE, None).unwrap(); // one per 10 ms
        let start = std::time::Instant::now();
        for _ in 0..11 {
            budget.acquire().await;
        }
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_millis(100),
            "11 grants took only {elapsed:?}"
        );
    }

    #[tokio::test]
    async fn a_pause_holds_back_the_next_grant() {
        let budget = Budget::new(60_000, 0.0, MINUTE, None).unwrap();
        budget.acquire().await;
        budget.pause_for(Duration::from_millis(80));
        budget.pause_for(Duration::from_millis(10)); // a shorter pause does not shorten it
        let start = std::time::Instant::now();
        budget.acquire().await;
        assert!(
            start.elapsed() >= Duration::from_millis(80),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test]
    async fn no_pause_outlasts_the_longest_pause_however_long_the_wait() {
        let budget = Budget::new(60_000, 0.0, Duration::from_millis(60), None).unwrap();
        budget.pause_for(Duration::MAX);
        let start = std::time::Instant::now();
        budget.acquire().await;
        let took = start.elapsed();
        assert!(took < Duration::from_secs(2), "{took:?}");
        assert!(
            took >= Duration::from_millis(50),
            "{took:?}: the pause was skipped"
        );
    }

    #[test]
    fn a_wait_no_instant_can_hold_pauses_without_overflow() {
        let budget = Budget::new(120, 0.0, Duration::MAX, None).unwrap();
        budget.pause_for(Duration::MAX);
        let until = budget.paused_until().expect("paused");
        assert!(until > Instant::now() + FAR_FUTURE - MINUTE);
    }
}
