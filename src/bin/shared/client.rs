//! The client a run reads through, made from the program's settings: the account's rate
//! budget (shared through Redis where one is given) and the retries.

use std::time::Duration;

use helpcrunch_pager::{Client, RetryPolicy};

use super::describe::describe;
use super::failure::Failure;

/// A value that may carry a secret (a key, a Redis URL with a password): its `Debug` shows
/// none of it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Redacted(pub(crate) String);

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How to reach the account and how fast to read it.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) base_url: String,
    pub(crate) api_key: Redacted,
    pub(crate) requests_per_minute: u32,
    pub(crate) adaptive: bool,
    pub(crate) rate_window: Duration,
    /// The Redis sharing the budget.
    pub(crate) redis_url: Option<Redacted>,
    /// How long one request may keep retrying.
    pub(crate) retry_for: Duration,
    /// How long to wait for a server that has not answered once.
    pub(crate) first_contact: Duration,
}

/// The client `settings` describe, or why there is none, its settings named by `terms` (see
/// [`describe`]).
pub(crate) fn connect(settings: &Settings, terms: &[(&str, &str)]) -> Result<Client, Failure> {
    let mut builder = Client::builder()
        .api_key(settings.api_key.0.clone())
        .base_url(settings.base_url.clone())
        .requests_per_minute(settings.requests_per_minute)
        .adaptive(settings.adaptive)
        .rate_window(settings.rate_window)
        // No attempt cap: the time alone says how long a request keeps trying.
        .retry_policy(
            RetryPolicy::new()
                .with_max_total_wait(settings.retry_for)
                .with_first_contact(settings.first_contact),
        );
    if let Some(url) = &settings.redis_url {
        builder = builder.shared_budget(url.0.clone());
    }
    builder
        .build()
        .map_err(|e| Failure::usage(describe(&e, terms)))
}
