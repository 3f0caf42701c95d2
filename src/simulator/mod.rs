//! A fake HelpCrunch for tests, benches and the exporter's `--simulate` mode: a real HTTP server
//! on `127.0.0.1:0`, on its own thread and runtime, that serves generated collections with the
//! documented shapes and error bodies, enforces a rate limit with a chosen algorithm, injects
//! faults, and counts what it saw. It shuts down when dropped.
//!
//! ```
//! use futures::TryStreamExt;
//! use helpcrunch_pager::simulator::{RateLimit, Simulator};
//! use helpcrunch_pager::Client;
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sim = Simulator::builder()
//!     .departments(250)
//!     .rate_limit(RateLimit::fixed_window(120, Duration::from_secs(1)))
//!     .start()?;
//! let client = Client::builder()
//!     .api_key(sim.api_key())
//!     .base_url(sim.base_url())
//!     .requests_per_minute(7_200)
//!     .build()?;
//! let all: Vec<_> = client.departments().try_collect().await?;
//! assert_eq!(all.len(), 250);
//! assert_eq!(sim.stats().requests, 3);
//! # Ok(()) }
//! ```

mod activity;
mod builder;
mod data;
mod fault;
mod fields;
mod mutation;
mod rate;
mod read;
mod records;
mod search;
mod server;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use builder::SimulatorBuilder;
pub use fault::Fault;
pub use mutation::{Changes, Mutation};
pub use rate::RateLimit;

use data::Collection;
use rate::RateState;

/// The key the simulator accepts unless told another.
pub const DEFAULT_API_KEY: &str = "simulated-key";

/// A running fake HelpCrunch. Dropping it stops the server.
#[derive(Debug)]
pub struct Simulator {
    addr: std::net::SocketAddr,
    state: Arc<State>,
    server: Option<server::ServerHandle>,
}

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

impl Simulator {
    /// Starts configuring a simulator.
    ///
    /// ```
    /// let sim = helpcrunch_pager::simulator::Simulator::builder().start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn builder() -> SimulatorBuilder {
        SimulatorBuilder::default()
    }

    /// The base URL to give a [`Client`](crate::Client), such as `http://127.0.0.1:41234/v1`.
    ///
    /// ```
    /// let sim = helpcrunch_pager::simulator::Simulator::builder().start()?;
    /// assert!(sim.base_url().ends_with("/v1"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The key the server accepts.
    ///
    /// ```
    /// use helpcrunch_pager::simulator::{Simulator, DEFAULT_API_KEY};
    /// let sim = Simulator::builder().start()?;
    /// assert_eq!(sim.api_key(), DEFAULT_API_KEY);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn api_key(&self) -> &str {
        &self.state.config.api_key
    }

    /// The counters so far.
    ///
    /// ```
    /// let sim = helpcrunch_pager::simulator::Simulator::builder().start()?;
    /// assert_eq!(sim.stats().requests, 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stats(&self) -> Stats {
        Stats {
            requests: self.state.requests.load(Ordering::SeqCst),
            rate_limited: self.state.rate_limited.load(Ordering::SeqCst),
        }
    }

    /// What the mutations have inserted, deleted and touched so far.
    ///
    /// ```
    /// let sim = helpcrunch_pager::simulator::Simulator::builder().start()?;
    /// assert!(sim.changes().inserted.is_empty());
    /// assert!(sim.changes().touched.is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn changes(&self) -> Changes {
        self.state
            .changes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .clone()
    }

    /// Every request so far, in the order they arrived.
    ///
    /// ```
    /// let sim = helpcrunch_pager::simulator::Simulator::builder().start()?;
    /// assert!(sim.requests().is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.state
            .log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop();
        }
    }
}

#[derive(Debug)]
struct State {
    config: SimulatorBuilder,
    started: Instant,
    requests: AtomicU64,
    rate_limited: AtomicU64,
    rate: Mutex<Option<RateState>>,
    /// The collections as they are now, mutations applied.
    collections: Mutex<BTreeMap<String, Collection>>,
    changes: Mutex<(Changes, fastrand::Rng)>,
    log: Mutex<Vec<RequestRecord>>,
}
