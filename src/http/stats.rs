//! [`ClientStats`]: what a client and its clones have sent so far, for progress displays and
//! logs.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::rate::budget::Rate;

/// Counts of what a [`Client`](crate::Client) and its clones have done, across every stream.
///
/// ```
/// let client = helpcrunch_pager::Client::builder().api_key("my-key").build()?;
/// let stats = client.stats();
/// assert_eq!((stats.requests, stats.rate_limited, stats.retries), (0, 0, 0));
/// // 120 a minute with the 2 % margin, and no reason to change it yet.
/// assert_eq!(stats.rate_per_minute, 120.0 / 1.02);
/// assert_eq!(stats.rate_changes, 0);
/// # Ok::<(), helpcrunch_pager::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[non_exhaustive]
pub struct ClientStats {
    /// Requests sent, retries included.
    pub requests: u64,
    /// Answers that were `429 Too Many Requests`.
    pub rate_limited: u64,
    /// Requests that were a retry of an earlier one.
    pub retries: u64,
    /// The rate the budget keeps now, in requests a minute: the configured rate with its
    /// margin, or less where the adaptive rate has learned the server allows less.
    pub rate_per_minute: f64,
    /// The most the budget will go to: the configured rate with its margin, or the server's
    /// limit headers where they say less.
    pub ceiling_per_minute: f64,
    /// How many times the adaptive rate has changed: each cut after a 429, each change of the
    /// ceiling, and each step of 5 % of the ceiling on the way back up.
    pub rate_changes: u64,
    /// Where the budget is shared through Redis
    /// ([`ClientBuilder::shared_budget`](crate::ClientBuilder::shared_budget)): the processes
    /// last seen sharing it, this one included (a process counts until a window, see
    /// [`ClientBuilder::rate_window`](crate::ClientBuilder::rate_window), has passed without
    /// a request from it). 0 where it is not.
    pub sharing_processes: u32,
    /// Whether the Redis sharing the budget answered its last call. While it does not, each
    /// process keeps a local budget at its share: the rate over `sharing_processes`.
    pub redis_connected: bool,
    /// Whether the Redis sharing the budget ever answered this client's budget: where it never
    /// did, nothing was shared, and the client kept the whole rate alone.
    pub redis_reached: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    requests: AtomicU64,
    rate_limited: AtomicU64,
    retries: AtomicU64,
}

impl Counters {
    pub(crate) fn sent(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn rate_limited(&self) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn retrying(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self, rate: Rate) -> ClientStats {
        ClientStats {
            requests: self.requests.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            rate_per_minute: rate.per_minute,
            ceiling_per_minute: rate.ceiling_per_minute,
            rate_changes: rate.changes,
            sharing_processes: rate.processes,
            redis_connected: rate.redis_connected,
            redis_reached: rate.redis_reached,
        }
    }
}
