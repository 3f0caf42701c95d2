//! What a process knows of its fleet ([`State`]): whether Redis answers, the processes last
//! seen and this one's rank among them, the anchor between this process's clock and Redis's,
//! the fleet's curve, and its schedule apart while Redis is away.

use std::time::Duration;

use tokio::time::Instant;

use crate::rate::adaptive::Curve;

/// What the fleet said last, and what this process keeps while Redis is away.
#[derive(Debug)]
pub(super) struct State {
    /// Whether the last call was answered.
    pub(super) joined: bool,
    /// Whether any call was ever answered.
    pub(super) reached: bool,
    /// When the last call was made, answered or not.
    pub(super) last_call: Option<Instant>,
    /// Processes seen in Redis within a window, this one included.
    pub(super) members: u32,
    /// This process's place among them.
    pub(super) rank: u32,
    /// The members and rank the schedule apart is kept by: those of the last answer before an
    /// outage, until every process had a chance to rejoin after it.
    pub(super) apart: (u32, u32),
    /// A moment of this process's clock and the same moment of Redis's (µs), from the answer
    /// with the quickest round trip lately (off by at most half of it): where the fleet's
    /// slots fall, on Redis's clock, for this process.
    pub(super) anchor: Option<(Instant, i64)>,
    /// That answer's round trip, and when it came.
    pub(super) anchor_rtt: Option<(Duration, Instant)>,
    /// Redis's time at the last answer (µs).
    pub(super) last_answer: Option<i64>,
    /// The fleet's number of the last slot reserved before a 429 anywhere in the fleet.
    pub(super) limited_seq: u64,
    /// The slot of this process's last request, with Redis or without, and whether it was a
    /// slot of the schedule apart.
    pub(super) last_sent: Option<(Instant, bool)>,
    /// The fleet's schedule's next free slot at the last answer: processes hold slots up to
    /// it, and up to an interval each past it, when Redis goes away.
    pub(super) fleet_tat: Option<Instant>,
    /// The fleet's grid (µs) as Redis keeps it: the first process's configured interval, so
    /// that processes configured otherwise still keep one grid apart. 0 before the first answer.
    pub(super) grid: u64,
    /// When the last slot was reserved.
    pub(super) last_reserved: Option<Instant>,
    /// Back in touch with Redis after an outage, the fleet keeps its schedule apart until this
    /// moment: every process asks again within a second, and until it has, it keeps to its
    /// slots apart, which Redis's schedule must not meet.
    pub(super) calm_until: Option<Instant>,
    /// The budget's epoch in Redis: a new one means Redis lost the budget (a restart, a flush).
    pub(super) epoch: Option<String>,
    /// The version of the fleet's curve this process follows.
    pub(super) version: u64,
    /// Whether the loss of Redis has been told for this outage.
    pub(super) warned: bool,
    /// Whether this process's background request was first in the fleet's line at its last
    /// answer, and still waits: an interactive request of the process, told to leave the slot
    /// to that line, lets it go first.
    pub(super) head_of_line: bool,
    /// An answer no retry will change (a wrong password, no permission, a cluster's MOVED):
    /// every request fails with it rather than going on unshared.
    pub(super) refused: Option<String>,
}

impl State {
    /// A process that has not asked Redis yet.
    pub(super) fn new() -> Self {
        Self {
            joined: false,
            reached: false,
            last_call: None,
            members: 1,
            rank: 0,
            apart: (1, 0),
            anchor: None,
            anchor_rtt: None,
            last_answer: None,
            limited_seq: 0,
            last_sent: None,
            fleet_tat: None,
            grid: 0,
            last_reserved: None,
            calm_until: None,
            epoch: None,
            version: 0,
            warned: false,
            head_of_line: false,
            refused: None,
        }
    }

    /// Takes an answer asked at `asked`, come at `now`, Redis's clock then reading `redis_now`,
    /// as the anchor where its round trip is as quick as the anchor's (a millisecond's grace),
    /// or the anchor is over ten seconds old (the clocks may drift apart); returns the anchor.
    pub(super) fn anchored(
        &mut self,
        asked: Instant,
        now: Instant,
        redis_now: i64,
    ) -> (Instant, i64) {
        let rtt = now - asked;
        let better = match (self.anchor, self.anchor_rtt) {
            (Some(_), Some((best, at))) => {
                rtt <= best + Duration::from_millis(1) || at.elapsed() > Duration::from_secs(10)
            }
            _ => true,
        };
        if better {
            self.anchor = Some((asked + rtt / 2, redis_now));
            self.anchor_rtt = Some((rtt, now));
        }
        self.anchor.unwrap_or((asked + rtt / 2, redis_now))
    }

    /// The fleet's curve at `version` of `epoch`: returns it where this process should take
    /// it. Versions only go forward, so an answer that overtook a later one on its way changes
    /// nothing. A new epoch means Redis lost the budget (a restart, a flush): the curve this
    /// process follows is kept unless the fleet has cut one since, as the server's limit did
    /// not change with Redis.
    pub(super) fn follow(
        &mut self,
        epoch: String,
        version: u64,
        fleet: Option<Curve>,
    ) -> Option<Option<Curve>> {
        if self.epoch.as_deref() != Some(epoch.as_str()) {
            let first = self.epoch.replace(epoch).is_none();
            self.version = version;
            return if first { Some(fleet) } else { fleet.map(Some) };
        }
        if version > self.version {
            self.version = version;
            return Some(fleet);
        }
        None
    }

    /// This process's next slot of the schedule apart, where it keeps to it: while Redis does
    /// not answer, and, back in touch, for slots before the fleet's calm moment.
    ///
    /// The schedule goes on without Redis on a grid of `grid` (the configured interval, the
    /// same for every process) counted on Redis's clock, each process keeping every `n`th slot
    /// of it by its rank, at least `interval` times `n` after its own last request. Processes
    /// apart so never send at once (a leaky bucket with no burst would refuse the second), and
    /// together never pass the rate. `None` for a process that never reached Redis: it knows
    /// no fleet.
    pub(super) fn slot_apart(&self, interval: Duration, grid: Duration) -> Option<Instant> {
        let state = self;
        let (anchor, anchor_redis) = state.anchor?;
        let members = state.apart.0.max(1);
        let grid = i128::from(if state.grid > 0 {
            state.grid
        } else {
            micros(grid).max(1)
        });
        // Ranks `m` grid slots apart, where the rate is under the grid's (an adaptive cut):
        // two processes then never send closer than the interval the fleet keeps.
        let m = (i128::from(micros(interval)) + grid - 1)
            .div_euclid(grid)
            .max(1);
        let n = i128::from(members) * m;
        let rank = (i128::from(state.apart.1) % i128::from(members)) * m;
        let now = Instant::now();
        let cycle = interval.saturating_mul(members);
        let earliest = match state.last_sent {
            // From a slot apart: the next one of its rank, a cycle on. A sixteenth of a slot
            // of leeway, so that rounding never skips it.
            Some((last, true)) => last
                .checked_add(cycle)
                .and_then(|e| e.checked_sub(Duration::from_micros((grid / 16) as u64))),
            // Just gone from Redis's schedule: every other process may still hold a slot of
            // it, up to an interval each past its last free slot, and the next is theirs.
            Some((last, false)) => {
                let others = state.fleet_tat.map(|tat| tat.max(now)).and_then(|tat| {
                    tat.checked_add(interval.saturating_mul(members.saturating_sub(1)))
                });
                last.checked_add(cycle).max(others)
            }
            None => None,
        }
        .map_or(now, |e| e.max(now));
        // As µs of Redis's clock (the anchor is in the past: `earliest` is not before it).
        let t = i128::from(anchor_redis)
            + i128::try_from(earliest.saturating_duration_since(anchor).as_micros()).ok()?;
        let first = (t + grid - 1).div_euclid(grid);
        let k = first + (rank - first).rem_euclid(n);
        let after_anchor = u64::try_from(k * grid - i128::from(anchor_redis)).ok()?;
        let slot = anchor.checked_add(Duration::from_micros(after_anchor))?;
        let keep = !state.joined || state.calm_until.is_some_and(|calm| slot < calm);
        keep.then_some(slot)
    }
}

/// The curve Redis keeps, as this process's: cut `age` µs before `now` (-1 for no curve), from
/// and to the rates Redis wrote.
pub(super) fn curve(now: Instant, age: i64, from: &str, level: &str) -> Option<Curve> {
    let age = u64::try_from(age).ok()?;
    Some(Curve {
        cut_at: now.checked_sub(Duration::from_micros(age))?,
        from: from.parse().ok()?,
        level: level.parse().ok()?,
    })
}

/// `d` in whole microseconds, as the scripts take it.
pub(super) fn micros(d: Duration) -> u64 {
    d.as_micros().try_into().unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_curve_is_read_back_from_its_age() {
        let now = Instant::now();
        let Curve {
            cut_at,
            from,
            level,
        } = curve(now, 1_500_000, "1e0", "2.5e0").unwrap();
        assert_eq!(now - cut_at, Duration::from_millis(1500));
        assert_eq!((from, level), (1.0, 2.5));
        assert_eq!(curve(now, -1, "", ""), None);
    }

    fn state() -> State {
        State::new()
    }

    #[test]
    fn the_fleets_curve_is_followed_forward_only_and_kept_across_a_lost_budget() {
        let now = Instant::now();
        let c1 = curve(now, 0, "1", "2");
        let c2 = curve(now, 0, "3", "4");
        let mut s = state();
        // First contact: whatever the fleet has, none included.
        assert_eq!(s.follow("e1".into(), 0, None), Some(None));
        assert_eq!(s.follow("e1".into(), 0, None), None, "nothing new");
        assert_eq!(s.follow("e1".into(), 2, c2), Some(c2));
        // An answer sent before the last one, arriving after it: ignored.
        assert_eq!(s.follow("e1".into(), 1, c1), None);
        // Redis lost the budget (a restart): the curve followed is kept...
        assert_eq!(s.follow("e2".into(), 0, None), None);
        assert_eq!(s.version, 0);
        // ...until the fleet cuts a new one.
        assert_eq!(s.follow("e2".into(), 1, c1), Some(c1));
    }

    #[tokio::test]
    async fn processes_apart_keep_their_own_slots_of_one_grid() {
        let grid = Duration::from_millis(50);
        let anchor = Instant::now();
        let slots = |rank: u32| {
            let mut s = state();
            s.apart = (3, rank);
            s.anchor = Some((anchor, 1_000_000_000_000));
            let mut got = Vec::new();
            for _ in 0..4 {
                let at = s.slot_apart(grid, grid).unwrap();
                s.last_sent = Some((at, true));
                got.push((at - anchor).as_micros());
            }
            got
        };
        let (a, b, c) = (slots(0), slots(1), slots(2));
        let mut all: Vec<u128> = [a.clone(), b, c].concat();
        all.sort_unstable();
        // Twelve slots, one each 50 ms, none shared: every process every third one.
        for pair in all.windows(2) {
            assert_eq!(pair[1] - pair[0], 50_000, "{all:?}");
        }
        for pair in a.windows(2) {
            assert_eq!(pair[1] - pair[0], 150_000, "{a:?}");
        }
    }
}
