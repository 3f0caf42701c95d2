//! When a request may go: the budget ([`budget`]) and its parts, the lanes ([`turns`]), the
//! gate a 429 closes ([`gate`]), the pace ([`pace`], over the adaptive rate of [`adaptive`]),
//! the slot source ([`source`]: this process's [`local`] limiter, or the [`fleet`]'s schedule
//! in Redis), and the answer protocol ([`permit`]) through which the server's signals
//! ([`signals`]) reach them.

pub(crate) mod adaptive;
pub(crate) mod budget;
#[cfg(feature = "redis")]
pub(crate) mod fleet;
pub(crate) mod gate;
pub(crate) mod local;
pub(crate) mod lock;
pub(crate) mod pace;
pub(crate) mod permit;
pub(crate) mod priority;
pub(crate) mod signals;
pub(crate) mod source;
pub(crate) mod turns;
