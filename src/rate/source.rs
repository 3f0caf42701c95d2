//! [`Source`]: where a budget's slots come from: this process alone, or a fleet of processes
//! that share them through Redis.

use tokio::time::Instant;

use crate::error::Error;
use crate::rate::gate::Gate;
use crate::rate::local::Local;
use crate::rate::pace::Pace;
use crate::rate::turns::Turn;

/// The slot source of a budget.
#[derive(Debug)]
pub(crate) enum Source {
    /// This process's own limiter.
    Local(Local),
    /// The fleet's schedule in Redis, and this process's own limiter for while it knows no
    /// fleet (Redis never reached).
    #[cfg(feature = "redis")]
    Fleet {
        /// Boxed: it is large, and most budgets are not shared.
        fleet: Box<crate::rate::fleet::Fleet>,
        alone: Local,
    },
}

impl Source {
    /// Waits, with `turn` held, for the next slot: once `gate` is open, at the spacing of
    /// `pace`. Returns when the request went. Fails only where the Redis of a shared budget
    /// refused it for good (a wrong password, say): going on unshared would put every process
    /// at the full rate.
    pub(crate) async fn slot(
        &self,
        turn: &mut Turn<'_>,
        gate: &Gate,
        pace: &Pace,
    ) -> Result<Instant, Error> {
        match self {
            Self::Local(local) => Ok(local.slot(turn, gate, pace).await),
            #[cfg(feature = "redis")]
            Self::Fleet { fleet, alone } => {
                crate::rate::fleet::slot(fleet, alone, turn, gate, pace).await
            }
        }
    }

    /// The fleet, where the slots are shared.
    #[cfg(feature = "redis")]
    pub(crate) fn fleet(&self) -> Option<&crate::rate::fleet::Fleet> {
        match self {
            Self::Local(_) => None,
            Self::Fleet { fleet, .. } => Some(fleet),
        }
    }
}
