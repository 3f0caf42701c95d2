//! The fleet's two Lua scripts, each run atomically by Redis and timed by its own clock
//! (`TIME`). They live in `.lua` files beside this one; what they are given and what they
//! answer is written here, where the Rust that calls them reads it.

use redis::Script;
use tokio::time::Instant;

use crate::rate::adaptive::Curve;
use crate::rate::priority::Priority;
use std::time::Duration;

/// Reserves the next slot. `KEYS`: the budget hash, the members set, the background line, when
/// each process in it was told to ask again.
/// `ARGV`:
/// 1. the interval after this request (µs);
/// 2. this process's id;
/// 3. how long a process counts as a member without a request (µs);
/// 4. the keys' lifetime (ms);
/// 5. how long from now the slot may come no sooner (µs): this process's own last request,
///    sent while Redis was away;
/// 6. an epoch for a budget that has none;
/// 7. how long the fleet keeps its schedule apart after this process comes back (µs, 0 when it
///    was not away): the moment the fleet takes turns in Redis again, `calm`, rounded up to
///    the grid, is set if it has passed;
/// 8. the grid (µs), for a budget that has none: the first process's configured interval;
/// 9. '1' to reserve nothing, only to learn;
/// 10. Redis's time of this process's last answer before it was away (µs);
/// 11. the request's lane: 'i' interactive, 'b' background;
/// 12. the horizon (µs): how far ahead of its slot the first background request in line may
///     reserve it;
/// 13. how long after the time it was told to ask again a process waiting in line keeps its
///     place (µs);
/// 14. the lead (µs): how far ahead of a due slot the others may reserve it.
///
/// Lanes: a background request reserves its slot no sooner than the horizon before it, so
/// that an interactive one, from any process, finds the next slot at most about an interval
/// and a horizon away. Background processes not yet let in wait in line (`KEYS[3]`, by when
/// they first waited), each told when to ask again (`KEYS[4]`): the first in line at the
/// horizon, the others about when their turn should come. The first in line reserves from the
/// horizon on; the others, and an interactive request after an interactive one while background
/// work waits in line or asked within two intervals (it holds a slot, and will be back for the
/// next), only from the lead on, once the first in line has had its chance: so no process wins every race for being
/// nearer Redis, and background work keeps at least half of the budget while both lanes queue.
/// Nothing hangs on a process coming back: one that did not ask again (for either lane) within
/// the grace of when it was told loses its place, and a slot left free goes to whoever asks from the lead on. Asking ahead of the slot,
/// never at it, a request sends at its slot rather than a round trip after it.
///
/// `calm` is set once an outage: by the first process back whose last answer came before the
/// last `calm` was set; one back later finds the outage it was away for covered already.
///
/// Returns the wait until the slot (µs) (or, where the request must wait for its lane, until it
/// asks again), the slot's number (0 for none), this
/// process's rank among them (by id), Redis's time (µs), the curve's version, its age (µs, -1
/// for none); `from`, `level`, the budget's epoch; `calm` from now (µs), the grid (µs), the
/// schedule's next free slot from now (µs), the slot number of the fleet's last 429 (0 for
/// none), and the process's place in the background line (-1 for none): three arrays, as a reply of more than twelve
/// values has no tuple to read it.
pub(super) fn reserve() -> Script {
    Script::new(include_str!("reserve.lua"))
}

/// A 429: holds every slot back until the pause is over, and cuts the fleet's curve if nobody
/// has since this process last saw it. `ARGV`: the pause (µs), the curve's version this
/// process knows, the cut's `from` and `level` ('' for no cut), the keys' lifetime (ms), an
/// epoch for a budget that has none, the epoch this process knows (a cut against a budget
/// Redis has since lost is taken whatever the version). Returns the curve as `reserve.lua` does:
/// version, age, `from`, `level`, epoch.
pub(super) fn limited() -> Script {
    Script::new(include_str!("limited.lua"))
}

/// What `reserve.lua` is asked (see there).
#[derive(Default)]
pub(super) struct Ask {
    pub(super) after: Duration,
    pub(super) not_before: Duration,
    pub(super) away: Duration,
    pub(super) grid: Duration,
    pub(super) learn_only: bool,
    pub(super) lane: Priority,
    pub(super) horizon: Duration,
    pub(super) grace: Duration,
    pub(super) lead: Duration,
}

/// What `reserve.lua` said.
pub(super) struct Asked {
    pub(super) slot: Instant,
    /// The process's place in the background line; `None` out of it.
    pub(super) place: Option<u32>,
    pub(super) seq: u64,
    pub(super) curve: Option<Option<Curve>>,
}
