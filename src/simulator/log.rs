//! What the simulator has seen: each request as it arrived, and the counters over them.

use std::time::Duration;

use super::fault::Fault;

/// What the simulator has seen so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Every request that reached the server.
    pub requests: u64,
    /// Requests answered 429.
    pub rate_limited: u64,
}

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestRecord {
    /// When it arrived, from the server's start.
    pub at: Duration,
    /// Its method, such as `GET`.
    pub method: String,
    /// Its path, such as `/v1/departments`.
    pub path: String,
    /// Its query string, without the `?` (empty where there was none).
    pub query: String,
    /// Its body, where it had one.
    pub body: Option<String>,
    /// Its `offset` (from the query, or the body of a search), where it had a readable one.
    pub offset: Option<u64>,
    /// The status it was answered with (0: no answer, the connection was dropped).
    pub status: u16,
    /// The fault injected into the answer, if any.
    pub fault: Option<Fault>,
}
