//! The budget shared through Redis by every process on one key (feature `redis`).
//!
//! # The script
//!
//! Each request reserves the next free slot with one atomic Lua script, timed by Redis's own
//! clock (`TIME`), and sleeps until it: processes take their turns first come, first served,
//! nobody polls, and the clocks of the machines never meet. The state is one hash per account,
//!
//! - `tat`: when the next slot is free (GCRA's theoretical arrival time), in microseconds of
//!   Redis's clock; a 429 pushes it to the end of the pause, which is how one process's 429
//!   holds back the whole fleet;
//! - `seq`: how many slots the fleet has reserved, from which each process measures the fleet's
//!   pace (see [`Adaptive::granted_as`](crate::rate::adaptive::Adaptive::granted_as));
//! - `cut_at`, `from`, `level`, `version`: the adaptive rate's curve, cut by whichever process
//!   saw the 429 that was news, and followed by all;
//!
//! and a sorted set of the processes seen within a window, which gives each its share should
//! Redis go away. Both keys carry the same `{hashtag}`, a hash of the API key and base URL (never
//! the key itself), so that they live on one Redis Cluster slot.
//!
//! # Without Redis
//!
//! Every call has a timeout. When Redis does not answer, the process warns once and keeps a
//! local budget at its share: the rate divided by the processes last seen, which the adaptive
//! rate corrects further if the server still refuses. It asks Redis again at most once a
//! second, and rejoins the shared budget as soon as Redis answers.

use std::sync::Mutex;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use crate::error::Error;
use crate::rate::budget::lock;
use crate::rate::priority::Priority;

/// How long a Redis call may take before this process goes on without Redis.
const CALL_TIMEOUT: Duration = Duration::from_millis(250);
/// How long the first call on a new connection may take: a TLS handshake and a password first.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How often a process without Redis asks again.
const RETRY_EVERY: Duration = Duration::from_secs(1);
/// After this long without a request, a process's connections may have closed (servers close
/// idle keep-alive connections after a minute or so).
const COLD_AFTER: Duration = Duration::from_secs(60);

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
const RESERVE: &str = r"
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('HSETNX', KEYS[1], 'epoch', ARGV[6])
redis.call('HSETNX', KEYS[1], 'grid', ARGV[8])
local b = redis.call('HMGET', KEYS[1], 'tat', 'version', 'cut_at', 'from', 'level', 'epoch', 'calm',
  'grid')
local tat = tonumber(b[1]) or 0
local calm = tonumber(b[7]) or 0
local grid = tonumber(b[8])
local away = tonumber(ARGV[7])
if away > 0 and calm < tonumber(ARGV[10]) then
  calm = math.ceil((now + away) / grid) * grid
  redis.call('HSET', KEYS[1], 'calm', string.format('%.0f', calm))
end
local floor = math.max(now, now + tonumber(ARGV[5]), calm)
local slot = math.max(tat, floor)
local wait = slot - now
local seq = 0
local place = -1
if ARGV[9] ~= '1' then
  local horizon = tonumber(ARGV[12])
  local lead = tonumber(ARGV[14])
  local grace = tonumber(ARGV[13])
  -- Any ask of a process in line (its interactive calls' too) shows it is still there.
  local due = tonumber(redis.call('ZSCORE', KEYS[4], ARGV[2]))
  if due and due < now then
    redis.call('ZADD', KEYS[4], string.format('%.0f', now), ARGV[2])
  end
  local gone = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', string.format('(%.0f', now - grace))
  for _, m in ipairs(gone) do
    redis.call('ZREM', KEYS[3], m)
    redis.call('ZREM', KEYS[4], m)
  end
  -- One in line with no time to ask again (its time evicted alone) is gone after the grace too.
  local old = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', string.format('(%.0f', now - grace))
  for _, m in ipairs(old) do
    if not redis.call('ZSCORE', KEYS[4], m) then redis.call('ZREM', KEYS[3], m) end
  end
  local ready = nil
  if ARGV[11] == 'b' then
    redis.call('HSET', KEYS[1], 'background_at', string.format('%.0f', now))
    redis.call('ZADD', KEYS[3], 'NX', string.format('%.0f', now), ARGV[2])
    place = redis.call('ZRANK', KEYS[3], ARGV[2])
    if place == 0 then
      ready = tat - horizon
    else
      ready = tat - lead
    end
  elseif redis.call('HGET', KEYS[1], 'lane') == 'i' then
    -- Background work waits in line, or holds a slot and will be back for the next.
    local background_at = tonumber(redis.call('HGET', KEYS[1], 'background_at')) or 0
    if redis.call('ZCARD', KEYS[3]) > 0 or now - background_at < 2 * tonumber(ARGV[1]) then
      ready = tat - lead
    end
  end
  -- Not this process's own spacing (ARGV[5]): only the time, or the fleet's calm, lets in.
  local gate = math.max(now, calm)
  if ready and gate < ready then
    local back = ready
    if place > 0 then back = math.max(ready, tat - horizon + place * tonumber(ARGV[1])) end
    wait = back - now
    if place >= 0 then
      redis.call('ZADD', KEYS[4], string.format('%.0f', back), ARGV[2])
    end
  else
    tat = slot + tonumber(ARGV[1])
    redis.call('HSET', KEYS[1], 'tat', string.format('%.0f', tat), 'lane', ARGV[11])
    seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
    if place >= 0 then
      redis.call('ZREM', KEYS[3], ARGV[2])
      redis.call('ZREM', KEYS[4], ARGV[2])
      place = -1
    end
  end
end
redis.call('ZADD', KEYS[2], string.format('%.0f', now), ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('(%.0f', now - tonumber(ARGV[3])))
local all = redis.call('ZRANGE', KEYS[2], 0, -1)
table.sort(all)
local rank = 0
for i, m in ipairs(all) do
  if m == ARGV[2] then rank = i - 1 end
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('PEXPIRE', KEYS[3], ARGV[4])
redis.call('PEXPIRE', KEYS[4], ARGV[4])
local age = -1
if b[3] then age = now - tonumber(b[3]) end
return {{wait, seq, #all, rank, now, tonumber(b[2]) or 0, age},
  {b[4] or '', b[5] or '', b[6]},
  {calm - now, grid, tat - now, tonumber(redis.call('HGET', KEYS[1], 'limited_seq')) or 0, place}}
";

/// A 429: holds every slot back until the pause is over, and cuts the fleet's curve if nobody
/// has since this process last saw it. `ARGV`: the pause (µs), the curve's version this
/// process knows, the cut's `from` and `level` ('' for no cut), the keys' lifetime (ms), an
/// epoch for a budget that has none, the epoch this process knows (a cut against a budget
/// Redis has since lost is taken whatever the version). Returns the curve as `RESERVE` does:
/// version, age, `from`, `level`, epoch.
const LIMITED: &str = r"
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('HSETNX', KEYS[1], 'epoch', ARGV[6])
local tat = tonumber(redis.call('HGET', KEYS[1], 'tat')) or 0
local resume = now + tonumber(ARGV[1])
if resume > tat then
  redis.call('HSET', KEYS[1], 'tat', string.format('%.0f', resume))
end
local version = tonumber(redis.call('HGET', KEYS[1], 'version')) or 0
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if ARGV[3] ~= '' and (version == tonumber(ARGV[2]) or epoch ~= ARGV[7]) then
  version = version + 1
  redis.call('HSET', KEYS[1], 'cut_at', string.format('%.0f', now), 'from', ARGV[3],
    'level', ARGV[4], 'version', version)
end
redis.call('HSET', KEYS[1], 'limited_seq', redis.call('HGET', KEYS[1], 'seq') or 0)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
local c = redis.call('HMGET', KEYS[1], 'cut_at', 'from', 'level', 'epoch')
local age = -1
if c[1] then age = now - tonumber(c[1]) end
return {version, age, c[2] or '', c[3] or '', c[4]}
";

/// What `RESERVE` is asked (see there).
#[derive(Default)]
struct Ask {
    after: Duration,
    not_before: Duration,
    away: Duration,
    grid: Duration,
    learn_only: bool,
    lane: Priority,
    horizon: Duration,
    grace: Duration,
    lead: Duration,
}

/// What `RESERVE` said.
struct Asked {
    slot: Instant,
    /// The process's place in the background line; `None` out of it.
    place: Option<u32>,
    seq: u64,
    curve: Option<Option<Curve>>,
}

/// The adaptive rate's curve: when it was cut, from what rate, to what level.
pub(crate) type Curve = (Instant, f64, f64);

/// A slot reserved.
#[derive(Debug)]
pub(crate) struct Reservation {
    /// When the request may go.
    pub(crate) at: Instant,
    /// Its number among the fleet's.
    pub(crate) seq: u64,
    /// The fleet's curve, where it is not the one this process knew.
    pub(crate) curve: Option<Option<Curve>>,
    /// Nothing was reserved: the request's lane must wait, and ask again at `at`.
    pub(crate) deferred: bool,
}

pub(crate) struct Fleet {
    client: redis::Client,
    /// Made on first use (it needs the runtime), and made anew after a call timed out: a
    /// connection that stopped answering without closing (a failover behind one address, a
    /// NAT that forgot it) would otherwise be kept for as long as the kernel keeps it.
    connection: Mutex<Option<(ConnectionManager, bool)>>,
    budget_key: String,
    members_key: String,
    /// The background processes waiting in line.
    waiting_key: String,
    /// When each of them was told to ask again.
    due_key: String,
    member: String,
    window: Duration,
    reserve: Script,
    limited: Script,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Whether the last call was answered.
    joined: bool,
    /// When the last call was made, answered or not.
    last_call: Option<Instant>,
    /// Processes seen in Redis within a window, this one included.
    members: u32,
    /// This process's place among them.
    rank: u32,
    /// The members and rank the schedule apart is kept by: those of the last answer before an
    /// outage, until every process had a chance to rejoin after it.
    apart: (u32, u32),
    /// A moment of this process's clock and the same moment of Redis's (µs), from the answer
    /// with the quickest round trip lately (off by at most half of it): where the fleet's
    /// slots fall, on Redis's clock, for this process.
    anchor: Option<(Instant, i64)>,
    /// That answer's round trip, and when it came.
    anchor_rtt: Option<(Duration, Instant)>,
    /// Redis's time at the last answer (µs).
    last_answer: Option<i64>,
    /// The fleet's number of the last slot reserved before a 429 anywhere in the fleet.
    limited_seq: u64,
    /// The slot of this process's last request, with Redis or without, and whether it was a
    /// slot of the schedule apart.
    last_sent: Option<(Instant, bool)>,
    /// The fleet's schedule's next free slot at the last answer: processes hold slots up to
    /// it, and up to an interval each past it, when Redis goes away.
    fleet_tat: Option<Instant>,
    /// The fleet's grid (µs) as Redis keeps it: the first process's configured interval, so
    /// that processes configured otherwise still keep one grid apart. 0 before the first answer.
    grid: u64,
    /// When the last slot was reserved.
    last_reserved: Option<Instant>,
    /// Back in touch with Redis after an outage, the fleet keeps its schedule apart until this
    /// moment: every process asks again within a second, and until it has, it keeps to its
    /// slots apart, which Redis's schedule must not meet.
    calm_until: Option<Instant>,
    /// The budget's epoch in Redis: a new one means Redis lost the budget (a restart, a flush).
    epoch: Option<String>,
    /// The version of the fleet's curve this process follows.
    version: u64,
    /// Whether the loss of Redis has been told for this outage.
    warned: bool,
    /// Whether this process's background request was first in the fleet's line at its last
    /// answer, and still waits: an interactive request of the process, told to leave the slot
    /// to that line, lets it go first.
    head_of_line: bool,
    /// An answer no retry will change (a wrong password, no permission, a cluster's MOVED):
    /// every request fails with it rather than going on unshared.
    refused: Option<String>,
}

impl Fleet {
    /// A fleet for the account of `api_key` at `base_url` through the Redis at `url`. Nothing is
    /// sent until the first request.
    pub(crate) fn new(
        url: &str,
        api_key: &str,
        base_url: &str,
        window: Duration,
    ) -> Result<Self, Error> {
        // The URL may carry a password: no message repeats it.
        let client = redis::Client::open(url).map_err(|e| {
            Error::InvalidInput(format!(
                "the Redis URL for the shared budget is not valid ({:?})",
                e.kind()
            ))
        })?;
        let tag = account_tag(api_key, base_url);
        Ok(Self {
            client,
            connection: Mutex::new(None),
            budget_key: format!("helpcrunch-pager:v1:{{{tag}}}:budget"),
            members_key: format!("helpcrunch-pager:v1:{{{tag}}}:members"),
            waiting_key: format!("helpcrunch-pager:v1:{{{tag}}}:line"),
            due_key: format!("helpcrunch-pager:v1:{{{tag}}}:line-due"),
            member: format!("{}-{:016x}", std::process::id(), fastrand::u64(..)),
            window,
            reserve: Script::new(RESERVE),
            limited: Script::new(LIMITED),
            state: Mutex::new(State::new()),
        })
    }

    /// Whether this process's background request waits first in the fleet's line.
    pub(crate) fn head_of_line(&self) -> bool {
        lock(&self.state).head_of_line
    }

    /// Whether to ask Redis now: always while it answers, once a second while it does not.
    pub(crate) fn worth_asking(&self) -> bool {
        let state = lock(&self.state);
        state.joined || state.last_call.is_none_or(|at| at.elapsed() >= RETRY_EVERY)
    }

    /// Whether the budget is shared now (Redis answered the last call).
    pub(crate) fn joined(&self) -> bool {
        lock(&self.state).joined
    }

    /// The processes last seen sharing the budget, at least one.
    pub(crate) fn members(&self) -> u32 {
        lock(&self.state).members.max(1)
    }

    /// Where in the fleet's slots the last 429 of any process came (0: none known).
    pub(crate) fn limited_seq(&self) -> u64 {
        lock(&self.state).limited_seq
    }

    /// The processes the schedule apart is shared by, at least one.
    pub(crate) fn members_apart(&self) -> u32 {
        lock(&self.state).apart.0.max(1)
    }

    /// Why Redis refused the budget for good, if it did.
    pub(crate) fn refused(&self) -> Option<Error> {
        lock(&self.state).refused.as_ref().map(|why| {
            Error::InvalidInput(format!(
                "the Redis of the shared budget refused it ({why}): check the URL's password, \
                 the user's permissions, that it is not a cluster node, and that it runs Lua \
                 scripts (EVAL, EVALSHA)"
            ))
        })
    }

    /// Whether this process was in a fleet and Redis does not answer now.
    pub(crate) fn apart(&self) -> bool {
        let state = lock(&self.state);
        !state.joined && state.anchor.is_some()
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
    pub(crate) fn slot_apart(&self, interval: Duration, grid: Duration) -> Option<Instant> {
        let state = lock(&self.state);
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

    /// This process's request went in its slot at `at`, of the schedule apart or not.
    pub(crate) fn sent(&self, at: Instant, apart: bool) {
        lock(&self.state).last_sent = Some((at, apart));
    }

    /// Back in touch after an outage (Redis answered this): learns, or sets, the moment the
    /// fleet takes turns in Redis again, and the fleet's curve where this process should take
    /// it. Reserves nothing.
    ///
    /// The calm moment leaves every other process time to ask again too: it asks once a
    /// second, at its next slot apart (a cycle of `interval` times the processes), and an ask
    /// may take a new connection's timeout, one in flight as Redis came back included. Asks
    /// twice: the first answer on a new connection came after setting it up (and, after a
    /// restart, loading the script), too slowly to anchor the clocks by.
    pub(crate) async fn rejoin(&self, interval: Duration, grid: Duration) -> Option<Option<Curve>> {
        let away = {
            let state = lock(&self.state);
            let cycle = interval.saturating_mul(state.apart.0.max(1));
            RETRY_EVERY + CONNECT_TIMEOUT * 2 + cycle + grid
        };
        let learn = Ask {
            away,
            grid,
            learn_only: true,
            ..Ask::default()
        };
        let first = self.ask(&learn).await?;
        let again = self.ask(&learn).await;
        again.map_or(first.curve, |a| a.curve.or(first.curve))
    }

    /// Reserves the next slot, `interval` before the one after; `None` when Redis does not
    /// answer.
    ///
    /// A process's first request, or its first after an idle minute, opens a connection on
    /// its way (a TLS handshake, on the real API) and reaches the server later than its slot;
    /// the next slot, another process's, would then follow it closer than the interval, which
    /// a strict leaky bucket refuses. So that request takes two intervals.
    ///
    /// A background request reserves its slot no sooner than a quarter of an interval before
    /// it, so that an interactive one, from any process, finds a slot at most about an interval
    /// and a quarter away; until then it is `deferred` (see `RESERVE`).
    pub(crate) async fn reserve(
        &self,
        interval: Duration,
        grid: Duration,
        lane: Priority,
    ) -> Option<Reservation> {
        let (after, not_before) = {
            let state = lock(&self.state);
            let cold = state
                .last_reserved
                .is_none_or(|at| at.elapsed() > COLD_AFTER);
            // Back from an outage: the slot comes no sooner than an interval after this
            // process's last request, which Redis did not see.
            let not_before = state
                .last_sent
                .and_then(|(last, _)| last.checked_add(interval))
                .map_or(Duration::ZERO, |at| {
                    at.saturating_duration_since(Instant::now())
                });
            let after = if cold {
                interval.saturating_mul(2)
            } else {
                interval
            };
            (after, not_before)
        };
        let ask = Ask {
            after,
            not_before,
            grid,
            lane,
            // An interactive request finds the next free slot at most this, and the interval
            // of the last slot reserved, away; the rest of the interval is lead for the
            // background request to be woken and answered in time for its slot.
            horizon: interval / 4,
            // A process in line asks again when told unless its own interactive calls hold
            // its turn (a slot or two) or Redis is slow to answer (a call's timeout, or a
            // new connection's): one that has not after that is gone.
            grace: interval.saturating_mul(2) + CONNECT_TIMEOUT,
            // Over a timer's millisecond and a round trip to Redis, under the horizon.
            lead: (interval / 16)
                .max(Duration::from_millis(2))
                .min(interval / 8),
            ..Ask::default()
        };
        let reply = self.ask(&ask).await?;
        let deferred = reply.seq == 0;
        let mut state = lock(&self.state);
        if !deferred {
            state.last_reserved = Some(Instant::now());
        }
        if lane == Priority::Background {
            state.head_of_line = deferred && reply.place == Some(0);
        }
        state.apart = (state.members, state.rank);
        Some(Reservation {
            at: reply.slot,
            seq: reply.seq,
            curve: reply.curve,
            deferred,
        })
    }

    /// Runs `RESERVE` (see there for the arguments) and keeps what it says of the fleet.
    async fn ask(&self, ask: &Ask) -> Option<Asked> {
        let left_at = lock(&self.state).last_answer.unwrap_or(0);
        let mut call = self.reserve.key(&self.budget_key);
        call.key(&self.members_key)
            .key(&self.waiting_key)
            .key(&self.due_key)
            .arg(micros(ask.after))
            .arg(&self.member)
            .arg(micros(self.membership()))
            .arg(self.lifetime_ms())
            .arg(micros(ask.not_before))
            .arg(new_epoch())
            .arg(micros(ask.away))
            .arg(micros(ask.grid).max(1))
            .arg(if ask.learn_only { "1" } else { "0" })
            .arg(left_at)
            .arg(match ask.lane {
                Priority::Interactive => "i",
                Priority::Background => "b",
            })
            .arg(micros(ask.horizon))
            .arg(micros(ask.grace))
            .arg(micros(ask.lead));
        let asked = Instant::now();
        type Reply = (
            (i64, u64, u32, u32, i64, u64, i64),
            (String, String, String),
            (i64, u64, i64, u64, i64),
        );
        let reply: Reply = self.call(&call).await?;
        let now = Instant::now();
        let (
            (wait, seq, members, rank, redis_now, version, age),
            (from, level, epoch),
            (calm, grid, tat, limited_seq, place),
        ) = reply;
        let mut state = lock(&self.state);
        let (anchor, anchor_redis) = state.anchored(asked, now, redis_now);
        state.last_answer = Some(redis_now);
        // Redis's times as this process's, through the anchor: the way there and back, slow
        // on a busy machine, does not move them.
        let at = |micros: i64| {
            let redis = redis_now.saturating_add(micros.max(0));
            let after = u64::try_from(redis.saturating_sub(anchor_redis)).unwrap_or(0);
            anchor + Duration::from_micros(after)
        };
        let midway = asked + (now - asked) / 2;
        state.members = members;
        state.rank = rank;
        state.calm_until = (calm > 0).then(|| at(calm));
        state.grid = grid;
        state.fleet_tat = Some(at(tat));
        state.limited_seq = limited_seq;
        let curve = state.follow(epoch, version, curve(midway, age, &from, &level));
        Some(Asked {
            slot: at(wait),
            place: u32::try_from(place).ok(),
            seq,
            curve,
        })
    }

    /// A 429: the fleet holds back for `pause`, and takes `cut` as its curve unless another
    /// process cut first. Returns the fleet's curve where this process should take it;
    /// `None` when Redis does not answer or the curve is the one it follows.
    pub(crate) async fn limited(
        &self,
        pause: Duration,
        cut: Option<(f64, f64)>,
    ) -> Option<Option<Curve>> {
        let (known, epoch) = {
            let state = lock(&self.state);
            (state.version, state.epoch.clone().unwrap_or_default())
        };
        let (from, level) = cut.map_or((String::new(), String::new()), |(f, l)| {
            (format!("{f:e}"), format!("{l:e}"))
        });
        let mut call = self.limited.key(&self.budget_key);
        call.arg(micros(pause))
            .arg(known)
            .arg(from)
            .arg(level)
            .arg(self.lifetime_ms())
            .arg(new_epoch())
            .arg(epoch);
        let asked = Instant::now();
        let reply: (u64, i64, String, String, String) = self.call(&call).await?;
        let now = Instant::now();
        let (version, age, from, level, epoch) = reply;
        let midway = asked + (now - asked) / 2;
        let fleet = curve(midway, age, &from, &level);
        lock(&self.state).follow(epoch, version, fleet)
    }

    /// Runs `call` with a timeout; keeps whether Redis answered, and tells when that changes.
    async fn call<T: redis::FromRedisValue>(
        &self,
        call: &redis::ScriptInvocation<'_>,
    ) -> Option<T> {
        let (mut connection, answered) = match self.connection() {
            Ok(c) => c,
            Err(e) => return self.failed(Some(e)),
        };
        // A connection that has not answered yet may need a TLS handshake and a password first.
        let limit = if answered {
            CALL_TIMEOUT
        } else {
            CONNECT_TIMEOUT
        };
        let result = tokio::time::timeout(limit, call.invoke_async::<T>(&mut connection)).await;
        match result {
            Ok(Ok(reply)) => {
                if let Some((_, answered)) = lock(&self.connection).as_mut() {
                    *answered = true;
                }
                let mut state = lock(&self.state);
                state.last_call = Some(Instant::now());
                if !state.joined && state.warned {
                    tracing::info!("Redis answers again: the rate budget is shared once more");
                }
                state.joined = true;
                state.warned = false;
                state.refused = None;
                Some(reply)
            }
            failed => {
                let error = failed.ok().and_then(Result::err);
                // The next call starts on a new connection: redis-rs keeps one that timed out,
                // and one whose set-up was refused (a wrong password) answers every later call
                // with that refusal without asking Redis again.
                *lock(&self.connection) = None;
                self.failed(error)
            }
        }
    }

    /// A call failed with `error`, or with no answer in time.
    fn failed<T>(&self, error: Option<redis::RedisError>) -> Option<T> {
        let mut state = lock(&self.state);
        state.last_call = Some(Instant::now());
        state.joined = false;
        if let Some(e) = error.as_ref().filter(|e| !is_outage(e)) {
            // Not an outage: a wrong password, no permission, a cluster's MOVED. Going on
            // unshared would silently put every process at the full rate; asked again once a
            // second all the same, in case it was mended.
            let why = format!(
                "{:?}{}",
                e.kind(),
                e.code().map(|c| format!(" {c}")).unwrap_or_default()
            );
            tracing::error!(error = %why, "Redis refused the shared rate budget");
            state.refused = Some(why);
            return None;
        }
        // A refusal stands until Redis answers: an outage after it does not make this process
        // one that may go on unshared.
        if state.refused.is_some() {
            return None;
        }
        if !state.warned {
            state.warned = true;
            let why = match &error {
                None => "did not answer in time".to_owned(),
                Some(e) => format!("failed ({:?})", e.kind()),
            };
            let known = state.anchor.is_some();
            tracing::warn!(
                members = state.members,
                "Redis {why}: {}",
                if known {
                    "each process keeps its share of the fleet's schedule until it answers again"
                } else {
                    "this process never reached it and knows no fleet; it goes at the full \
                     rate, the adaptive rate its only guard, until Redis answers"
                }
            );
        }
        None
    }

    /// The connection, and whether it has answered a call yet.
    fn connection(&self) -> redis::RedisResult<(ConnectionManager, bool)> {
        let mut slot = lock(&self.connection);
        if let Some((c, answered)) = slot.as_ref() {
            return Ok((c.clone(), *answered));
        }
        // No response timeout of its own: the call's, around it, decides, and makes a new
        // connection when it runs out.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(None)
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let c = ConnectionManager::new_lazy_with_config(self.client.clone(), config)?;
        *slot = Some((c.clone(), false));
        Ok((c, false))
    }

    /// How long a process counts among the fleet's without a request: a window, at least ten
    /// seconds, so that a process of a large fleet at a slow rate does not drop out between
    /// two of its turns (and the ranks with it).
    fn membership(&self) -> Duration {
        self.window.max(Duration::from_secs(10))
    }

    /// The keys outlive an idle fleet by ten windows, at least a minute.
    fn lifetime_ms(&self) -> u64 {
        (self.window * 10)
            .max(Duration::from_secs(60))
            .as_millis()
            .try_into()
            .unwrap_or(u64::MAX)
    }
}

impl State {
    /// A process that has not asked Redis yet.
    fn new() -> Self {
        Self {
            joined: false,
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
    fn anchored(&mut self, asked: Instant, now: Instant, redis_now: i64) -> (Instant, i64) {
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
    fn follow(
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
}

/// Whether a failed call is Redis being away (down, restarting, failing over, out of memory,
/// busy), which a later call may find over, rather than Redis refusing this client: a wrong
/// password, a user without the permission, a cluster node that is not this key's, a client
/// configured wrong, a Redis that runs no scripts or cannot run this one.
fn is_outage(e: &redis::RedisError) -> bool {
    use redis::{ErrorKind, ServerErrorKind};
    let refused = matches!(
        e.kind(),
        ErrorKind::AuthenticationFailed
            | ErrorKind::InvalidClientConfig
            | ErrorKind::Server(
                ServerErrorKind::NoPerm
                    | ServerErrorKind::Moved
                    | ServerErrorKind::Ask
                    | ServerErrorKind::CrossSlot
            )
    ) || matches!(e.code(), Some("NOAUTH" | "WRONGPASS" | "NOPERM"))
        // Redis 7 answers a long command from a client that has not authenticated so.
        || e.detail().is_some_and(|d| d.contains("unauthenticated"))
        // A Redis that runs no scripts (EVAL renamed away, as some hosted ones do), or a
        // script it cannot run: asking again will not mend either, and going on alone would
        // put every process at the full rate.
        // (An OOM or a BUSY inside the script is an outage: it has codes of its own.)
        || (e.code().is_none_or(|c| c == "ERR")
            && e.detail().is_some_and(|d| {
                let d = d.to_ascii_lowercase();
                d.contains("unknown command")
                    || d.contains("user_script")
                    || d.contains("running script")
            }));
    !refused
}

/// An epoch for a budget Redis does not have yet.
fn new_epoch() -> String {
    format!("{:016x}", fastrand::u64(..))
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Neither the Redis URL (it may carry a password) nor the key's hash.
        f.debug_struct("Fleet")
            .field("state", &*lock(&self.state))
            .finish_non_exhaustive()
    }
}

/// The account's tag in Redis: the first 128 bits of SHA-256 over the key and base URL, hex.
fn account_tag(api_key: &str, base_url: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(api_key.as_bytes());
    hash.update([0]);
    hash.update(base_url.as_bytes());
    hash.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn curve(now: Instant, age: i64, from: &str, level: &str) -> Option<Curve> {
    let age = u64::try_from(age).ok()?;
    let cut_at = now.checked_sub(Duration::from_micros(age))?;
    Some((cut_at, from.parse().ok()?, level.parse().ok()?))
}

fn micros(d: Duration) -> u64 {
    d.as_micros().try_into().unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tag_hides_the_key_and_tells_accounts_apart() {
        let tag = account_tag("secret-key", "https://api.helpcrunch.com/v1");
        assert_eq!(tag.len(), 32);
        assert!(!tag.contains("secret"));
        assert_eq!(
            tag,
            account_tag("secret-key", "https://api.helpcrunch.com/v1")
        );
        assert_ne!(
            tag,
            account_tag("other-key", "https://api.helpcrunch.com/v1")
        );
        assert_ne!(tag, account_tag("secret-key", "http://127.0.0.1:9/v1"));
    }

    #[test]
    fn a_bad_url_is_refused_without_repeating_it() {
        let e = Fleet::new(
            "nonsense://user:hunter2@host",
            "k",
            "u",
            Duration::from_secs(60),
        )
        .unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }

    #[test]
    fn a_curve_is_read_back_from_its_age() {
        let now = Instant::now();
        let (cut_at, from, level) = curve(now, 1_500_000, "1e0", "2.5e0").unwrap();
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
        let c1 = Some((now, 1.0, 2.0));
        let c2 = Some((now, 3.0, 4.0));
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
            let fleet =
                Fleet::new("redis://127.0.0.1:1/", "k", "u", Duration::from_secs(1)).unwrap();
            {
                let mut s = lock(&fleet.state);
                s.apart = (3, rank);
                s.anchor = Some((anchor, 1_000_000_000_000));
            }
            let mut got = Vec::new();
            for _ in 0..4 {
                let at = fleet.slot_apart(grid, grid).unwrap();
                fleet.sent(at, true);
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
