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
//!   pace (see [`Adaptive::granted_as`](crate::adaptive::Adaptive::granted_as));
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

/// How long a Redis call may take before this process goes on without Redis.
const CALL_TIMEOUT: Duration = Duration::from_millis(250);
/// How often a process without Redis asks again.
const RETRY_EVERY: Duration = Duration::from_secs(1);
/// After this long without a request, a process's connections may have closed (servers close
/// idle keep-alive connections after a minute or so).
const COLD_AFTER: Duration = Duration::from_secs(60);

/// Reserves the next slot. `KEYS`: the budget hash, the members set. `ARGV`: the interval
/// after this request (µs), this process's id, how long a process counts as a member without
/// a request (µs), the keys' lifetime (ms). Returns the wait until the slot (µs), the slot's
/// number, the members, this process's rank among them (by id), Redis's time (µs), the curve's
/// version, its age (µs, -1 for none), `from`, `level`.
const RESERVE: &str = r"
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local b = redis.call('HMGET', KEYS[1], 'tat', 'version', 'cut_at', 'from', 'level')
local slot = math.max(now, tonumber(b[1]) or 0)
redis.call('HSET', KEYS[1], 'tat', string.format('%.0f', slot + tonumber(ARGV[1])))
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
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
local age = -1
if b[3] then age = now - tonumber(b[3]) end
return {slot - now, seq, #all, rank, now, tonumber(b[2]) or 0, age, b[4] or '', b[5] or ''}
";

/// A 429: holds every slot back until the pause is over, and cuts the fleet's curve if nobody
/// has since this process last saw it. `ARGV`: the pause (µs), the curve's version this
/// process knows, the cut's `from` and `level` ('' for no cut), the keys' lifetime (ms).
/// Returns the curve as `RESERVE` does: version, age, `from`, `level`.
const LIMITED: &str = r"
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('HGET', KEYS[1], 'tat')) or 0
local resume = now + tonumber(ARGV[1])
if resume > tat then
  redis.call('HSET', KEYS[1], 'tat', string.format('%.0f', resume))
end
local version = tonumber(redis.call('HGET', KEYS[1], 'version')) or 0
if ARGV[3] ~= '' and version == tonumber(ARGV[2]) then
  version = version + 1
  redis.call('HSET', KEYS[1], 'cut_at', string.format('%.0f', now), 'from', ARGV[3],
    'level', ARGV[4], 'version', version)
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
local c = redis.call('HMGET', KEYS[1], 'cut_at', 'from', 'level')
local age = -1
if c[1] then age = now - tonumber(c[1]) end
return {version, age, c[2] or '', c[3] or ''}
";

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
}

pub(crate) struct Fleet {
    client: redis::Client,
    connection: tokio::sync::OnceCell<ConnectionManager>,
    budget_key: String,
    members_key: String,
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
    /// A moment of this process's clock and the same moment of Redis's (µs), from the last
    /// answer: where the fleet's slots fall when Redis is gone.
    anchor: Option<(Instant, i64)>,
    /// The spacing of the fleet's slots at the last answer, in µs.
    grid: u64,
    /// When the last request went while Redis did not answer.
    last_apart: Option<Instant>,
    /// When the last slot was reserved.
    last_reserved: Option<Instant>,
    /// The version of the fleet's curve this process follows.
    version: u64,
    /// Whether the loss of Redis has been told for this outage.
    warned: bool,
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
            connection: tokio::sync::OnceCell::new(),
            budget_key: format!("helpcrunch-pager:v1:{{{tag}}}:budget"),
            members_key: format!("helpcrunch-pager:v1:{{{tag}}}:members"),
            member: format!("{}-{:016x}", std::process::id(), fastrand::u64(..)),
            window,
            reserve: Script::new(RESERVE),
            limited: Script::new(LIMITED),
            state: Mutex::new(State {
                joined: true,
                last_call: None,
                members: 1,
                rank: 0,
                anchor: None,
                grid: 1,
                last_apart: None,
                last_reserved: None,
                version: 0,
                warned: false,
            }),
        })
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

    /// While Redis does not answer: when this process's next slot is, at least `interval`
    /// times the fleet's size after its last request. The fleet's last schedule goes on
    /// without Redis, each process keeping every `n`th slot of it by its rank, so that
    /// processes apart never send at once (a leaky bucket with no burst would refuse the
    /// second) and the fleet together never passes the rate it kept. `None` for a process that
    /// never reached Redis: it knows no fleet.
    pub(crate) fn slot_apart(&self, interval: Duration) -> Option<Instant> {
        let state = lock(&self.state);
        let (anchor, anchor_redis) = state.anchor?;
        let n = i128::from(state.members.max(1));
        let rank = i128::from(state.rank) % n;
        let grid = i128::from(state.grid);
        let now = Instant::now();
        let earliest = state
            .last_apart
            .and_then(|last| last.checked_add(interval.saturating_mul(state.members.max(1))))
            .map_or(now, |e| e.max(now));
        // As µs of Redis's clock; a later moment than the anchor, always.
        let t = i128::from(anchor_redis)
            + earliest.saturating_duration_since(anchor).as_micros() as i128;
        let first = (t + grid - 1).div_euclid(grid);
        let k = first + (rank - first).rem_euclid(n);
        let after_anchor = u64::try_from(k * grid - i128::from(anchor_redis)).ok()?;
        anchor.checked_add(Duration::from_micros(after_anchor))
    }

    /// A request went at `at` while Redis did not answer.
    pub(crate) fn sent_apart(&self, at: Instant) {
        lock(&self.state).last_apart = Some(at);
    }

    /// Reserves the next slot, `interval` before the one after; `None` when Redis does not
    /// answer.
    ///
    /// A process's first request, or its first after an idle minute, opens a connection on
    /// its way (a TLS handshake, on the real API) and reaches the server later than its slot;
    /// the next slot, another process's, would then follow it closer than the interval, which
    /// a strict leaky bucket refuses. So that request takes two intervals.
    pub(crate) async fn reserve(&self, interval: Duration) -> Option<Reservation> {
        let cold = lock(&self.state)
            .last_reserved
            .is_none_or(|at| at.elapsed() > COLD_AFTER);
        let after = if cold {
            interval.saturating_mul(2)
        } else {
            interval
        };
        let mut call = self.reserve.key(&self.budget_key);
        call.key(&self.members_key)
            .arg(micros(after))
            .arg(&self.member)
            .arg(micros(self.window))
            .arg(self.lifetime_ms());
        let asked = Instant::now();
        let reply: (i64, u64, u32, u32, i64, u64, i64, String, String) = self.call(&call).await?;
        let now = Instant::now();
        let (wait, seq, members, rank, redis_now, version, age, from, level) = reply;
        let mut state = lock(&self.state);
        state.members = members;
        state.rank = rank;
        // Redis read its clock about halfway through the round trip.
        state.anchor = Some((asked + (now - asked) / 2, redis_now));
        state.grid = micros(interval).max(1);
        state.last_apart = None;
        state.last_reserved = Some(now);
        let curve = (state.version != version).then(|| {
            state.version = version;
            curve(now, age, &from, &level)
        });
        Some(Reservation {
            at: now + Duration::from_micros(wait.max(0).unsigned_abs()),
            seq,
            curve,
        })
    }

    /// A 429: the fleet holds back for `pause`, and takes `cut` as its curve unless another
    /// process cut first. Returns the fleet's curve where it is not the one this process knew;
    /// `None` when Redis does not answer.
    pub(crate) async fn limited(
        &self,
        pause: Duration,
        cut: Option<(f64, f64)>,
    ) -> Option<Option<Curve>> {
        let known = lock(&self.state).version;
        let (from, level) = cut.map_or((String::new(), String::new()), |(f, l)| {
            (format!("{f:e}"), format!("{l:e}"))
        });
        let mut call = self.limited.key(&self.budget_key);
        call.arg(micros(pause))
            .arg(known)
            .arg(from)
            .arg(level)
            .arg(self.lifetime_ms());
        let reply: (u64, i64, String, String) = self.call(&call).await?;
        let now = Instant::now();
        let (version, age, from, level) = reply;
        let mut state = lock(&self.state);
        (state.version != version || cut.is_some()).then(|| {
            state.version = version;
            curve(now, age, &from, &level)
        })
    }

    /// Runs `call` with a timeout; keeps whether Redis answered, and tells when that changes.
    async fn call<T: redis::FromRedisValue>(
        &self,
        call: &redis::ScriptInvocation<'_>,
    ) -> Option<T> {
        let result = tokio::time::timeout(CALL_TIMEOUT, async {
            let mut connection = self.connection().await?.clone();
            call.invoke_async::<T>(&mut connection).await
        })
        .await;
        let mut state = lock(&self.state);
        state.last_call = Some(Instant::now());
        match result {
            Ok(Ok(reply)) => {
                if !state.joined {
                    tracing::info!("Redis answers again: the rate budget is shared once more");
                }
                state.joined = true;
                state.warned = false;
                Some(reply)
            }
            failed => {
                state.joined = false;
                if !state.warned {
                    state.warned = true;
                    let why = match failed {
                        Err(_) => "did not answer in time".to_owned(),
                        Ok(Err(e)) => format!("failed ({:?})", e.kind()),
                        Ok(Ok(_)) => unreachable!(),
                    };
                    tracing::warn!(
                        members = state.members,
                        "Redis {why}: each process keeps a local budget at its share until it \
                         answers again"
                    );
                }
                None
            }
        }
    }

    async fn connection(&self) -> redis::RedisResult<&ConnectionManager> {
        self.connection
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(CALL_TIMEOUT))
                    .set_response_timeout(Some(CALL_TIMEOUT))
                    .set_number_of_retries(1)
                    .set_min_delay(Duration::from_millis(50))
                    .set_max_delay(Duration::from_millis(500));
                ConnectionManager::new_lazy_with_config(self.client.clone(), config)
            })
            .await
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
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
}
