//! [`Fleet`]: this process's side of the budget shared through Redis: it reserves slots of the
//! fleet's schedule, tells the fleet of a 429, and keeps what the fleet said ([`State`]).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::Script;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use crate::error::Error;
use crate::rate::adaptive::Curve;
use crate::rate::fleet::connection::{is_outage, Connection, CONNECT_TIMEOUT};
use crate::rate::fleet::scripts::{self, Ask, Asked};
use crate::rate::fleet::state::{curve, micros, State};
use crate::rate::lock::lock;
use crate::rate::priority::Priority;

/// How often a process without Redis asks again.
const RETRY_EVERY: Duration = Duration::from_secs(1);
/// After this long without a request, a process's connections may have closed (servers close
/// idle keep-alive connections after a minute or so).
const COLD_AFTER: Duration = Duration::from_secs(60);

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

/// The budget shared through Redis by every process on one key: this process's side of it.
pub(crate) struct Fleet {
    /// Shared with the budgets of the other accounts on the same Redis.
    connection: Arc<Connection>,
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

impl Fleet {
    /// A fleet for the account of `api_key` at `base_url` through the Redis at `url`. Nothing is
    /// sent until the first request.
    pub(crate) fn new(
        url: &str,
        api_key: &str,
        base_url: &str,
        window: Duration,
    ) -> Result<Self, Error> {
        let tag = account_tag(api_key, base_url);
        Ok(Self {
            connection: Connection::shared(url)?,
            budget_key: format!("helpcrunch-pager:v1:{{{tag}}}:budget"),
            members_key: format!("helpcrunch-pager:v1:{{{tag}}}:members"),
            waiting_key: format!("helpcrunch-pager:v1:{{{tag}}}:line"),
            due_key: format!("helpcrunch-pager:v1:{{{tag}}}:line-due"),
            member: format!("{}-{:016x}", std::process::id(), fastrand::u64(..)),
            window,
            reserve: scripts::reserve(),
            limited: scripts::limited(),
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

    /// Whether Redis ever answered this process's budget.
    pub(crate) fn reached(&self) -> bool {
        lock(&self.state).reached
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
                 the user's permissions, and that it runs Lua \
                 scripts (EVAL, EVALSHA)"
            ))
        })
    }

    /// Whether this process was in a fleet and Redis does not answer now.
    pub(crate) fn apart(&self) -> bool {
        let state = lock(&self.state);
        !state.joined && state.anchor.is_some()
    }

    /// This process's next slot of the schedule apart, where it keeps to it (see
    /// [`State::slot_apart`]); `None` for a process that never reached Redis, or one back in
    /// the fleet's schedule.
    pub(crate) fn slot_apart(&self, interval: Duration, grid: Duration) -> Option<Instant> {
        lock(&self.state).slot_apart(interval, grid)
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
    /// and a quarter away; until then it is `deferred` (see `reserve.lua`).
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

    /// Runs `reserve.lua` (see [`scripts::reserve`] for the arguments) and keeps what it says of the fleet.
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
        match self.connection.invoke(call).await {
            Ok(reply) => {
                let mut state = lock(&self.state);
                state.last_call = Some(Instant::now());
                if !state.joined && state.warned {
                    tracing::info!("Redis answers again: the rate budget is shared once more");
                }
                state.joined = true;
                state.reached = true;
                state.warned = false;
                state.refused = None;
                Some(reply)
            }
            Err(error) => self.failed(error),
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
}
