//! [`Budget`]: the rate budget every request of a [`Client`](crate::Client) draws from, one per
//! account in a process. A request takes its turn in its lane ([`crate::rate::turns`]), waits
//! for the gate a 429 closes ([`crate::rate::gate`]), and takes the next slot of its source
//! ([`crate::rate::source`]: this process's limiter, or the fleet's schedule in Redis) at the
//! pace the budget keeps ([`crate::rate::pace`]). What it gets is a [`Permit`], settled with
//! the request's answer ([`crate::rate::permit`]).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use crate::error::Error;
use crate::rate::gate::Gate;
use crate::rate::local::Local;
use crate::rate::lock::lock;
use crate::rate::pace::Pace;
use crate::rate::permit::{Parts, Permit};
use crate::rate::priority::Priority;
use crate::rate::source::Source;
use crate::rate::turns::Turns;

/// The default safety margin: 2 % slower than the account's limit (see
/// [`crate::rate::local`]).
pub(crate) const DEFAULT_MARGIN: f64 = 0.02;

/// An account's rate budget.
pub(crate) struct Budget {
    /// Requests take their turn at the budget first come, first served (tokio's mutex is
    /// fair). governor alone grants whichever waiter wakes first, so a scan's oldest window
    /// could lose round after round while later ones finish and fill the stream's buffer, and
    /// the scan would stall for a whole server latency.
    ///
    /// They queue in two lanes ([`Priority`]): interactive calls ahead of a scan's windows,
    /// taking turns with them while both wait.
    turns: Turns,
    gate: Gate,
    pace: Pace,
    source: Source,
    /// How this budget was made: a client built with other settings for the same account is
    /// told that the first one's hold.
    settings: Settings,
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
    /// Whether Redis ever answered.
    pub(crate) redis_reached: bool,
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
        // Bad settings are refused even where a live client's budget would be joined.
        Self::checked(&settings)?;
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
        let (interval, local) = Self::checked(&settings)?;
        let Settings {
            margin,
            adaptive_window,
            ..
        } = settings;
        #[cfg(feature = "redis")]
        let source = match settings.redis_url.as_deref() {
            Some(url) => {
                let window = adaptive_window.unwrap_or(Duration::from_secs(60));
                let fleet = crate::rate::fleet::Fleet::new(url, api_key, base_url, window)?;
                Source::Fleet {
                    fleet: Box::new(fleet),
                    alone: local,
                }
            }
            None => Source::Local(local),
        };
        #[cfg(not(feature = "redis"))]
        let source = match settings.redis_url {
            Some(_) => {
                return Err(Error::InvalidInput(
                    "a budget shared through Redis needs the crate's `redis` feature".into(),
                ))
            }
            None => Source::Local(local),
        };
        let in_fleet = settings.redis_url.is_some();
        Ok(Self {
            turns: Turns::default(),
            gate: Gate::default(),
            pace: Pace::new(interval, margin, adaptive_window, in_fleet),
            source,
            settings,
        })
    }

    /// The settings' interval and local limiter, or the error that names the bad setting.
    fn checked(settings: &Settings) -> Result<(Duration, Local), Error> {
        let Settings {
            requests_per_minute,
            margin,
            ..
        } = *settings;
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
        let local = Local::new(interval, margin).ok_or_else(|| {
            Error::InvalidInput(format!(
                "requests_per_minute {requests_per_minute} is too high"
            ))
        })?;
        Ok((interval, local))
    }

    fn interval_for(requests_per_minute: u32, margin: f64) -> Duration {
        Duration::from_secs(60)
            .div_f64(f64::from(requests_per_minute))
            .mul_f64(1.0 + margin)
    }

    /// The spacing between two requests now.
    pub(crate) fn interval(&self) -> Duration {
        self.pace.interval()
    }

    /// The rate kept now, the ceiling, how often the rate has changed, and who shares it.
    pub(crate) fn rate(&self) -> Rate {
        #[cfg(feature = "redis")]
        let (processes, redis_connected, redis_reached) =
            self.source.fleet().map_or((0, false, false), |f| {
                (f.members(), f.joined(), f.reached())
            });
        #[cfg(not(feature = "redis"))]
        let (processes, redis_connected, redis_reached) = (0, false, false);
        let (per_minute, ceiling_per_minute, changes) = self.pace.per_minute();
        Rate {
            per_minute,
            ceiling_per_minute,
            changes,
            processes,
            redis_connected,
            redis_reached,
        }
    }

    /// Waits, in turn, until the gate is open and the slot source grants one request; returns
    /// the request's permit, to be settled with its answer. Fails only where the Redis of a
    /// shared budget refused it for good (see [`Source::slot`]).
    pub(crate) async fn acquire(&self, lane: Priority) -> Result<Permit<'_>, Error> {
        // Holding the turn while asleep until a fleet's slot keeps one slot a process at most:
        // the fleet takes turns process by process, however many streams each runs.
        let mut turn = self.turns.take(lane).await;
        let sent_at = self.source.slot(&mut turn, &self.gate, &self.pace).await?;
        Ok(Permit::new(sent_at, self.parts()))
    }

    /// What an answer updates.
    fn parts(&self) -> Parts<'_> {
        Parts {
            gate: &self.gate,
            pace: &self.pace,
            #[cfg(feature = "redis")]
            fleet: self.source.fleet(),
        }
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
            .field("interval", &self.pace.configured())
            .field("adaptive", &self.pace.is_adaptive())
            .field("paused_until", &self.gate.closed_until())
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
            let _ = budget.acquire(Priority::Background).await.unwrap();
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
        let _ = budget.acquire(Priority::Background).await.unwrap();
        budget.gate.close_for(Duration::from_millis(80), MINUTE);
        budget.gate.close_for(Duration::from_millis(10), MINUTE); // a shorter pause does not shorten it
        let start = std::time::Instant::now();
        let _ = budget.acquire(Priority::Background).await.unwrap();
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
            .gate
            .close_for(Duration::MAX, Duration::from_millis(60));
        let start = std::time::Instant::now();
        let _ = budget.acquire(Priority::Background).await.unwrap();
        let took = start.elapsed();
        assert!(took < Duration::from_secs(2), "{took:?}");
        assert!(
            took >= Duration::from_millis(50),
            "{took:?}: the pause was skipped"
        );
    }

    /// A request cancelled after its grant still spent its slot (it may have reached the
    /// server); one cancelled while it waited took none, and holds no turn.
    #[tokio::test]
    async fn a_cancelled_request_spends_its_slot_and_a_cancelled_wait_none() {
        let budget = budget(600, 0.0).unwrap(); // one per 100 ms
        drop(budget.acquire(Priority::Background).await.unwrap());
        let start = std::time::Instant::now();
        let waiting = budget.acquire(Priority::Background);
        let cancelled = tokio::time::timeout(Duration::from_millis(20), waiting).await;
        assert!(
            cancelled.is_err(),
            "the slot after a dropped permit was free"
        );
        let _ = budget.acquire(Priority::Interactive).await.unwrap();
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(90), "{took:?}");
        assert!(
            took < Duration::from_millis(190),
            "{took:?}: the cancelled wait took a slot"
        );
        assert!(budget.gate.closed_until().is_none());
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
