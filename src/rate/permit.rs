//! The answer protocol: acquiring the budget yields a [`Permit`], and the permit is settled
//! with the request's answer, its status and headers. Settling is the one place where an
//! answer reaches the budget: the server's rate signals are read, the adaptive rate learns
//! from them, the fleet hears of a 429, and the gate closes where it must. The client's own
//! requests and the middleware's both go through it, so a 429 holds every request back the
//! same way whichever path met it.
//!
//! A 429 settles in two steps, as the retry schedule (which lives with the client) has its
//! say in between: [`Permit::settle`] records it and says what wait the budget asks of a retry
//! ([`Limited::wait`]); [`Limited::hold`] then holds every request back for as long as the
//! retry waits, so that one 429 does not become a burst of them.
//!
//! # Cancellation
//!
//! A permit dropped unsettled (its request cancelled, or never answered: a refused
//! connection, a timeout) leaves the budget as it is. Its slot is spent, as it should be: the
//! request may have reached the server, and the slot is counted in the pace the adaptive rate
//! measures. Nothing else waits on it: the turn was handed on when the permit was granted. A
//! [`Limited`] dropped before [`hold`](Limited::hold) (its retry cancelled) still closes this
//! process's gate for the wait the budget asked: the server's word stands whether or not
//! anyone retries.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use tokio::time::Instant;

use crate::rate::gate::Gate;
use crate::rate::pace::Pace;
use crate::rate::signals::Signals;

/// What an answer updates: the gate, the pace, and the fleet where the budget is shared.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Parts<'a> {
    pub(crate) gate: &'a Gate,
    pub(crate) pace: &'a Pace,
    /// The fleet that shares the budget through Redis, if any.
    #[cfg(feature = "redis")]
    pub(crate) fleet: Option<&'a crate::rate::fleet::Fleet>,
}

impl Parts<'_> {
    /// Holds every request back for `wait`, at most `longest_pause` (or longer, where already
    /// held longer): this process's through the gate, the fleet's through Redis, which also
    /// takes the curve a 429 `cut`, unless another process cut one first.
    #[cfg_attr(not(feature = "redis"), allow(clippy::unused_async, unused_variables))]
    async fn hold(&self, wait: Duration, longest_pause: Duration, cut: Option<(f64, f64)>) {
        let wait = self.gate.close_for(wait, longest_pause);
        #[cfg(feature = "redis")]
        // Apart from Redis the pause is this process's own: a success here would count as
        // coming back, and skip the fleet's calm moment.
        if let Some(fleet) = self.fleet.filter(|f| f.joined()) {
            if wait.is_zero() && cut.is_none() {
                return;
            }
            if let Some(curve) = fleet.limited(wait, cut).await.flatten() {
                self.pace.adopt(Some(curve));
            }
        }
    }
}

/// One request's grant from the budget, to be settled with its answer.
#[derive(Debug)]
#[must_use = "a permit is settled with the request's answer, which the budget learns from"]
pub(crate) struct Permit<'a> {
    sent_at: Instant,
    parts: Parts<'a>,
}

/// A permit settled: what the answer said of the rate limit, and for a 429, the pause still to
/// hold.
#[derive(Debug)]
pub(crate) struct Settled<'a> {
    /// The answer's rate signals (the server's wait among them).
    pub(crate) signals: Signals,
    /// For a 429: the wait the budget asks of a retry, and every request's pause to hold.
    pub(crate) limited: Option<Limited<'a>>,
}

/// A 429, settled: the budget has learned from it; every request is to be held back for as
/// long as the retry waits ([`hold`](Self::hold)).
#[derive(Debug)]
#[must_use = "a 429 holds every request back for as long as its retry waits"]
pub(crate) struct Limited<'a> {
    parts: Parts<'a>,
    wait: Option<Duration>,
    longest_pause: Duration,
    held: bool,
}

impl<'a> Permit<'a> {
    /// The grant of a request that went at `sent_at`, whose answer updates `parts`.
    pub(crate) fn new(sent_at: Instant, parts: Parts<'a>) -> Self {
        Self { sent_at, parts }
    }

    /// Settles the permit with the answer's `status` and `headers`, as soon as they came (its
    /// body need not have). `longest_pause` is the most one signal may hold every request back
    /// for: the retry policy's total wait.
    ///
    /// Any answer but a 429 moves the adaptive rate (a success ends a run of 429s; limit
    /// headers move the ceiling), and a success that says the window is spent closes the gate
    /// until it resets. A 429 cuts the adaptive rate where that is news and holds every
    /// request back (of the fleet, where shared) as long as the server asked, or as the
    /// adaptive rate judges; the [`Limited`] returned holds the rest of the pause.
    pub(crate) async fn settle(
        self,
        status: u16,
        headers: &HeaderMap,
        longest_pause: Duration,
    ) -> Settled<'a> {
        let signals = Signals::read(headers, SystemTime::now());
        let Parts { pace, .. } = self.parts;
        if status != 429 {
            let success = (200..300).contains(&status);
            pace.answered(self.sent_at, &signals, success);
            if let Some(wait) = signals.wait().filter(|_| success && signals.exhausted()) {
                self.parts.hold(wait, longest_pause, None).await;
            }
            return Settled {
                signals,
                limited: None,
            };
        }
        #[cfg(feature = "redis")]
        let fleet_limited = self.parts.fleet.map(|f| f.limited_seq());
        #[cfg(not(feature = "redis"))]
        let fleet_limited = None;
        let wait = match pace.limited(self.sent_at, &signals, longest_pause, fleet_limited) {
            Some(cut) => {
                let wait = signals.wait().map_or(cut.pause, |w| w.max(cut.pause));
                self.parts.hold(wait, longest_pause, cut.to).await;
                Some(wait)
            }
            // A fixed budget leaves the pause to the server's word and the retry's backoff.
            None => signals.wait(),
        };
        // A retry after a 429 waits at least its turn at the budget, and that counts as
        // waiting: a server that answers "retry now" again and again cannot keep a page
        // retrying past the policy's total.
        let wait = wait.map(|w| w.max(pace.interval()));
        Settled {
            signals,
            limited: Some(Limited {
                parts: self.parts,
                wait,
                longest_pause,
                held: false,
            }),
        }
    }
}

impl Limited<'_> {
    /// The wait the budget asks of a retry: the server's, or where the rate adapts the
    /// budget's own judgement if longer, and at least the budget's spacing. `None` where
    /// neither the server nor the budget has a word (a fixed rate, no `Retry-After`): the
    /// retry's backoff decides.
    pub(crate) fn wait(&self) -> Option<Duration> {
        self.wait
    }

    /// Holds every request back (of the fleet, where shared) for `wait`, the retry's wait, or
    /// where it gives up, the wait the next retry would have had: the account is still over
    /// its limit, and the other requests must not run into the same 429.
    pub(crate) async fn hold(mut self, wait: Duration) {
        self.held = true;
        self.parts.hold(wait, self.longest_pause, None).await;
    }
}

impl Drop for Limited<'_> {
    fn drop(&mut self) {
        // Dropped unheld, its retry cancelled: the budget's own part of the pause still
        // stands in this process (the fleet needs a call that a drop cannot make).
        if let Some(wait) = self.wait.filter(|_| !self.held) {
            self.parts.gate.close_for(wait, self.longest_pause);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);
    /// The budget's spacing here: 600 a minute.
    const INTERVAL: Duration = Duration::from_millis(100);

    fn parts<'a>(gate: &'a Gate, pace: &'a Pace) -> Parts<'a> {
        Parts {
            gate,
            pace,
            #[cfg(feature = "redis")]
            fleet: None,
        }
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|&(name, value)| (name.parse().unwrap(), value.parse().unwrap()))
            .collect()
    }

    /// How long the gate stays closed from now (zero where it is open).
    fn closed_for(gate: &Gate) -> Duration {
        gate.closed_until()
            .map_or(Duration::ZERO, |until| until - Instant::now())
    }

    fn fixed() -> Pace {
        Pace::new(INTERVAL, 0.0, None, false)
    }

    async fn settle<'a>(gate: &'a Gate, pace: &'a Pace, status: u16, h: &HeaderMap) -> Settled<'a> {
        Permit::new(Instant::now(), parts(gate, pace))
            .settle(status, h, MINUTE)
            .await
    }

    #[tokio::test]
    async fn a_fixed_rate_asks_a_retry_for_the_servers_wait_and_holds_everyone_for_the_retrys() {
        let (gate, pace) = (Gate::default(), fixed());
        let settled = settle(&gate, &pace, 429, &headers(&[("retry-after", "2")])).await;
        let limited = settled.limited.expect("a 429");
        assert_eq!(limited.wait(), Some(Duration::from_secs(2)));
        // The retry's backoff said three seconds: everyone waits them.
        limited.hold(Duration::from_secs(3)).await;
        let held = closed_for(&gate);
        assert!(held > Duration::from_millis(2_900) && held <= Duration::from_secs(3));
    }

    /// "Retry now" at a fixed rate: the retry still waits the budget's spacing from the 429,
    /// which the middleware's pause once skipped.
    #[tokio::test]
    async fn retry_now_is_at_least_the_budgets_spacing() {
        let (gate, pace) = (Gate::default(), fixed());
        let settled = settle(&gate, &pace, 429, &headers(&[("retry-after", "0")])).await;
        assert_eq!(settled.limited.as_ref().unwrap().wait(), Some(INTERVAL));
    }

    #[tokio::test]
    async fn with_no_word_from_the_server_a_fixed_rate_leaves_the_wait_to_the_backoff() {
        let (gate, pace) = (Gate::default(), fixed());
        let settled = settle(&gate, &pace, 429, &HeaderMap::new()).await;
        let limited = settled.limited.expect("a 429");
        assert_eq!(limited.wait(), None);
        limited.hold(Duration::ZERO).await;
        assert!(!gate.is_closed());
    }

    /// Its request cancelled between the 429 and the pause: the server's wait still stands.
    #[tokio::test]
    async fn a_429_whose_pause_is_never_held_still_closes_the_gate_for_the_wait_asked() {
        let (gate, pace) = (Gate::default(), fixed());
        let settled = settle(&gate, &pace, 429, &headers(&[("retry-after", "2")])).await;
        drop(settled);
        let held = closed_for(&gate);
        assert!(held > Duration::from_millis(1_900) && held <= Duration::from_secs(2));
    }

    /// An adaptive budget holds everyone back at once, for its own judgement of the pause.
    #[tokio::test]
    async fn an_adaptive_429_closes_the_gate_as_it_is_settled() {
        let gate = Gate::default();
        let pace = Pace::new(INTERVAL, 0.0, Some(MINUTE), false);
        let settled = settle(&gate, &pace, 429, &HeaderMap::new()).await;
        assert!(gate.is_closed());
        let wait = settled
            .limited
            .as_ref()
            .unwrap()
            .wait()
            .expect("the budget's own");
        assert!(wait >= INTERVAL, "{wait:?}");
    }

    #[tokio::test]
    async fn a_success_that_says_the_window_is_spent_closes_the_gate_until_it_resets() {
        let (gate, pace) = (Gate::default(), fixed());
        let spent = headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "2")]);
        let settled = settle(&gate, &pace, 200, &spent).await;
        assert!(settled.limited.is_none());
        let held = closed_for(&gate);
        assert!(held > Duration::from_millis(1_900) && held <= Duration::from_secs(2));
        // The same headers on an error say nothing of the window.
        let other = Gate::default();
        settle(&other, &pace, 500, &spent).await;
        assert!(!other.is_closed());
    }

    /// A request cancelled before its answer (or never answered) tells the budget nothing.
    #[tokio::test]
    async fn a_permit_dropped_unsettled_leaves_the_gate_and_the_rate_as_they_were() {
        let gate = Gate::default();
        let pace = Pace::new(INTERVAL, 0.0, Some(MINUTE), false);
        let before = pace.per_minute();
        drop(Permit::new(Instant::now(), parts(&gate, &pace)));
        assert!(!gate.is_closed());
        assert_eq!(pace.per_minute(), before);
    }
}
