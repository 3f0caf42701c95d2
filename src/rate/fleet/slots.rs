//! The fleet as a budget's slot source: the next slot of the fleet's schedule in Redis; while
//! Redis is away, this process's own slots of the schedule apart; and, for a process that
//! never reached Redis and knows no fleet, this process's own limiter.

use std::time::Duration;

use tokio::time::Instant;

use crate::error::Error;
use crate::rate::fleet::shared::Fleet;
use crate::rate::gate::Gate;
use crate::rate::local::Local;
use crate::rate::pace::Pace;
use crate::rate::priority::Priority;
use crate::rate::turns::{Aside, Turn};

/// How long before a fleet's slot [`wake_at`] stops sleeping and starts yielding.
const SPIN: Duration = Duration::from_micros(1_500);

/// Waits, with `turn` held, for the fleet's next slot for this process, once `gate` is open,
/// at the spacing of `pace`; `alone` where no fleet is known. Returns when the request went.
/// Fails only where Redis refused the budget for good.
pub(crate) async fn slot(
    fleet: &Fleet,
    alone: &Local,
    turn: &mut Turn<'_>,
    gate: &Gate,
    pace: &Pace,
) -> Result<Instant, Error> {
    loop {
        gate.opened().await;
        let (interval, grid) = (pace.interval(), pace.configured());
        // Refused (a wrong password, say): fail, but for once a second, when Redis is asked
        // again below in case it was mended.
        let refused = match fleet.refused() {
            Some(refused) if !fleet.worth_asking() => return Err(refused),
            refused => refused.is_some(),
        };
        if !refused && fleet.apart() && fleet.worth_asking() {
            // Back in touch? The fleet then keeps its schedule apart a little longer, until
            // every process has had the chance to come back too.
            if let Some(curve) = fleet.rejoin(interval, grid).await {
                pace.adopt(curve);
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
            if gate.is_closed() {
                continue;
            }
            let now = Instant::now();
            fleet.sent(at, true);
            // Apart from its fleet, a process numbers its grants as its share of the fleet's,
            // so that the pace it measures is still the fleet's.
            pace.granted(now, u64::from(fleet.members_apart()));
            return Ok(now);
        }
        if !fleet.worth_asking() {
            return Ok(without_fleet(fleet, alone, turn, gate, pace).await);
        }
        let reserved = fleet.reserve(interval, grid, turn.lane()).await;
        if let Some(refused) = fleet.refused() {
            return Err(refused);
        }
        let Some(slot) = reserved else {
            // Redis is away: the schedule apart, or, knowing no fleet, alone.
            if fleet.apart() {
                continue;
            }
            tracing::trace!("no fleet known: the local budget alone");
            return Ok(without_fleet(fleet, alone, turn, gate, pace).await);
        };
        if let Some(curve) = slot.curve {
            pace.adopt(curve);
        }
        if slot.deferred {
            // The fleet's interactive calls first. This process's own go ahead meanwhile,
            // this request keeping its place in line.
            // Deferred for the other lane: a background request lets this process's
            // interactive calls go meanwhile; an interactive one, told to leave the slot to
            // the background line, lets this process's background request go where it is
            // first in that line.
            let aside = match turn.lane() {
                Priority::Background => Aside::Fleet {
                    head: fleet.head_of_line(),
                },
                _ if fleet.head_of_line() => Aside::ForHead,
                _ => Aside::Never,
            };
            let until = tokio::time::sleep_until(slot.at);
            turn.wait_or_step_aside(until, aside).await;
            continue;
        }
        wake_at(slot.at).await;
        if gate.is_closed() {
            // A 429 came while this slot waited: it is given up, not used.
            continue;
        }
        let now = Instant::now();
        fleet.sent(slot.at, false);
        pace.granted_as(now, slot.seq);
        return Ok(now);
    }
}

/// The local budget, for a process that knows no fleet; the fleet hears of the request's
/// slot when it next asks.
async fn without_fleet(
    fleet: &Fleet,
    alone: &Local,
    turn: &mut Turn<'_>,
    gate: &Gate,
    pace: &Pace,
) -> Instant {
    let now = alone.slot(turn, gate, pace).await;
    fleet.sent(now, false);
    now
}

/// Returns at `at`, not a millisecond after: tokio's timer wakes on whole milliseconds, late by
/// up to one, and in a fleet one process's lateness is the next process's earliness (its slot
/// comes a fixed interval after). So the last stretch is spent yielding: at most
/// [`SPIN`] a request, 0.2 % of a core at 120 requests a minute. A slot that is due costs
/// nothing.
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
