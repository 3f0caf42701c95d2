//! [`ClientStats`]: what a client and its clones have sent so far, for progress displays and
//! logs.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counts of what a [`Client`](crate::Client) and its clones have done, across every stream.
///
/// ```
/// let client = helpcrunch_pager::Client::builder().api_key("my-key").build()?;
/// let stats = client.stats();
/// assert_eq!((stats.requests, stats.rate_limited, stats.retries), (0, 0, 0));
/// # Ok::<(), helpcrunch_pager::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ClientStats {
    /// Requests sent, retries included.
    pub requests: u64,
    /// Answers that were `429 Too Many Requests`.
    pub rate_limited: u64,
    /// Requests that were a retry of an earlier one.
    pub retries: u64,
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

    pub(crate) fn snapshot(&self) -> ClientStats {
        ClientStats {
            requests: self.requests.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
        }
    }
}
