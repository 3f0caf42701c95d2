//! The rate budget every request of a [`Client`](crate::Client) draws from: a governor GCRA
//! limiter with no burst at the configured rate (the ceiling, never exceeded), a small safety
//! margin, the adaptive rate ([`crate::rate::adaptive`]) under it, and a gate that a 429 closes for
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

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use crate::rate::adaptive::{Adaptive, Change, Reason};
use crate::rate::signals::Signals;
use governor::clock::DefaultClock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::time::Instant;

use crate::error::Error;
use crate::rate::priority::Priority;
use crate::rate::turns::{Aside, Turn, Turns};

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
    ///
    /// They queue in two lanes ([`Priority`]): interactive calls ahead of a scan's windows,
    /// taking turns with them while both wait.
    turns: Turns,
    interval: Duration,
    paused_until: Mutex<Option<Instant>>,
    /// The rate under the ceiling; `None` keeps the configured rate.
    adaptive: Option<Mutex<Adaptive>>,
    /// When the adaptive rate lets the next request go: GCRA's theoretical arrival time, so
    /// that a timer waking a millisecond late does not push every later request back too.
    next_slot: Mutex<Option<Instant>>,
    /// How late a grant may be counted from its slot rather than from when it went: half the
    /// margin, so two requests are never closer than the server's own spacing.
    slack: Duration,
    /// How this budget was made: a client built with other settings for the same account is
    /// told that the first one's hold.
    settings: Settings,
    /// The budget shared through Redis with every process on the key.
    #[cfg(feature = "redis")]
    fleet: Option<crate::rate::fleet::Fleet>,
    /// Requests granted here, the fleet's count where shared.
    granted: std::sync::atomic::AtomicU64,
}

/// What a budget is made from.
#[derive(Clone, PartialEq)]
pub(crate) struct Settings {
    pub(crate) requests_per_minute: u32,
    pub(crate) margin: f64,
    /// The server's window, where the rate adapts.
    pub(crate) adaptive_window: Option<Duration>,
    /// The Redis that shares the budget between processes.
    pub(crate) redis_url: Option<String>,
}

/// The rate a budget keeps now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rate {
    pub(crate) per_minute: f64,
    pub(crate) ceiling_per_minute: f64,
    pub(crate) changes: u64,
    /// Processes last seen sharing the budget through Redis; 0 where it is not shared.
    pub(crate) processes: u32,
    /// Whether Redis answered the last call.
    pub(crate) redis_connected: bool,
}

impl Budget {
    /// The budget of the account of `api_key` at `base_url`: the one a live client of this
    /// process already draws from, or a new one. The registry holds a hash of the key and URL,
    /// never the key, and weak references, so a budget goes with its last client.
    pub(crate) fn for_account(
        api_key: &str,
        base_url: &str,
        settings: Settings,
    ) -> Result<Arc<Self>, Error> {
        static REGISTRY: OnceLock<Mutex<HashMap<u64, Weak<Budget>>>> = OnceLock::new();
        static HASHER: OnceLock<RandomState> = OnceLock::new();
        // One account however its URL is written (`HTTP://…`, a default port): the URL as
        // parsed, where it parses.
        let url = reqwest::Url::parse(base_url).map_or_else(|_| base_url.to_owned(), String::from);
        let url = url.trim_end_matches('/');
        let account = HASHER
            .get_or_init(RandomState::new)
            .hash_one((api_key, url));
        let mut registry = lock(REGISTRY.get_or_init(Default::default));
        if let Some(budget) = registry.get(&account).and_then(Weak::upgrade) {
            let redis = |s: &Settings| {
                s.redis_url
                    .as_deref()
                    .map(|u| u.trim().trim_end_matches('/').to_owned())
            };
            if redis(&budget.settings) != redis(&settings) {
                return Err(Error::InvalidInput(
                    "a live client of this process on the same key and base URL shares its \
                     budget through another Redis, or through none: build them alike (the \
                     limit is the account's, and one process keeps one budget for it)"
                        .into(),
                ));
            }
            if budget.settings != settings {
                tracing::warn!(
                    "a client was built with rate settings other than those of a live client on \
                     the same key and base URL; both share the first one's budget"
                );
            }
            return Ok(budget);
        }
        let budget = Arc::new(Self::new(api_key, url, settings)?);
        registry.retain(|_, b| b.strong_count() > 0);
        registry.insert(account, Arc::downgrade(&budget));
        Ok(budget)
    }

    /// One request per `60 s / requests_per_minute · (1 + margin)`, burst one.
    pub(crate) fn new(
        #[cfg_attr(not(feature = "redis"), allow(unused_variables))] api_key: &str,
        #[cfg_attr(not(feature = "redis"), allow(unused_variables))] base_url: &str,
        settings: Settings,
    ) -> Result<Self, Error> {
        let Settings {
            requests_per_minute,
            margin,
            adaptive_window,
            ..
        } = settings;
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
        #[cfg(feature = "redis")]
        let fleet = settings
            .redis_url
            .as_deref()
            .map(|url| {
                let window = adaptive_window.unwrap_or(Duration::from_secs(60));
                crate::rate::fleet::Fleet::new(url, api_key, base_url, window)
            })
            .transpose()?;
        #[cfg(not(feature = "redis"))]
        if settings.redis_url.is_some() {
            return Err(Error::InvalidInput(
                "a budget shared through Redis needs the crate's `redis` feature".into(),
            ));
        }
        let adaptive = adaptive_window.map(|window| {
            #[cfg_attr(not(feature = "redis"), allow(unused_mut))]
            let mut a = Adaptive::new(1.0 / interval.as_secs_f64(), margin, window);
            #[cfg(feature = "redis")]
            if fleet.is_some() {
                a.in_fleet();
            }
            Mutex::new(a)
        });
        Ok(Self {
            limiter: RateLimiter::direct(quota),
            turns: Turns::default(),
            interval,
            paused_until: Mutex::new(None),
            adaptive,
            next_slot: Mutex::new(None),
            slack: interval.mul_f64(margin / (1.0 + margin) / 2.0),
            settings,
            #[cfg(feature = "redis")]
            fleet,
            granted: Default::default(),
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

    /// The rate kept now, the ceiling, how often the rate has changed, and who shares it.
    pub(crate) fn rate(&self) -> Rate {
        let configured = 60.0 / self.interval.as_secs_f64();
        #[cfg(feature = "redis")]
        let (processes, redis_connected) = self
            .fleet
            .as_ref()
            .map_or((0, false), |f| (f.members(), f.joined()));
        #[cfg(not(feature = "redis"))]
        let (processes, redis_connected) = (0, false);
        let (per_minute, ceiling_per_minute, changes) = match &self.adaptive {
            Some(a) => {
                let a = lock(a);
                (
                    a.rate(Instant::now()) * 60.0,
                    a.ceiling() * 60.0,
                    a.changes(),
                )
            }
            None => (configured, configured, 0),
        };
        Rate {
            per_minute,
            ceiling_per_minute,
            changes,
            processes,
            redis_connected,
        }
    }

    /// Whether the rate adapts to the server's 429s and limit headers.
    pub(crate) fn is_adaptive(&self) -> bool {
        self.adaptive.is_some()
    }

    /// Waits, in turn, until the gate is open, the adaptive spacing has passed and the limiter
    /// grants one request (or, shared through Redis, the fleet's slot has come); returns when
    /// the request went. Fails only where the Redis of a shared budget refused it for good (a
    /// wrong password, say): going on unshared would put every process at the full rate.
    pub(crate) async fn acquire(&self, lane: Priority) -> Result<Instant, Error> {
        // Holding the turn while asleep until a fleet's slot keeps one slot a process at most:
        // the fleet takes turns process by process, however many streams each runs.
        let mut turn = self.turns.take(lane).await;
        loop {
            if let Some(until) = self.paused_until() {
                tokio::time::sleep_until(until).await;
                continue;
            }
            #[cfg(feature = "redis")]
            if let Some(fleet) = &self.fleet {
                let (interval, grid) = (self.interval(), self.interval);
                // Refused (a wrong password, say): fail, but for once a second, when Redis is
                // asked again below in case it was mended.
                let refused = match fleet.refused() {
                    Some(refused) if !fleet.worth_asking() => return Err(refused),
                    refused => refused.is_some(),
                };
                if !refused && fleet.apart() && fleet.worth_asking() {
                    // Back in touch? The fleet then keeps its schedule apart a little longer,
                    // until every process has had the chance to come back too.
                    if let Some(curve) = fleet.rejoin(interval, grid).await {
                        self.adopt(curve);
                    }
                    if let Some(refused) = fleet.refused() {
                        return Err(refused);
                    }
                }
                let apart = (!refused)
                    .then(|| fleet.slot_apart(interval, grid))
                    .flatten();
                if let Some(at) = apart {
                    wake_at(at).await;
                    if self.paused_until().is_some() {
                        continue;
                    }
                    let now = Instant::now();
                    fleet.sent(at, true);
                    // Apart from its fleet, a process numbers its grants as its share of the
                    // fleet's, so that the pace it measures is still the fleet's.
                    let share = u64::from(fleet.members_apart());
                    let seq = self
                        .granted
                        .fetch_add(share, Ordering::Relaxed)
                        .saturating_add(share);
                    self.granted_at(now, seq);
                    return Ok(now);
                }
                if fleet.worth_asking() {
                    let reserved = fleet.reserve(interval, grid, lane).await;
                    if let Some(refused) = fleet.refused() {
                        return Err(refused);
                    }
                    let Some(slot) = reserved else {
                        // Redis is away: the schedule apart, or, knowing no fleet, alone.
                        if fleet.apart() {
                            continue;
                        }
                        tracing::trace!("no fleet known: the local budget alone");
                        return self.acquire_local(&mut turn, lane).await;
                    };
                    if let Some(curve) = slot.curve {
                        self.adopt(curve);
                    }
                    if slot.deferred {
                        // The fleet's interactive calls first. This process's own go ahead
                        // meanwhile, this request keeping its place in line.
                        // Deferred for the other lane: a background request lets this
                        // process's interactive calls go meanwhile; an interactive one, told
                        // to leave the slot to the background line, lets this process's
                        // background request go where it is first in that line.
                        let aside = match lane {
                            Priority::Background => Aside::Fleet {
                                head: fleet.head_of_line(),
                            },
                            _ if fleet.head_of_line() => Aside::ForHead,
                            _ => Aside::Never,
                        };
                        let until = tokio::time::sleep_until(slot.at);
                        self.wait_in_lane(until, &mut turn, lane, aside).await;
                        continue;
                    }
                    wake_at(slot.at).await;
                    if self.paused_until().is_some() {
                        // A 429 came while this slot waited: it is given up, not used.
                        continue;
                    }
                    let now = Instant::now();
                    fleet.sent(slot.at, false);
                    // The fleet's number, or one more than the last where Redis restarted
                    // and counts from one again (one acquire at a time holds the turn).
                    let last = self.granted.load(Ordering::Relaxed);
                    let seq = slot.seq.max(last.saturating_add(1));
                    self.granted.store(seq, Ordering::Relaxed);
                    self.granted_at(now, seq);
                    return Ok(now);
                }
            }
            return self.acquire_local(&mut turn, lane).await;
        }
    }

    /// The local budget: the governor limiter at the configured rate, and the adaptive spacing
    /// under it. Called with `turn` held.
    async fn acquire_local<'t>(
        &'t self,
        turn: &mut Turn<'t>,
        lane: Priority,
    ) -> Result<Instant, Error> {
        loop {
            if let Some(until) = self.paused_until() {
                tokio::time::sleep_until(until).await;
                continue;
            }
            if self.interval() > self.interval {
                let next = *lock(&self.next_slot);
                if let Some(next) = next {
                    if next > Instant::now() {
                        // Woken, the rate may have been cut meanwhile: look again.
                        let until = tokio::time::sleep_until(next);
                        self.wait_in_lane(until, turn, lane, Aside::Alternate).await;
                        continue;
                    }
                }
            }
            // A grant is taken only when the wait is over: one given up takes none.
            let ready = self.limiter.until_ready();
            if !self.wait_in_lane(ready, turn, lane, Aside::Alternate).await {
                continue;
            }
            // A 429 may have closed the gate while this request queued at the limiter; its
            // grant is spent, but sending now would be the very burst the gate exists to stop.
            if self.paused_until().is_none() {
                let now = Instant::now();
                {
                    let mut slot = lock(&self.next_slot);
                    // A grant late by no more than the slack counts from its slot.
                    let from = match *slot {
                        Some(s) if s + self.slack >= now => s,
                        _ => now,
                    };
                    *slot = from.checked_add(self.interval());
                }
                let seq = self
                    .granted
                    .fetch_add(1, Ordering::Relaxed)
                    .saturating_add(1);
                self.granted_at(now, seq);
                #[cfg(feature = "redis")]
                if let Some(fleet) = &self.fleet {
                    fleet.sent(now, false);
                }
                return Ok(now);
            }
        }
    }

    /// Waits for `wait` with `turn` held, stepping aside meanwhile where `aside` lets the
    /// request (for an interactive one of this process, say), to take the turn back after it,
    /// first in its lane. Returns whether `wait` was over.
    async fn wait_in_lane<'t>(
        &'t self,
        wait: impl std::future::Future,
        turn: &mut Turn<'t>,
        lane: Priority,
        aside: Aside,
    ) -> bool {
        let wait = std::pin::pin!(wait);
        let other = std::pin::pin!(self.turns.may_step_aside(lane, aside));
        match futures::future::select(wait, other).await {
            futures::future::Either::Left(_) => true,
            futures::future::Either::Right(_) => {
                self.turns.step_aside(turn, lane).await;
                false
            }
        }
    }

    fn granted_at(&self, now: Instant, seq: u64) {
        if let Some(a) = &self.adaptive {
            let change = lock(a).granted_as(now, seq);
            tell(change);
        }
    }

    /// Takes the fleet's curve.
    #[cfg(feature = "redis")]
    fn adopt(&self, curve: Option<crate::rate::fleet::Curve>) {
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

    /// A request that went at `sent_at` was answered 429, the server asking for a wait in its
    /// `signals` where it said. Holds every request back (of the fleet, where shared) as long as
    /// the server asked, or as the adaptive budget judges (see [`crate::rate::adaptive`]), at most
    /// `longest_pause`, the retry policy's total wait; returns the wait asked for, which the
    /// page's retry policy weighs: a server's wait longer than the policy allows ends the page
    /// at once.
    pub(crate) async fn rate_limited(
        &self,
        sent_at: Instant,
        signals: &Signals,
        longest_pause: Duration,
    ) -> Duration {
        let Some(a) = &self.adaptive else {
            return Duration::ZERO;
        };
        let now = Instant::now();
        let (own, changes, cut) = {
            let mut a = lock(a);
            let header = a.announced(signals.limit, &signals.policies, signals.reset, now);
            #[cfg(feature = "redis")]
            if let Some(fleet) = &self.fleet {
                a.fleet_limited(fleet.limited_seq(), now);
            }
            let before = a.curve();
            let (pause, change) = a.limited(sent_at, now, signals.says_retry_now());
            let cut = a
                .curve()
                .filter(|c| Some(*c) != before)
                .map(|(_, from, level)| (from, level));
            // The budget's own judgement, unlike the server's word, never ends a page's
            // retries by itself: it leaves room for a retry within the policy's total wait.
            (pause.min(longest_pause / 2), [header, change], cut)
        };
        changes.into_iter().for_each(tell);
        let wait = signals.wait().map_or(own, |w| w.max(own));
        self.hold(wait, longest_pause, cut).await;
        wait
    }

    /// Holds every request of the client (and of the fleet, where shared) back for `wait`, at
    /// most `longest_pause`, or longer if already paused longer.
    pub(crate) async fn pause_for(&self, wait: Duration, longest_pause: Duration) {
        self.hold(wait, longest_pause, None).await;
    }

    #[cfg_attr(not(feature = "redis"), allow(clippy::unused_async, unused_variables))]
    async fn hold(&self, wait: Duration, longest_pause: Duration, cut: Option<(f64, f64)>) {
        let wait = wait.min(longest_pause).min(FAR_FUTURE);
        let until = Instant::now() + wait;
        {
            let mut paused = lock(&self.paused_until);
            if paused.is_none_or(|p| p < until) {
                *paused = Some(until);
            }
        }
        #[cfg(feature = "redis")]
        // Apart from Redis the pause is this process's own: a success here would count as
        // coming back, and skip the fleet's calm moment.
        if let Some(fleet) = self.fleet.as_ref().filter(|f| f.joined()) {
            if wait.is_zero() && cut.is_none() {
                return;
            }
            if let Some(curve) = fleet.limited(wait, cut).await.flatten() {
                self.adopt(Some(curve));
            }
        }
    }

    fn paused_until(&self) -> Option<Instant> {
        let paused = lock(&self.paused_until);
        paused.filter(|&until| until > Instant::now())
    }
}

/// Returns at `at`, not a millisecond after: tokio's timer wakes on whole milliseconds, late by
/// up to one, and in a fleet one process's lateness is the next process's earliness (its slot
/// comes a fixed interval after). So the last stretch is spent yielding: at most
/// [`SPIN`] a request, 0.2 % of a core at 120 requests a minute. A slot that is due costs
/// nothing.
#[cfg(feature = "redis")]
async fn wake_at(at: Instant) {
    if let Some(early) = at.checked_sub(SPIN) {
        if early > Instant::now() {
            tokio::time::sleep_until(early).await;
        }
    }
    // Counted on the system's clock: a test's paused tokio clock would never get there.
    let left = at.saturating_duration_since(Instant::now()).min(SPIN);
    let until = std::time::Instant::now() + left;
    while std::time::Instant::now() < until {
        tokio::task::yield_now().await;
    }
}

/// How long before a fleet's slot [`wake_at`] stops sleeping and starts yielding.
#[cfg(feature = "redis")]
const SPIN: Duration = Duration::from_micros(1_500);

/// A lock that a panic elsewhere did not poison for good: the state it guards stays usable.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
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

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("requests_per_minute", &self.requests_per_minute)
            .field("margin", &self.margin)
            .field("adaptive_window", &self.adaptive_window)
            // The URL may carry a password.
            .field("redis", &self.redis_url.as_ref().map(|_| "<redacted>"))
            .finish()
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

    fn budget(requests_per_minute: u32, margin: f64) -> Result<Budget, Error> {
        let settings = Settings {
            requests_per_minute,
            margin,
            adaptive_window: None,
            redis_url: None,
        };
        Budget::new("key", "http://127.0.0.1:9/v1", settings)
    }

    #[test]
    fn the_interval_is_the_limit_stretched_by_the_margin() {
        assert_eq!(Budget::interval_for(120, 0.0), Duration::from_millis(500));
        assert_eq!(Budget::interval_for(120, 0.02), Duration::from_millis(510));
        assert_eq!(Budget::interval_for(1200, 0.02), Duration::from_millis(51));
    }

    #[test]
    fn zero_rate_and_silly_margins_are_refused() {
        assert!(budget(0, 0.02).is_err());
        assert!(budget(120, -0.1).is_err());
        assert!(budget(120, 0.9).is_err());
        assert!(budget(120, f64::NAN).is_err());
    }

    #[tokio::test]
    async fn grants_are_spaced_by_the_interval_with_no_burst() {
        let budget = budget(6_000, 0.0).unwrap(); // one per 10 ms
        let start = std::time::Instant::now();
        for _ in 0..11 {
            budget.acquire(Priority::Background).await.unwrap();
        }
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_millis(100),
            "11 grants took only {elapsed:?}"
        );
    }

    #[tokio::test]
    async fn a_pause_holds_back_the_next_grant() {
        let budget = budget(60_000, 0.0).unwrap();
        budget.acquire(Priority::Background).await.unwrap();
        budget.pause_for(Duration::from_millis(80), MINUTE).await;
        budget.pause_for(Duration::from_millis(10), MINUTE).await; // a shorter pause does not shorten it
        let start = std::time::Instant::now();
        budget.acquire(Priority::Background).await.unwrap();
        assert!(
            start.elapsed() >= Duration::from_millis(80),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test]
    async fn no_pause_outlasts_the_longest_pause_however_long_the_wait() {
        let budget = budget(60_000, 0.0).unwrap();
        budget
            .pause_for(Duration::MAX, Duration::from_millis(60))
            .await;
        let start = std::time::Instant::now();
        budget.acquire(Priority::Background).await.unwrap();
        let took = start.elapsed();
        assert!(took < Duration::from_secs(2), "{took:?}");
        assert!(
            took >= Duration::from_millis(50),
            "{took:?}: the pause was skipped"
        );
    }

    #[tokio::test]
    async fn a_wait_no_instant_can_hold_pauses_without_overflow() {
        let budget = budget(120, 0.0).unwrap();
        budget.pause_for(Duration::MAX, Duration::MAX).await;
        let until = budget.paused_until().expect("paused");
        assert!(until > Instant::now() + FAR_FUTURE - MINUTE);
    }

    fn settings(requests_per_minute: u32) -> Settings {
        Settings {
            requests_per_minute,
            margin: 0.02,
            adaptive_window: Some(MINUTE),
            redis_url: None,
        }
    }

    #[test]
    fn clients_of_one_account_share_one_budget_that_goes_with_the_last() {
        let url = "http://127.0.0.1:9/registry-test";
        let first = Budget::for_account("key-a", url, settings(120)).unwrap();
        let again = Budget::for_account("key-a", url, settings(120)).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        // Other settings join the first budget (with a warning): the limit is the account's.
        let other = Budget::for_account("key-a", url, settings(600)).unwrap();
        assert!(Arc::ptr_eq(&first, &other));
        let other_key = Budget::for_account("key-b", url, settings(120)).unwrap();
        assert!(!Arc::ptr_eq(&first, &other_key));
        let other_url = Budget::for_account("key-a", "http://127.0.0.1:9/elsewhere", settings(120));
        assert!(!Arc::ptr_eq(&first, &other_url.unwrap()));
        let written_otherwise =
            Budget::for_account("key-a", "HTTP://127.0.0.1:9/registry-test/", settings(120))
                .unwrap();
        assert!(Arc::ptr_eq(&first, &written_otherwise));
        let weak = Arc::downgrade(&first);
        drop((first, again, other, written_otherwise));
        assert!(
            weak.upgrade().is_none(),
            "the registry kept the budget alive"
        );
        let fresh = Budget::for_account("key-a", url, settings(600)).unwrap();
        assert_eq!(fresh.settings.requests_per_minute, 600);
    }
}

/// A real `redis-server` for the tests below, as the integration tests start it.
#[cfg(all(test, feature = "redis"))]
#[path = "../../tests/support/redis.rs"]
#[allow(dead_code, unreachable_pub)]
mod redis_server;

/// The lanes of a budget shared through Redis, with several budgets of one test standing for
/// the processes of a fleet (each `Budget::new` is a process of its own to Redis).
#[cfg(all(test, feature = "redis"))]
mod fleet_lanes {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// The tests take turns: each measures timing on a busy machine.
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    fn process(redis: &redis_server::RedisServer, rpm: u32) -> Arc<Budget> {
        let settings = Settings {
            requests_per_minute: rpm,
            margin: 0.02,
            adaptive_window: None,
            redis_url: Some(redis.url()),
        };
        Arc::new(Budget::new("key", "http://127.0.0.1:9/v1", settings).unwrap())
    }

    /// Takes grants in `lane` until aborted, counting them.
    fn keep_asking(
        budget: &Arc<Budget>,
        lane: Priority,
        count: &Arc<AtomicUsize>,
    ) -> tokio::task::JoinHandle<()> {
        let (budget, count) = (budget.clone(), count.clone());
        tokio::spawn(async move {
            loop {
                budget.acquire(lane).await.unwrap();
                count.fetch_add(1, Ordering::Relaxed);
            }
        })
    }

    /// More background processes than the line's grace covers in a round (24 at 51 ms is
    /// 1.2 s, the grace 1.1 s): each still gets its turns, about as often as the others. A
    /// place once lapsed by when the process first waited, and a live process starved.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_background_process_of_a_large_fleet_gets_its_turns() {
        let _turn = ONE_AT_A_TIME.lock().await;
        let Some(redis) = redis_server::RedisServer::start("large fleet") else {
            return;
        };
        let n = 24;
        let counts: Vec<Arc<AtomicUsize>> = (0..n).map(|_| Arc::default()).collect();
        let tasks: Vec<_> = counts
            .iter()
            .map(|count| keep_asking(&process(&redis, 1_200), Priority::Background, count))
            .collect();
        tokio::time::sleep(Duration::from_secs(6)).await;
        tasks.iter().for_each(|t| t.abort());
        let got: Vec<usize> = counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        let total: usize = got.iter().sum();
        eprintln!("large fleet: {got:?}, {total} in all");
        // 6 s at 20 a second, less the start: about 4 or 5 a process.
        assert!(total >= 60, "the fleet took only {total} grants: {got:?}");
        let fair = total / n;
        assert!(
            got.iter().all(|&g| g * 2 >= fair),
            "a process got under half its share ({fair}): {got:?}"
        );
    }

    /// A process's second call right after its first goes ahead of the other processes'
    /// background line, and of its own background request waiting in it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_process_calls_go_ahead_of_the_fleet_line_one_after_another() {
        let _turn = ONE_AT_A_TIME.lock().await;
        let Some(redis) = redis_server::RedisServer::start("second call") else {
            return;
        };
        let count = Arc::new(AtomicUsize::new(0));
        let mut tasks: Vec<_> = (0..6)
            .map(|_| keep_asking(&process(&redis, 1_200), Priority::Background, &count))
            .collect();
        let p = process(&redis, 1_200);
        tasks.extend((0..4).map(|_| keep_asking(&p, Priority::Background, &count)));
        tokio::time::sleep(Duration::from_millis(600)).await;
        let interval = p.interval();
        let (mut firsts, mut seconds) = (Vec::new(), Vec::new());
        for _ in 0..6 {
            for waits in [&mut firsts, &mut seconds] {
                let asked = Instant::now();
                p.acquire(Priority::Interactive).await.unwrap();
                waits.push(asked.elapsed());
            }
            tokio::time::sleep(interval * 5).await;
        }
        tasks.iter().for_each(|t| t.abort());
        eprintln!("interval {interval:?}; first calls {firsts:?}; second calls {seconds:?}");
        let most = firsts.iter().max().copied().unwrap_or_default();
        assert!(
            most <= interval * 3,
            "a call waited {most:?}, over three intervals of {interval:?}: {firsts:?}"
        );
        // The second of two calls leaves one slot to the background line between them (the
        // lanes alternate fleet-wide): a slot more, however long the line (six processes here,
        // which once cost it six intervals).
        let most = seconds.iter().max().copied().unwrap_or_default();
        assert!(
            most <= interval * 4,
            "a second call waited {most:?}, over four intervals of {interval:?}: {seconds:?}"
        );
    }

    /// Two processes flooding the fleet with calls leave a third's background work about half
    /// of the budget: an interactive call after an interactive one leaves the slot to the
    /// background line (without that rule it would get a third).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_processes_flooding_calls_leave_a_third_s_scan_half() {
        let _turn = ONE_AT_A_TIME.lock().await;
        let Some(redis) = redis_server::RedisServer::start("fleet flood") else {
            return;
        };
        let (calls, scan) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let mut tasks = vec![keep_asking(
            &process(&redis, 1_200),
            Priority::Background,
            &scan,
        )];
        for _ in 0..2 {
            let flooding = process(&redis, 1_200);
            tasks.extend((0..3).map(|_| keep_asking(&flooding, Priority::Interactive, &calls)));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (calls_from, scan_from) = (calls.load(Ordering::Relaxed), scan.load(Ordering::Relaxed));
        tokio::time::sleep(Duration::from_secs(4)).await;
        tasks.iter().for_each(|t| t.abort());
        let calls = calls.load(Ordering::Relaxed) - calls_from;
        let scan = scan.load(Ordering::Relaxed) - scan_from;
        let share = scan as f64 / (calls + scan) as f64;
        eprintln!("flood: scan {scan}, calls {calls}");
        assert!(
            calls + scan >= 60,
            "only {} grants in 4 s at 20 a second",
            calls + scan
        );
        assert!(
            share >= 0.42,
            "the scan had {:.0} % of the grants ({scan} to the calls' {calls})",
            share * 100.0
        );
    }
}
