//! How a request is sent: the client and its builder, the send loop, the one rule for where a
//! request may go, single calls, the middleware, the retry policy and the client's counters.

pub(crate) mod builder;
pub(crate) mod call;
pub(crate) mod client;
#[cfg(feature = "middleware")]
pub(crate) mod middleware;
pub(crate) mod redact;
pub mod retry;
pub(crate) mod stats;
pub(crate) mod target;
