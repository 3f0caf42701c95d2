//! What a running simulator's handle and its server share: the configuration it started with,
//! the server's clock, the data as it is now, the rate limit's count, and what it has seen.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;
use std::time::Instant;

use super::account::Account;
use super::builder::SimulatorBuilder;
use super::clock::Clock;
use super::log::RequestRecord;
use super::mutation::Changes;
use super::rate::RateState;

/// The state behind a [`Simulator`](super::Simulator), shared with its server's thread.
#[derive(Debug)]
pub(super) struct State {
    pub(super) config: SimulatorBuilder,
    pub(super) started: Instant,
    /// The server's clock, which the `Date` header tells and every change is stamped with.
    pub(super) clock: Clock,
    pub(super) requests: AtomicU64,
    pub(super) rate_limited: AtomicU64,
    /// The collections as they are now, mutations applied.
    pub(super) account: Mutex<Account>,
    pub(super) changes: Mutex<(Changes, fastrand::Rng)>,
    pub(super) log: Mutex<Vec<RequestRecord>>,
    /// Every account by its key: the main one ([`SimulatorBuilder::api_key`]) and those added
    /// with [`SimulatorBuilder::account`].
    pub(super) accounts: HashMap<String, AccountLimit>,
}

/// An account on the server: its limit and its counts.
#[derive(Debug)]
pub(super) struct AccountLimit {
    pub(super) rate: Mutex<Option<RateState>>,
    pub(super) requests: AtomicU64,
    pub(super) rate_limited: AtomicU64,
}

impl State {
    /// The state of a simulator starting now with `config`: its collections as configured,
    /// nothing seen yet.
    pub(super) fn new(config: SimulatorBuilder) -> Self {
        let started = Instant::now();
        Self {
            accounts: std::iter::once((&config.api_key, &config.rate_limit))
                // As references, like the main account's.
                .chain(config.accounts.iter().map(|(key, limit)| (key, limit)))
                .map(|(key, limit)| {
                    let account = AccountLimit {
                        rate: Mutex::new(limit.map(|l| RateState::new(l, started))),
                        requests: AtomicU64::new(0),
                        rate_limited: AtomicU64::new(0),
                    };
                    (key.clone(), account)
                })
                .collect(),
            account: Mutex::new(Account::new(config.collections.clone())),
            clock: Clock::new(config.clock_offset),
            changes: Mutex::new((Changes::default(), fastrand::Rng::with_seed(0x5eed))),
            config,
            started,
            requests: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            log: Mutex::new(Vec::new()),
        }
    }

    /// The main account: the one [`SimulatorBuilder::api_key`] names.
    pub(super) fn main(&self) -> &AccountLimit {
        &self.accounts[&self.config.api_key]
    }
}
