//! The adaptive rate: how fast the budget lets requests go when the server allows less than
//! configured, because the account's limit is lower or another consumer shares the key.
//!
//! Pure arithmetic on instants passed in; the budget ([`crate::rate::budget`]) owns the clock.
//!
//! # The curve
//!
//! The configured rate is the ceiling, never exceeded (a `X-RateLimit-Limit` or
//! `RateLimit-Policy` lower than it lowers it). A 429 for a request sent at the current rate
//! starts a new curve, in the manner of TCP CUBIC but in units of the server's window `W`:
//!
//! - the rate drops to `BETA` (80 %) of the pace *measured* when the 429 came, the rate the
//!   requests actually went at, which is below the budget's rate when the caller sends less;
//! - it climbs back over `RECOVER · W` (¾ of a window) along a cubic that flattens out
//!   `BELOW` (3 %) under the pace that tripped the limit, and stays there: the server's window
//!   that refused the request is long gone before the rate comes near that pace again;
//! - from there it probes upwards, slowly first, along a cubic that reaches the ceiling
//!   `PROBE · W` (1¼ windows) later. A limit that was lowered and restored is followed
//!   within two windows of the last cut;
//! - a 429 while probing says the limit lies between the level that held and the pace that
//!   tripped: the rate goes back to that level, not under it, and levels off 3 % under the new
//!   pace.
//!
//! Only the first 429 of an episode cuts (until a request sent after it succeeds), and only for
//! a request sent after the last cut: requests already on their way when the rate dropped say
//! nothing about the new rate.
//!
//! # Why these constants
//!
//! Measured against the simulator's three algorithms at half the configured rate (see
//! `BENCHMARKS.md`). A deeper cut (AWS's and CUBIC's 0.7) converges in fewer 429s but spends
//! longer under the limit; a plateau closer to the tripping pace, or a shorter climb, probes
//! more often, and every probe of a limit that has not moved costs a 429. AWS's adaptive retry
//! climbs back within about a second at 2 requests a second, which for a limit counted per
//! minute means a 429 every few seconds; here every step is a fraction of the window.
//!
//! # After a 429
//!
//! A first 429 waits one interval at the new rate: a leaky bucket frees its next slot within
//! one. A second in a row means a spent window, not a pace too fast; the request then waits
//! until the oldest success of the last window leaves it, which is when a sliding window frees
//! its next request and, in the steady state, when a fixed window turns over.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use crate::rate::signals::Policy;

/// The share of the measured pace a 429 cuts the rate to.
const BETA: f64 = 0.8;
/// How far under the tripping pace the recovery levels off.
const BELOW: f64 = 0.03;
/// Windows the recovery takes to reach its level.
const RECOVER: f64 = 0.75;
/// Windows from the level to the ceiling.
const PROBE: f64 = 1.25;
/// The rate never falls under this share of the ceiling.
const FLOOR: f64 = 1.0 / 64.0;
/// How many recent grants measure the pace.
const PACE_GRANTS: usize = 8;
/// How many grants after a lone 429 a second one confirms it.
const SUSPECT_GRANTS: u64 = 16;
/// A change of the rate is reported once it has moved this share of the ceiling.
const REPORT_STEP: f64 = 0.05;

/// Why the rate changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// A 429: the rate was cut.
    RateLimited,
    /// Climbing back after a cut.
    Recovering,
    /// The server's limit headers moved the ceiling.
    LimitHeader,
}

/// A change worth telling about.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Change {
    pub(crate) per_second: f64,
    pub(crate) ceiling: f64,
    pub(crate) reason: Reason,
}

/// A curve of the adaptive rate: when a 429 cut it, the rate it starts from, and the level it
/// climbs back to (requests a second). A fleet's processes share one through Redis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Curve {
    pub(crate) cut_at: Instant,
    pub(crate) from: f64,
    pub(crate) level: f64,
}

#[derive(Debug)]
pub(crate) struct Adaptive {
    /// The configured rate, margin applied, in requests a second.
    configured: f64,
    margin: f64,
    /// `configured`, or lower where the server's limit headers say so.
    ceiling: f64,
    window: Duration,
    curve: Option<Curve>,
    /// When the requests of the last window were answered with success.
    successes: VecDeque<Instant>,
    /// The last grants, for the pace: when each went, and its number among the budget's grants
    /// (the fleet's, where the budget is shared through Redis).
    grants: VecDeque<(Instant, u64)>,
    /// When the last pause ended: grants before it do not measure the pace.
    resumed: Option<Instant>,
    /// When the last 429 came.
    last_limited: Option<Instant>,
    /// 429s in a row, each for a request sent after the one before came.
    streak: u32,
    /// Whether a 429 came and no request sent since has succeeded.
    episode: bool,
    /// Requests granted so far (by the whole fleet, where the budget is shared).
    granted: u64,
    /// Whether the grants are a fleet's and the successes only this process's share: the
    /// window's count is then not learned from them.
    fleet: bool,
    /// `granted` at the last cut.
    cut_grant: u64,
    /// A lone 429 at full rate: `granted` then, and the pace.
    suspect: Option<(u64, f64)>,
    /// How many requests the server's window takes, learned from a run of 429s (the successes
    /// of the window that ran out) and lowered when a window runs out again with fewer; never
    /// zero. Forgotten after three windows with no 429:
    /// the curve is back at the ceiling two windows after a cut, and a window tells it has
    /// run out a window later.
    window_count: Option<usize>,
    /// The longest reset a limit header has announced: the window its limit counts in.
    longest_reset: Duration,
    reported: f64,
    changes: u64,
}

impl Adaptive {
    /// `per_second` is the configured rate with the margin applied.
    pub(crate) fn new(per_second: f64, margin: f64, window: Duration) -> Self {
        Self {
            configured: per_second,
            margin,
            ceiling: per_second,
            window,
            curve: None,
            successes: VecDeque::new(),
            grants: VecDeque::with_capacity(PACE_GRANTS + 1),
            resumed: None,
            last_limited: None,
            streak: 0,
            episode: false,
            granted: 0,
            fleet: false,
            cut_grant: 0,
            suspect: None,
            window_count: None,
            longest_reset: Duration::ZERO,
            reported: per_second,
            changes: 0,
        }
    }

    /// The rate at `now`, in requests a second.
    pub(crate) fn rate(&self, now: Instant) -> f64 {
        let Some(c) = self.curve else {
            return self.ceiling;
        };
        let w = self.window.as_secs_f64();
        let (recover, probe) = (RECOVER * w, PROBE * w);
        let t = now.saturating_duration_since(c.cut_at).as_secs_f64();
        let rate = if t <= recover {
            c.level - (c.level - c.from) * (1.0 - t / recover).powi(3)
        } else {
            let x = ((t - recover) / probe).min(1.0);
            c.level + (self.ceiling - c.level).max(0.0) * x.powi(3)
        };
        rate.clamp(self.ceiling * FLOOR, self.ceiling)
    }

    /// The spacing at `now`, never more than a window: any window limiter lets one request
    /// through a window.
    pub(crate) fn interval(&self, now: Instant) -> Duration {
        Duration::try_from_secs_f64(1.0 / self.rate(now))
            .unwrap_or(self.window)
            .min(self.window)
    }

    pub(crate) fn ceiling(&self) -> f64 {
        self.ceiling
    }

    /// How many times the rate has changed by a step worth reporting.
    pub(crate) fn changes(&self) -> u64 {
        self.changes
    }

    /// The budget is a fleet's, shared through Redis: grants are numbered by the fleet (see
    /// [`granted_as`](Self::granted_as)), and the window's count is not learned from this
    /// process's successes alone.
    #[cfg(feature = "redis")]
    pub(crate) fn in_fleet(&mut self) {
        self.fleet = true;
    }

    /// A request went at `now`.
    #[cfg(test)]
    pub(crate) fn granted(&mut self, now: Instant) -> Option<Change> {
        self.granted_as(now, self.granted.saturating_add(1))
    }

    /// A request went at `now`, the `seq`th of the fleet's: the pace is measured from the
    /// fleet's numbers, so a process that sends one request in three still sees the fleet's
    /// pace.
    pub(crate) fn granted_as(&mut self, now: Instant, seq: u64) -> Option<Change> {
        if self.grants.len() == PACE_GRANTS {
            self.grants.pop_front();
        }
        self.grants.push_back((now, seq));
        self.granted = self.granted.max(seq);
        // Three windows without a 429: the count learned may have grown since. A count too
        // small only makes a pause longer than it need be; one too large would cost 429s.
        if self
            .last_limited
            .is_some_and(|at| now.saturating_duration_since(at) > self.window * 3)
        {
            self.window_count = None;
        }
        if let Some(c) = self.curve {
            let done = (RECOVER + PROBE) * self.window.as_secs_f64();
            if now.saturating_duration_since(c.cut_at).as_secs_f64() >= done {
                self.curve = None;
            }
        }
        self.report(now, Reason::Recovering)
    }

    /// A request sent at `sent_at` was answered with success at `now`.
    pub(crate) fn succeeded(&mut self, sent_at: Instant, now: Instant) {
        self.successes.push_back(now);
        self.forget_before(now);
        if self.last_limited.is_none_or(|at| sent_at >= at) {
            self.streak = 0;
            self.episode = false;
        }
    }

    /// A request sent at `sent_at` was answered 429 at `now`. Cuts the rate where this is news,
    /// and says how long to hold every request back from `now`. `retry_now`: the server said
    /// to retry at once (`Retry-After: 0`, or a date already past), so the window it counts in
    /// has turned and is not waited for; a run of such answers still backs off from the
    /// spacing, doubling, so that a server that keeps saying it cannot draw a flood of 429s.
    pub(crate) fn limited(
        &mut self,
        sent_at: Instant,
        now: Instant,
        retry_now: bool,
    ) -> (Duration, Option<Change>) {
        self.forget_before(now);
        if self.last_limited.is_none_or(|at| sent_at >= at) {
            self.streak = self.streak.saturating_add(1);
            // A 429 for a request sent before the last one came is the same news, late.
            self.last_limited = Some(now);
        }
        let news = !self.episode && self.curve.is_none_or(|c| sent_at >= c.cut_at);
        self.episode = true;
        let pace = self.pace(sent_at);
        let cut = match self.curve {
            None => self.confirmed(news, pace),
            Some(c) if news => {
                let level = (1.0 - BELOW) * pace;
                let from = if self.probing(&c, now) && pace >= c.level {
                    // A probe above a level that held: the limit lies between the two, so
                    // the rate goes back to the level rather than dipping under it.
                    c.level.min(level)
                } else if self.granted - self.cut_grant <= PACE_GRANTS as u64 {
                    // Refused again straight after a cut: the cut was far from enough.
                    BETA * BETA * pace
                } else {
                    BETA * pace
                };
                Some((from, level))
            }
            Some(_) => None,
        };
        // The window's count: a run of 429s gives the latest (the successes of the window that
        // ran out); the first 429 of a window spent again can only lower it, as a window
        // counted across a fixed window's turn holds more than the server's count. A window
        // with no success in it (spent before this client came) tells nothing.
        let counted = Some(self.successes.len()).filter(|&n| n > 0 && !self.fleet);
        self.window_count = match (self.window_count, counted) {
            (_, Some(n)) if self.streak == 2 => Some(n),
            (Some(known), Some(n)) if news => Some(known.min(n)),
            (known, _) => known,
        };
        // A window limiter seen: a level that spreads its count evenly over the window
        // never spends it; the pace that tripped it may be a probe's overshoot.
        let spread = self.spread(now);
        let cut = match (cut, spread) {
            (Some((from, level)), Some(spread)) => Some((from.min(spread), level.min(spread))),
            (None, Some(spread)) if self.streak == 2 => Some((spread, spread)),
            (cut, _) => cut,
        };
        if let Some((from, level)) = cut {
            self.curve = Some(Curve {
                cut_at: now,
                from,
                level,
            });
            self.cut_grant = self.granted;
            self.suspect = None;
        }
        let spacing = self.interval(now);
        let doubled = spacing
            .saturating_mul(1 << self.streak.saturating_sub(1).min(16))
            .min(self.window);
        let pause = match (self.streak, self.window_count) {
            _ if retry_now => doubled,
            (0 | 1, None) => spacing,
            // A window limiter seen before: the window is spent again.
            (0 | 1, Some(_)) => self.opening(now).max(spacing),
            // A spent window: wait until it frees a request, and twice as long each time
            // that was not enough (a fixed window turns over at a moment the client cannot
            // see).
            _ => self.opening(now).max(doubled),
        };
        self.resumed = now.checked_add(pause);
        let change = cut.and_then(|_| self.report(now, Reason::RateLimited));
        (pause, change)
    }

    /// When the spent window frees a request: when the oldest of the window's count of
    /// successes leaves it. For a sliding window that is its next opening; for a fixed one, a
    /// moment at or after it turns over.
    fn opening(&self, now: Instant) -> Duration {
        let count = self.window_count.unwrap_or(usize::MAX);
        let oldest = self.successes.len().saturating_sub(count);
        self.successes.get(oldest).map_or(self.window, |&at| {
            (at + self.window).saturating_duration_since(now)
        })
    }

    /// The rate that spreads the window's count evenly over it, where one has been learned
    /// and it is under the rate now.
    fn spread(&self, now: Instant) -> Option<f64> {
        let count = self.window_count? as f64;
        let level = (1.0 - BELOW) * count / self.window.as_secs_f64();
        (level < self.rate(now)).then_some(level)
    }

    /// At full rate, one 429 alone may be a request that met the server a millisecond early:
    /// it is a suspect, and cuts nothing. A second, or a run of them, within
    /// `SUSPECT_GRANTS` confirms it: the rate then drops to `BETA²` of the suspect's pace.
    fn confirmed(&mut self, news: bool, pace: f64) -> Option<(f64, f64)> {
        if !news && self.streak < 2 {
            // On its way before the last 429 came: no news.
            return None;
        }
        let recent = self
            .suspect
            .filter(|&(at, _)| self.granted.saturating_sub(at) <= SUSPECT_GRANTS);
        match recent {
            None if self.streak < 2 => {
                self.suspect = Some((self.granted, pace));
                None
            }
            _ => {
                // Two 429s within a few requests: the pace is well over the limit.
                let pace = recent.map_or(pace, |(_, p)| p.min(pace.max(p * BETA)));
                Some((BETA * BETA * pace, (1.0 - BELOW) * pace))
            }
        }
    }

    /// The server announced `limit` requests a window (`X-RateLimit-Limit`, counted in the
    /// longest `reset` it has announced, else the configured window) and `policies`
    /// (`RateLimit-Policy`). The least rate among them becomes the ceiling where it is under
    /// the configured rate. A policy counted over a longer window than the configured one is a
    /// quota, not a pace: its running out pauses the budget (`Remaining: 0`), and a short job
    /// well within a daily quota is not slowed to a day's average.
    pub(crate) fn announced(
        &mut self,
        limit: Option<u64>,
        policies: &[Policy],
        reset: Option<Duration>,
        now: Instant,
    ) -> Option<Change> {
        // A reset read against a clock that is behind the server's would make the window
        // longer than it is, and the ceiling lower, for good: the configured window bounds it.
        if let Some(reset) = reset.filter(|r| *r <= self.window) {
            self.longest_reset = self.longest_reset.max(reset);
        }
        let bare = limit.map(|limit| {
            let window = Some(self.longest_reset)
                .filter(|w| !w.is_zero())
                .unwrap_or(self.window);
            limit as f64 / window.as_secs_f64()
        });
        let paced = policies
            .iter()
            .filter(|p| !p.window.is_zero() && p.window <= self.window)
            .map(|p| p.quota as f64 / p.window.as_secs_f64());
        let allowed = bare.into_iter().chain(paced).reduce(f64::min)? / (1.0 + self.margin);
        // However little the server says it allows, the rate keeps a share of the configured
        // one: a header read wrong must not stall the client.
        let ceiling = allowed.clamp(self.configured * FLOOR, self.configured);
        if (ceiling - self.ceiling).abs() <= self.ceiling * 0.01 {
            return None;
        }
        self.ceiling = ceiling;
        self.report(now, Reason::LimitHeader)
    }

    /// Whether the curve is past its level, probing upwards.
    fn probing(&self, curve: &Curve, now: Instant) -> bool {
        now.saturating_duration_since(curve.cut_at).as_secs_f64()
            > RECOVER * self.window.as_secs_f64()
    }

    /// The pace the requests went at up to `sent_at`: the budget's rate then, or less where the
    /// caller sent less.
    fn pace(&self, sent_at: Instant) -> f64 {
        let rate = self.rate(sent_at);
        let mut recent = self
            .grants
            .iter()
            .filter(|&&(g, _)| g <= sent_at && self.resumed.is_none_or(|r| g >= r));
        let first = recent.next();
        let last = recent.next_back().or(first);
        match (first, last) {
            (Some(&(t0, n0)), Some(&(t1, n1))) if n1 > n0 && t1 > t0 => {
                let measured = (n1 - n0) as f64 / (t1 - t0).as_secs_f64();
                measured.min(rate)
            }
            _ => rate,
        }
    }

    /// Another process of the fleet met a 429 around the fleet's `seq`th grant: where it came
    /// after the last cut, it is this process's suspect too, so that the fleet's second 429,
    /// whoever meets it, confirms the first, as one process's second would.
    #[cfg(feature = "redis")]
    pub(crate) fn fleet_limited(&mut self, seq: u64, now: Instant) {
        let newer = self.suspect.is_none_or(|(at, _)| at < seq);
        if seq > self.cut_grant && newer {
            self.suspect = Some((seq, self.rate(now)));
        }
    }

    /// The curve the rate follows, if any.
    pub(crate) fn curve(&self) -> Option<Curve> {
        self.curve
    }

    /// Takes the curve another process of the fleet cut, or none where the fleet's has ended.
    #[cfg(feature = "redis")]
    pub(crate) fn adopt(&mut self, curve: Option<Curve>, now: Instant) -> Option<Change> {
        // This process's own cut comes back stamped with Redis's time: the same cut.
        let same = |a: &Curve, b: &Curve| a.from == b.from && a.level == b.level;
        let cut = curve.is_some_and(|c| self.curve.is_none_or(|mine| !same(&mine, &c)));
        let moved = cut || curve.is_none() != self.curve.is_none();
        self.curve = curve;
        if !moved {
            return None;
        }
        if cut {
            // The fleet's cut is this process's too: later 429s for requests sent before it
            // are no news, and a lone one is no longer a suspect.
            self.cut_grant = self.granted;
            self.suspect = None;
        }
        self.report(
            now,
            if cut {
                Reason::RateLimited
            } else {
                Reason::Recovering
            },
        )
    }

    fn forget_before(&mut self, now: Instant) {
        while self
            .successes
            .front()
            .is_some_and(|&s| now.saturating_duration_since(s) > self.window)
        {
            self.successes.pop_front();
        }
    }

    fn report(&mut self, now: Instant, reason: Reason) -> Option<Change> {
        let rate = self.rate(now);
        let moved = (rate - self.reported).abs() >= REPORT_STEP * self.ceiling;
        let arrived = rate >= self.ceiling && self.reported < self.ceiling;
        if !(moved || arrived || reason != Reason::Recovering) {
            return None;
        }
        self.reported = rate;
        self.changes += 1;
        Some(Change {
            per_second: rate,
            ceiling: self.ceiling,
            reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Duration = Duration::from_secs(6);
    const MS: Duration = Duration::from_millis(1);

    /// Grants `n` requests at `rate` a second from `from`, all successes; returns when the
    /// next would go.
    fn steady(a: &mut Adaptive, from: Instant, n: u32, rate: f64) -> Instant {
        let step = Duration::from_secs_f64(1.0 / rate);
        let mut t = from;
        for _ in 0..n {
            a.granted(t);
            a.succeeded(t, t);
            t += step;
        }
        t
    }

    /// A request sent at `t` and refused at once.
    fn refused(a: &mut Adaptive, t: Instant) -> Duration {
        a.granted(t);
        a.limited(t, t, false).0
    }

    /// At full rate, a lone 429 then one more a request later: the second confirms the first.
    fn two_refused(a: &mut Adaptive, t: Instant, rate: f64) -> Instant {
        let step = Duration::from_secs_f64(1.0 / rate);
        refused(a, t);
        let t = steady(a, t + step, 1, rate);
        refused(a, t);
        t
    }

    #[test]
    fn with_no_429_the_rate_is_the_ceiling() {
        let start = Instant::now();
        let mut a = Adaptive::new(20.0, 0.0, W);
        steady(&mut a, start, 100, 20.0);
        assert_eq!(a.rate(start + W * 2), 20.0);
        assert_eq!(a.changes(), 0);
    }

    #[test]
    fn a_lone_429_at_full_rate_cuts_nothing() {
        let start = Instant::now();
        let mut a = Adaptive::new(20.0, 0.0, W);
        let t = steady(&mut a, start, 50, 20.0);
        refused(&mut a, t);
        let t = steady(&mut a, t + 50 * MS, 40, 20.0);
        assert_eq!(a.rate(t), 20.0);
        assert_eq!(a.changes(), 0);
    }

    #[test]
    fn a_second_429_confirms_the_first_and_cuts_under_two_thirds_of_the_measured_pace() {
        let start = Instant::now();
        let mut a = Adaptive::new(20.0, 0.0, W);
        // The caller sends 10 a second although the budget would allow 20.
        let t = steady(&mut a, start, 8, 10.0);
        let t = two_refused(&mut a, t, 10.0);
        let rate = a.rate(t);
        assert!((rate - 6.4).abs() < 0.01, "{rate}");
        assert_eq!(a.changes(), 1);
    }

    #[test]
    fn requests_already_on_their_way_neither_confirm_nor_cut_again() {
        let start = Instant::now();
        let mut a = Adaptive::new(20.0, 0.0, W);
        let t = steady(&mut a, start, 8, 20.0);
        a.granted(t);
        a.granted(t + 50 * MS);
        a.limited(t, t + 60 * MS, false);
        // Sent before the first 429 came.
        a.limited(t + 50 * MS, t + 70 * MS, false);
        assert_eq!(a.rate(t + 70 * MS), 20.0);
        let t = two_refused(&mut a, t + 100 * MS, 20.0);
        let cut = a.rate(t + 10 * MS);
        a.limited(t - 10 * MS, t + 10 * MS, false);
        assert_eq!(a.rate(t + 10 * MS), cut);
    }

    #[test]
    fn a_refusal_straight_after_a_cut_cuts_deeper() {
        let start = Instant::now();
        let mut a = Adaptive::new(20.0, 0.0, W);
        let t = steady(&mut a, start, 8, 20.0);
        let t = two_refused(&mut a, t, 20.0);
        assert!((a.rate(t) - 12.8).abs() < 0.01);
        let t = steady(&mut a, t + 80 * MS, 1, 12.8);
        refused(&mut a, t);
        let rate = a.rate(t);
        assert!((rate - 0.64 * 12.8).abs() < 0.2, "{rate}");
        // Long after the cut, still under the level, a 429 cuts by a fifth of the pace.
        let t = t + W / 2;
        let pace = a.rate(t);
        let t = steady(&mut a, t, 9, pace);
        refused(&mut a, t);
        let rate = a.rate(t);
        assert!((rate - 0.8 * pace).abs() < 0.2, "{rate} vs {pace}");
    }

    #[test]
    fn a_run_of_429s_waits_for_the_window_to_free_a_request_then_twice_as_long() {
        let start = Instant::now();
        let mut a = Adaptive::new(20.0, 0.0, W);
        let t1 = steady(&mut a, start, 60, 20.0); // 3 s
        let first = refused(&mut a, t1);
        assert!(first < 100 * MS, "{first:?}");
        let t2 = t1 + first;
        let second = refused(&mut a, t2);
        // The oldest success of the last window came at `start`; it leaves it at start + W.
        assert_eq!(t2 + second, start + W);
        // That was not enough: a fixed window turns over later.
        let t3 = t2 + second;
        let third = refused(&mut a, t3);
        let spacing = a.interval(t3);
        assert_eq!(third, spacing * 4);
    }

    #[test]
    fn the_rate_levels_off_under_the_tripping_pace_then_climbs_back_to_the_ceiling() {
        let start = Instant::now();
        let mut a = Adaptive::new(20.0, 0.0, W);
        let t = steady(&mut a, start, 8, 20.0);
        let last = two_refused(&mut a, t, 20.0);
        let cut = a.rate(last);
        let level = a.rate(last + W.mul_f64(RECOVER));
        let later = a.rate(last + W.mul_f64(RECOVER + PROBE / 2.0));
        let done = a.rate(last + W.mul_f64(RECOVER + PROBE));
        assert!((cut - 12.8).abs() < 0.01, "{cut}");
        assert!((level - 19.4).abs() < 0.01, "{level}");
        assert!(later > level && later < 20.0, "{later}");
        assert_eq!(done, 20.0);
        // Monotone on the way, and never over the ceiling.
        let mut previous = 0.0;
        for ms in (0..13_000).step_by(100) {
            let r = a.rate(last + MS * ms);
            assert!(
                r >= previous && r <= 20.0,
                "{r} after {previous} at {ms} ms"
            );
            previous = r;
        }
    }

    #[test]
    fn a_failed_probe_goes_back_to_the_level_that_held() {
        let start = Instant::now();
        let mut a = Adaptive::new(20.0, 0.0, W);
        let t = steady(&mut a, start, 8, 20.0);
        let t = two_refused(&mut a, t, 20.0);
        let level = a.rate(t + W.mul_f64(RECOVER));
        let probe = t + W.mul_f64(RECOVER + PROBE / 2.0);
        let rate = a.rate(probe);
        let t = steady(&mut a, probe, 8, rate);
        refused(&mut a, t);
        // Back to the level, or 3 % under the pace that tripped if that is lower: no dip.
        let after = a.rate(t);
        let expected = level.min((1.0 - BELOW) * rate);
        assert!((after - expected).abs() < 0.05, "{after} vs {expected}");
        assert!(after > 0.9 * level, "{after}: a dip under the level");
    }

    #[test]
    fn repeated_429s_keep_cutting_and_never_below_the_floor() {
        let start = Instant::now();
        let mut a = Adaptive::new(20.0, 0.0, W);
        let mut t = start;
        for _ in 0..40 {
            t = steady(&mut a, t, 1, 100.0);
            refused(&mut a, t);
            t += 10 * MS;
        }
        let rate = a.rate(t);
        assert!(rate < 1.0, "{rate}: the rate did not go down");
        assert!(rate >= 20.0 * FLOOR);
    }

    #[test]
    fn a_lower_limit_header_becomes_the_ceiling_and_a_higher_one_does_not() {
        let start = Instant::now();
        let mut a = Adaptive::new(20.0, 0.0, W);
        let per_window = |quota| [Policy { quota, window: W }];
        let change = a.announced(None, &per_window(60), None, start);
        assert_eq!(change.map(|c| c.reason), Some(Reason::LimitHeader));
        assert_eq!(a.rate(start), 10.0);
        a.announced(None, &per_window(6_000), None, start);
        assert_eq!(a.rate(start), 20.0, "the configured rate stays the ceiling");
        // Nor does a limit read wrong stall it: at worst a share of the configured rate.
        a.announced(Some(1), &per_window(1), None, start);
        assert_eq!(a.rate(start), 20.0 * FLOOR);
    }

    #[test]
    fn a_limit_without_a_window_counts_in_the_longest_reset_announced() {
        let start = Instant::now();
        let mut a = Adaptive::new(20.0, 0.0, Duration::from_secs(60));
        // Early in a window the reset is short: the limit reads as generous, and is ignored.
        a.announced(Some(60), &[], Some(Duration::from_millis(500)), start);
        assert_eq!(a.ceiling(), 20.0);
        a.announced(Some(60), &[], Some(Duration::from_secs(6)), start);
        assert_eq!(a.ceiling(), 10.0);
        // A reset longer than the window (a clock behind the server's) is not a window.
        a.announced(Some(60), &[], Some(Duration::from_secs(600)), start);
        assert_eq!(a.ceiling(), 10.0);
    }

    #[test]
    fn a_window_spent_before_the_client_came_teaches_no_count() {
        let start = Instant::now();
        let mut a = Adaptive::new(2.0, 0.0, Duration::from_secs(60));
        // Another tool spent the window: the first two requests are refused, none succeeded.
        refused(&mut a, start);
        let pause = refused(&mut a, start + 600 * MS);
        assert_eq!(a.window_count, None);
        assert!(pause <= Duration::from_secs(60), "{pause:?}");
        let t = start + 600 * MS + pause;
        assert!(a.rate(t) >= 0.64 * 2.0 * 0.99, "{}", a.rate(t));
    }

    #[test]
    fn no_header_makes_the_spacing_longer_than_a_window_or_panics() {
        let start = Instant::now();
        let mut a = Adaptive::new(2.0, 0.0, Duration::from_secs(60));
        let huge = [
            Policy {
                quota: 1,
                window: Duration::from_secs(u64::MAX),
            },
            Policy {
                quota: 0,
                window: Duration::from_secs(1),
            },
        ];
        a.announced(Some(0), &huge, Some(Duration::MAX), start);
        a.announced(Some(u64::MAX), &huge, Some(Duration::ZERO), start);
        let mut t = start;
        for _ in 0..50 {
            t = steady(&mut a, t, 1, 100.0);
            refused(&mut a, t);
        }
        assert!(a.interval(t) <= Duration::from_secs(60));
        assert!(a.rate(t).is_finite() && a.rate(t) > 0.0);
    }

    #[test]
    fn a_quota_over_a_longer_window_than_the_configured_one_does_not_pace() {
        let start = Instant::now();
        let mut a = Adaptive::new(2.0, 0.0, Duration::from_secs(60));
        let policies = [
            Policy {
                quota: 100,
                window: Duration::from_secs(60),
            },
            Policy {
                quota: 1_000,
                window: Duration::from_secs(86_400),
            },
        ];
        a.announced(None, &policies, None, start);
        assert!((a.ceiling() - 100.0 / 60.0).abs() < 1e-9, "{}", a.ceiling());
    }

    #[test]
    fn the_pace_is_the_fleets_when_grants_are_numbered_by_the_fleet() {
        let mut a = Adaptive::new(20.0, 0.0, W);
        let start = Instant::now();
        // One request in three of a fleet going at 18 a second: this process sends 6 a second.
        for i in 0..8u32 {
            let t = start + Duration::from_secs_f64(f64::from(i) / 6.0);
            a.granted_as(t, u64::from(3 * i + 1));
        }
        let pace = a.pace(start + Duration::from_secs(2));
        assert!((pace - 18.0).abs() < 0.01, "{pace}");
    }

    #[cfg(feature = "redis")]
    #[test]
    fn a_curve_adopted_from_the_fleet_is_followed_and_told_once() {
        let mut a = Adaptive::new(20.0, 0.0, W);
        a.in_fleet();
        let start = Instant::now();
        let theirs = Some(Curve {
            cut_at: start,
            from: 10.0,
            level: 15.0,
        });
        let change = a.adopt(theirs, start).expect("a cut is told");
        assert_eq!(change.reason, Reason::RateLimited);
        assert!((a.rate(start) - 10.0).abs() < 1e-9);
        // The same cut again, stamped a little later (Redis's clock): no news.
        let again = Curve {
            cut_at: start + MS,
            from: 10.0,
            level: 15.0,
        };
        assert_eq!(a.adopt(Some(again), start + MS), None);
        // The fleet's curve ended (Redis restarted): back to the ceiling.
        a.adopt(None, start + 2 * MS);
        assert_eq!(a.rate(start + 2 * MS), 20.0);
    }

    #[cfg(feature = "redis")]
    #[test]
    fn another_processs_429_makes_a_lone_one_here_a_confirmed_one() {
        let start = Instant::now();
        let rate = 20.0;
        let mut alone = Adaptive::new(rate, 0.0, W);
        let t = steady(&mut alone, start, 20, rate);
        refused(&mut alone, t);
        assert!(
            alone.curve().is_none(),
            "a lone 429 at full rate is a suspect"
        );

        let mut fleet = Adaptive::new(rate, 0.0, W);
        fleet.in_fleet();
        let t = steady(&mut fleet, start, 20, rate);
        // Another process met a 429 a few of the fleet's grants ago.
        fleet.fleet_limited(18, t);
        refused(&mut fleet, t);
        assert!(fleet.curve().is_some(), "the fleet's second 429 cuts");
        // One from before the last cut suspects nothing.
        let mut cut = fleet;
        cut.fleet_limited(10, t);
        assert!(cut.suspect.is_none_or(|(at, _)| at != 10));
    }
}
