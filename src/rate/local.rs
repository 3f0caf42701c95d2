//! [`Local`]: the slot source of a budget kept in this process: a governor GCRA limiter at
//! the configured rate with no burst (the ceiling, never exceeded), and the adaptive spacing
//! under it.
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

use governor::clock::DefaultClock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::time::Instant;

use crate::rate::gate::Gate;
use crate::rate::lock::lock;
use crate::rate::pace::Pace;
use crate::rate::turns::{Aside, Turn};

type Limiter = RateLimiter<NotKeyed, InMemoryState, DefaultClock, NoOpMiddleware>;

/// This process's own slots.
#[derive(Debug)]
pub(crate) struct Local {
    limiter: Limiter,
    /// When the adaptive rate lets the next request go: GCRA's theoretical arrival time, so
    /// that a timer waking a millisecond late does not push every later request back too.
    next_slot: Mutex<Option<Instant>>,
    /// How late a grant may be counted from its slot rather than from when it went: half the
    /// margin, so two requests are never closer than the server's own spacing.
    slack: Duration,
}

impl Local {
    /// One request per `interval` (the configured rate's, `margin` applied), burst one; `None`
    /// for an interval governor cannot keep (zero).
    pub(crate) fn new(interval: Duration, margin: f64) -> Option<Self> {
        let quota = Quota::with_period(interval)?;
        Some(Self {
            limiter: RateLimiter::direct(quota),
            next_slot: Mutex::new(None),
            slack: interval.mul_f64(margin / (1.0 + margin) / 2.0),
        })
    }

    /// Waits, with `turn` held, until `gate` is open, the adaptive spacing of `pace` has passed
    /// and the limiter grants one request; returns when the request went.
    pub(crate) async fn slot(&self, turn: &mut Turn<'_>, gate: &Gate, pace: &Pace) -> Instant {
        loop {
            gate.opened().await;
            if pace.interval() > pace.configured() {
                let next = *lock(&self.next_slot);
                if let Some(next) = next.filter(|&next| next > Instant::now()) {
                    // Woken, the rate may have been cut meanwhile: look again.
                    let until = tokio::time::sleep_until(next);
                    turn.wait_or_step_aside(until, Aside::Alternate).await;
                    continue;
                }
            }
            // A grant is taken only when the wait is over: one given up takes none.
            let ready = self.limiter.until_ready();
            if !turn.wait_or_step_aside(ready, Aside::Alternate).await {
                continue;
            }
            // A 429 may have closed the gate while this request queued at the limiter; its
            // grant is spent, but sending now would be the very burst the gate exists to stop.
            if gate.is_closed() {
                continue;
            }
            let now = Instant::now();
            {
                let mut slot = lock(&self.next_slot);
                // A grant late by no more than the slack counts from its slot.
                let from = match *slot {
                    Some(s) if s + self.slack >= now => s,
                    _ => now,
                };
                *slot = from.checked_add(pace.interval());
            }
            pace.granted(now, 1);
            return now;
        }
    }
}
