//! When a request may go: the budget, its lanes, the adaptive rate, the server's signals, and
//! the fleet's shared budget in Redis.

pub(crate) mod adaptive;
pub(crate) mod budget;
#[cfg(feature = "redis")]
pub(crate) mod fleet;
pub(crate) mod priority;
pub(crate) mod signals;
pub(crate) mod turns;
