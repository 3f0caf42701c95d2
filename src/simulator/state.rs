//! What a running simulator's handle and its server share: the configuration it started with,
//! the data as it is now, the rate limit's count, and what it has seen.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;
use std::time::Instant;

use super::builder::SimulatorBuilder;
use super::data::Collection;
use super::log::RequestRecord;
use super::mutation::Changes;
use super::rate::RateState;

/// The state behind a [`Simulator`](super::Simulator), shared with its server's thread.
#[derive(Debug)]
pub(super) struct State {
    pub(super) config: SimulatorBuilder,
    pub(super) started: Instant,
    pub(super) requests: AtomicU64,
    pub(super) rate_limited: AtomicU64,
    pub(super) rate: Mutex<Option<RateState>>,
    /// The collections as they are now, mutations applied.
    pub(super) collections: Mutex<BTreeMap<String, Collection>>,
    pub(super) changes: Mutex<(Changes, fastrand::Rng)>,
    pub(super) log: Mutex<Vec<RequestRecord>>,
}

impl State {
    /// The state of a simulator starting now with `config`: its collections as configured,
    /// nothing seen yet.
    pub(super) fn new(config: SimulatorBuilder) -> Self {
        let started = Instant::now();
        Self {
            rate: Mutex::new(config.rate_limit.map(|l| RateState::new(l, started))),
            collections: Mutex::new(config.collections.clone()),
            changes: Mutex::new((Changes::default(), fastrand::Rng::with_seed(0x5eed))),
            config,
            started,
            requests: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            log: Mutex::new(Vec::new()),
        }
    }
}
