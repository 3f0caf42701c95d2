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

mod data;
mod fault;
mod mutation;
mod rate;
mod records;
mod search;
mod server;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use fault::Fault;
pub use mutation::{Changes, Mutation};
pub use rate::RateLimit;

use data::{Collection, TotalStyle};
use rate::RateState;
use records::Kind;

/// The key the simulator accepts unless told another.
pub const DEFAULT_API_KEY: &str = "simulated-key";

/// Configures a [`Simulator`].
///
/// # Default
///
/// - key: [`DEFAULT_API_KEY`]
/// - collections: none (a request for one answers 404)
/// - rate limit: none
/// - latency: none
/// - `Retry-After` on 429: not sent (HelpCrunch does not document one)
#[derive(Debug, Clone)]
pub struct SimulatorBuilder {
    api_key: String,
    collections: BTreeMap<String, Collection>,
    rate_limit: Option<RateLimit>,
    latency: Duration,
    retry_after: bool,
    total_skew: i64,
    faults: BTreeMap<u64, Fault>,
    mutations: BTreeMap<u64, Vec<Mutation>>,
    mutate_every: Vec<(u64, Mutation)>,
    fault_rates: Vec<(f64, Fault)>,
    seed: u64,
}

impl Default for SimulatorBuilder {
    fn default() -> Self {
        Self {
            api_key: DEFAULT_API_KEY.to_owned(),
            collections: BTreeMap::new(),
            rate_limit: None,
            latency: Duration::ZERO,
            retry_after: false,
            total_skew: 0,
            faults: BTreeMap::new(),
            mutations: BTreeMap::new(),
            mutate_every: Vec::new(),
            fault_rates: Vec::new(),
            seed: 1,
        }
    }
}

impl SimulatorBuilder {
    /// The key the server accepts as `Authorization: Bearer <key>`.
    ///
    /// ```
    /// use helpcrunch_pager::simulator::Simulator;
    /// let sim = Simulator::builder().api_key("test-key").start()?;
    /// assert_eq!(sim.api_key(), "test-key");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = key.into();
        self
    }

    /// `GET /departments` with `count` departments (ids 1..=count), total under `meta`.
    ///
    /// ```
    /// use helpcrunch_pager::simulator::Simulator;
    /// let sim = Simulator::builder().departments(250).start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn departments(self, count: usize) -> Self {
        self.with(
            "departments",
            Kind::Department,
            TotalStyle::Meta,
            ascending(count),
        )
    }

    /// `GET /agents` with `count` agents, total under `meta`.
    ///
    /// ```
    /// use helpcrunch_pager::simulator::Simulator;
    /// let sim = Simulator::builder().agents(40).start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn agents(self, count: usize) -> Self {
        self.with("agents", Kind::Agent, TotalStyle::Meta, ascending(count))
    }

    /// `GET /customers` with `count` customers, total at the top level, sortable by
    /// `customers.firstSeen`/`customers.lastSeen`; and `POST /customers/search` over them.
    ///
    /// ```
    /// use helpcrunch_pager::simulator::Simulator;
    /// let sim = Simulator::builder().customers(5_000).start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn customers(self, count: usize) -> Self {
        self.with(
            "customers",
            Kind::Customer,
            TotalStyle::TopLevel,
            ascending(count),
        )
    }

    /// `GET /chats` with `count` chats, total under `meta`, sortable by the four documented
    /// fields; and `POST /chats/search` over them.
    ///
    /// ```
    /// use helpcrunch_pager::simulator::Simulator;
    /// let sim = Simulator::builder().chats(1_000).chat_messages(7, 300).start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn chats(self, count: usize) -> Self {
        self.with("chats", Kind::Chat, TotalStyle::Meta, ascending(count))
    }

    /// `GET /chats/{chat_id}/messages` with `count` messages, newest first (ids
    /// `chat_id * 1_000_000 + n`, `n` from `count` down to 1), total at the top level. A chat
    /// with no messages set up answers 404 `Chat not found`.
    ///
    /// ```
    /// use futures::TryStreamExt;
    /// use helpcrunch_pager::{simulator::Simulator, Client};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let sim = Simulator::builder().chat_messages(7, 3).start()?;
    /// let client = Client::builder().api_key(sim.api_key()).base_url(sim.base_url()).build()?;
    /// let ids: Vec<u64> = client.chat_messages(7).map_ok(|m| m.id).try_collect().await?;
    /// assert_eq!(ids, [7_000_003, 7_000_002, 7_000_001]);
    /// # Ok(()) }
    /// ```
    pub fn chat_messages(self, chat_id: u64, count: usize) -> Self {
        let ids = (1..=count as u64)
            .rev()
            .map(|n| chat_id * records::MESSAGE_ID_SPACE + n)
            .collect();
        let path = format!("chats/{chat_id}/messages");
        self.with(&path, Kind::Message, TotalStyle::TopLevel, ids)
    }

    /// Any other list endpoint at `path` with `count` records `{"id", "name"}` and a top-level
    /// total.
    ///
    /// ```
    /// use helpcrunch_pager::simulator::Simulator;
    /// let sim = Simulator::builder().collection("knowledge-base/articles", 120).start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn collection(self, path: &str, count: usize) -> Self {
        self.with(path, Kind::Generic, TotalStyle::TopLevel, ascending(count))
    }

    fn with(mut self, path: &str, kind: Kind, style: TotalStyle, ids: Vec<u64>) -> Self {
        self.collections.insert(
            path.trim_matches('/').to_owned(),
            Collection::new(kind, style, ids),
        );
        self
    }

    /// The rate limit and its algorithm.
    ///
    /// ```
    /// use helpcrunch_pager::simulator::{RateLimit, Simulator};
    /// use std::time::Duration;
    /// // HelpCrunch's 120 a minute, sixty times faster.
    /// let sim = Simulator::builder().rate_limit(RateLimit::sliding_window(120, Duration::from_secs(1))).start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// How long every answer takes, after the rate limit has counted the request.
    ///
    /// ```
    /// use helpcrunch_pager::simulator::Simulator;
    /// use std::time::Duration;
    /// let sim = Simulator::builder().latency(Duration::from_millis(40)).start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Whether a 429 carries `Retry-After` (whole seconds, rounded up, as HTTP has it).
    ///
    /// ```
    /// use helpcrunch_pager::simulator::Simulator;
    /// let sim = Simulator::builder().retry_after(true).start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn retry_after(mut self, send: bool) -> Self {
        self.retry_after = send;
        self
    }

    /// Reports `skew` more (or fewer) records than there are, as the docs' own agents example
    /// does (`total: 5` with four records).
    ///
    /// ```
    /// use helpcrunch_pager::simulator::Simulator;
    /// // The docs' agents example: a total of 5 for 4 agents.
    /// let sim = Simulator::builder().agents(4).total_skew(1).start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn total_skew(mut self, skew: i64) -> Self {
        self.total_skew = skew;
        self
    }

    /// Answers the `n`th request (counting from 1, every request) with `fault`.
    ///
    /// ```
    /// use helpcrunch_pager::simulator::{Fault, Simulator};
    /// let sim = Simulator::builder().fault(2, Fault::Status(503)).start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn fault(mut self, n: u64, fault: Fault) -> Self {
        self.faults.insert(n, fault);
        self
    }

    /// Answers each request with `fault` with the given probability (0.0 to 1.0), drawn from a
    /// generator seeded by [`seed`](Self::seed) and the request's number, so a run can be
    /// repeated. A request chosen by [`fault`](Self::fault) gets that fault instead.
    ///
    /// ```
    /// use helpcrunch_pager::simulator::{Fault, Simulator};
    /// // A flaky server: 5 % 500s, 3 % reset connections, 3 % pages cut off.
    /// let sim = Simulator::builder()
    ///     .departments(5_000)
    ///     .fault_rate(0.05, Fault::Status(500))
    ///     .fault_rate(0.03, Fault::Reset)
    ///     .fault_rate(0.03, Fault::Truncated)
    ///     .start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn fault_rate(mut self, probability: f64, fault: Fault) -> Self {
        self.fault_rates.push((probability.clamp(0.0, 1.0), fault));
        self
    }

    /// The seed of the random faults (default 1).
    ///
    /// ```
    /// let sim = helpcrunch_pager::simulator::Simulator::builder().seed(42).start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Applies `mutation`, just before answering the `n`th request (counting from 1, every
    /// request), to the collection that request reads.
    ///
    /// ```
    /// use helpcrunch_pager::simulator::{Mutation, Simulator};
    /// let sim = Simulator::builder()
    ///     .departments(500)
    ///     .mutation(3, Mutation::DeleteBefore(5))
    ///     .start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn mutation(mut self, n: u64, mutation: Mutation) -> Self {
        self.mutations.entry(n).or_default().push(mutation);
        self
    }

    /// Applies `mutation` before every `k`th request, to the collection it reads.
    ///
    /// ```
    /// use helpcrunch_pager::simulator::{Mutation, Simulator};
    /// // New messages arrive at the front of a newest-first list while it is read.
    /// let sim = Simulator::builder()
    ///     .chat_messages(7, 1_000)
    ///     .mutate_every(2, Mutation::InsertFront(1))
    ///     .start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn mutate_every(mut self, k: u64, mutation: Mutation) -> Self {
        self.mutate_every.push((k.max(1), mutation));
        self
    }

    /// Binds `127.0.0.1:0` and starts serving on a thread of its own.
    ///
    /// ```
    /// use helpcrunch_pager::simulator::Simulator;
    /// let sim = Simulator::builder().departments(10).start()?;
    /// assert!(sim.base_url().starts_with("http://127.0.0.1:"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn start(self) -> std::io::Result<Simulator> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let started = Instant::now();
        let state = Arc::new(State {
            rate: Mutex::new(self.rate_limit.map(|l| RateState::new(l, started))),
            collections: Mutex::new(self.collections.clone()),
            changes: Mutex::new((Changes::default(), fastrand::Rng::with_seed(0x5eed))),
            config: self,
            started,
            requests: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            log: Mutex::new(Vec::new()),
        });
        let server = server::spawn(listener, Arc::clone(&state))?;
        Ok(Simulator {
            addr,
            state,
            server: Some(server),
        })
    }
}

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

    /// What the mutations have inserted and deleted so far.
    ///
    /// ```
    /// let sim = helpcrunch_pager::simulator::Simulator::builder().start()?;
    /// assert!(sim.changes().inserted.is_empty());
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

fn ascending(count: usize) -> Vec<u64> {
    (1..=count as u64).collect()
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
