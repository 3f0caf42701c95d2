//! [`Pace`]: the spacing the budget keeps between two requests: the configured one (the
//! ceiling's, never undercut), and where the rate adapts, the adaptive rate's
//! ([`crate::rate::adaptive`]) under it. It owns the adaptive state behind a lock, numbers the
//! grants it measures the pace from, and tells each change of the rate as a tracing event.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

#[cfg(feature = "redis")]
use crate::rate::adaptive::Curve;
use crate::rate::adaptive::{Adaptive, Change, Reason};
use crate::rate::lock::lock;
use crate::rate::signals::Signals;

/// The budget's pace: shared by the slot sources, which grant by it, and the answers, which
/// move it.
#[derive(Debug)]
pub(crate) struct Pace {
    /// The configured spacing, the margin applied.
    configured: Duration,
    /// The rate under the ceiling; `None` keeps the configured rate.
    adaptive: Option<Mutex<Adaptive>>,
    /// Requests granted here, the fleet's count where shared.
    granted: AtomicU64,
}

/// What a 429 did to the adaptive rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Cut {
    /// How long the budget judges every request should wait.
    pub(crate) pause: Duration,
    /// The new curve's rate and level, where the 429 cut one.
    pub(crate) to: Option<(f64, f64)>,
}

impl Pace {
    /// A pace of one request per `configured`; adaptive where the server's `window` is given.
    /// `margin` is the configured rate's safety margin, `in_fleet` whether the grants are
    /// numbered by a fleet (see [`Adaptive::in_fleet`]).
    pub(crate) fn new(
        configured: Duration,
        margin: f64,
        window: Option<Duration>,
        #[cfg_attr(not(feature = "redis"), allow(unused_variables))] in_fleet: bool,
    ) -> Self {
        let adaptive = window.map(|window| {
            #[cfg_attr(not(feature = "redis"), allow(unused_mut))]
            let mut a = Adaptive::new(1.0 / configured.as_secs_f64(), margin, window);
            #[cfg(feature = "redis")]
            if in_fleet {
                a.in_fleet();
            }
            Mutex::new(a)
        });
        Self {
            configured,
            adaptive,
            granted: AtomicU64::new(0),
        }
    }

    /// The configured spacing: the grid a fleet's slots fall on.
    pub(crate) fn configured(&self) -> Duration {
        self.configured
    }

    /// The spacing now: the configured one, or longer while the adaptive rate is under it.
    pub(crate) fn interval(&self) -> Duration {
        match &self.adaptive {
            Some(a) => lock(a).interval(Instant::now()).max(self.configured),
            None => self.configured,
        }
    }

    /// Whether the rate adapts to the server's 429s and limit headers.
    pub(crate) fn is_adaptive(&self) -> bool {
        self.adaptive.is_some()
    }

    /// The rate now and the ceiling, in requests a minute, and how often the rate has changed.
    pub(crate) fn per_minute(&self) -> (f64, f64, u64) {
        match &self.adaptive {
            Some(a) => {
                let a = lock(a);
                let now = Instant::now();
                (a.rate(now) * 60.0, a.ceiling() * 60.0, a.changes())
            }
            None => {
                let configured = 60.0 / self.configured.as_secs_f64();
                (configured, configured, 0)
            }
        }
    }

    /// `count` requests' worth of grants went at `now`: one, or a process's share of the
    /// fleet's where it keeps its schedule apart, so that the pace it measures is the fleet's.
    pub(crate) fn granted(&self, now: Instant, count: u64) {
        let seq = self
            .granted
            .fetch_add(count, Ordering::Relaxed)
            .saturating_add(count);
        self.granted_at(now, seq);
    }

    /// A request went at `now`, the fleet's `seq`th; or one more than the last where Redis
    /// restarted and counts from one again (one grant at a time holds the turn).
    #[cfg(feature = "redis")]
    pub(crate) fn granted_as(&self, now: Instant, seq: u64) {
        let last = self.granted.load(Ordering::Relaxed);
        let seq = seq.max(last.saturating_add(1));
        self.granted.store(seq, Ordering::Relaxed);
        self.granted_at(now, seq);
    }

    fn granted_at(&self, now: Instant, seq: u64) {
        if let Some(a) = &self.adaptive {
            let change = lock(a).granted_as(now, seq);
            tell(change);
        }
    }

    /// Takes the fleet's curve, or none where the fleet's has ended.
    #[cfg(feature = "redis")]
    pub(crate) fn adopt(&self, curve: Option<Curve>) {
        if let Some(a) = &self.adaptive {
            let change = lock(a).adopt(curve, Instant::now());
            tell(change);
        }
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

    /// A request that went at `sent_at` was answered 429: cuts the rate where that is news
    /// (see [`crate::rate::adaptive`]). `fleet_limited`: where in the fleet's grants another
    /// process last met a 429, where the budget is shared. `None` for a budget that does not
    /// adapt, which leaves the wait to the server's word and the retry's backoff.
    pub(crate) fn limited(
        &self,
        sent_at: Instant,
        signals: &Signals,
        longest_pause: Duration,
        #[cfg_attr(not(feature = "redis"), allow(unused_variables))] fleet_limited: Option<u64>,
    ) -> Option<Cut> {
        let a = self.adaptive.as_ref()?;
        let now = Instant::now();
        let (cut, changes) = {
            let mut a = lock(a);
            let header = a.announced(signals.limit, &signals.policies, signals.reset, now);
            #[cfg(feature = "redis")]
            if let Some(seq) = fleet_limited {
                a.fleet_limited(seq, now);
            }
            let before = a.curve();
            let (pause, change) = a.limited(sent_at, now, signals.says_retry_now());
            let to = a
                .curve()
                .filter(|c| Some(*c) != before)
                .map(|c| (c.from, c.level));
            // The budget's own judgement, unlike the server's word, never ends a page's
            // retries by itself: it leaves room for a retry within the policy's total wait.
            let pause = pause.min(longest_pause / 2);
            (Cut { pause, to }, [header, change])
        };
        changes.into_iter().for_each(tell);
        Some(cut)
    }
}

/// The tracing event for a change of the rate.
fn tell(change: Option<Change>) {
    let Some(c) = change else { return };
    let (per_minute, ceiling) = (c.per_second * 60.0, c.ceiling * 60.0);
    match c.reason {
        // A warning: the run goes slower than it was set to, and the user should know why.
        Reason::RateLimited => tracing::warn!(
            rate_per_minute = per_minute,
            ceiling_per_minute = ceiling,
            "rate lowered after a 429"
        ),
        Reason::LimitHeader => tracing::warn!(
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
