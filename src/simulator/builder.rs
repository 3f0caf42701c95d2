//! Configuring a simulator: its key, collections, rate limit, faults and mutations. The last
//! step, [`start`](SimulatorBuilder::start), lives with the [`Simulator`](super::Simulator) it makes
//! (`handle.rs`), so this file knows nothing of a running one.

use std::collections::BTreeMap;
use std::time::Duration;

use super::data::{Collection, TotalStyle};
use super::fault::Fault;
use super::mutation::Mutation;
use super::rate::RateLimit;
use super::records::Kind;

/// The key the simulator accepts unless told another.
pub const DEFAULT_API_KEY: &str = "simulated-key";

/// Configures a [`Simulator`](super::Simulator).
///
/// # Default
///
/// - key: [`DEFAULT_API_KEY`]
/// - collections: none (a request for one answers 404)
/// - rate limit: none
/// - latency: none
/// - `Retry-After` on 429: not sent (HelpCrunch does not document one)
/// - `X-RateLimit-*` and `RateLimit-Policy`: not sent (HelpCrunch documents none)
/// - clock: the system's (an offset of 0)
#[derive(Debug, Clone)]
#[must_use = "a simulator builder does nothing until `start` is called"]
pub struct SimulatorBuilder {
    pub(super) api_key: String,
    pub(super) collections: BTreeMap<String, Collection>,
    pub(super) rate_limit: Option<RateLimit>,
    /// More accounts on this server, each its key and its own limit (the same records).
    pub(super) accounts: Vec<(String, Option<RateLimit>)>,
    pub(super) latency: Duration,
    pub(super) retry_after: bool,
    pub(super) rate_headers: bool,
    pub(super) total_skew: i64,
    pub(super) faults: BTreeMap<u64, Fault>,
    pub(super) mutations: BTreeMap<u64, Vec<Mutation>>,
    pub(super) mutate_every: Vec<(u64, Mutation)>,
    pub(super) fault_rates: Vec<(f64, Fault)>,
    pub(super) seed: u64,
    pub(super) clock_offset: i64,
}

impl Default for SimulatorBuilder {
    fn default() -> Self {
        Self {
            api_key: DEFAULT_API_KEY.to_owned(),
            collections: BTreeMap::new(),
            rate_limit: None,
            accounts: Vec::new(),
            latency: Duration::ZERO,
            retry_after: false,
            rate_headers: false,
            total_skew: 0,
            faults: BTreeMap::new(),
            mutations: BTreeMap::new(),
            mutate_every: Vec::new(),
            fault_rates: Vec::new(),
            seed: 1,
            clock_offset: 0,
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
    /// `customers.firstSeen`/`customers.lastSeen`; and `POST /customers/search` over them. The
    /// default order and `firstSeen` are the creation order; `lastSeen` is the order of last
    /// activity, which [`Mutation::Touch`] and
    /// [`Simulator::see_customer`](super::Simulator::see_customer) change. A search can read
    /// what is new with `customers.id` and `customers.lastSeen`.
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
    /// fields; `POST /chats/search` over them; and `GET /chats/{id}/messages` for each. The
    /// default order, `createdAt` and `closedAt` are the creation order; `lastMessageAt`,
    /// `lastCustomerMessageAt` and `updatedAt` are the order of last activity, which
    /// [`Mutation::Touch`] and [`Simulator::add_message`](super::Simulator::add_message)
    /// change. A search can filter on `chats.updatedAt`, `chats.closedAt` and
    /// `chats.lastMessageAt` among others.
    ///
    /// Chat `c` has `1 + c % 5` messages unless [`chat_messages`](Self::chat_messages) says
    /// otherwise, made when first asked for, so that many chats cost nothing more; its newest
    /// message was created at the chat's `lastMessageAt`, the others before it.
    ///
    /// ```
    /// use helpcrunch_pager::{simulator::Simulator, Client, Message};
    /// use futures::TryStreamExt;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let sim = Simulator::builder().chats(200_000).chat_messages(7, 300).start()?;
    /// let client = Client::builder().api_key(sim.api_key()).base_url(sim.base_url()).build()?;
    /// let of = |chat| client.chat_messages(chat).try_collect::<Vec<Message>>();
    /// assert_eq!(of(7).await?.len(), 300);
    /// assert_eq!(of(199_999).await?.len(), 5, "1 + 199,999 % 5");
    /// assert!(of(200_001).await.unwrap_err().is_not_found());
    /// # Ok(()) }
    /// ```
    pub fn chats(self, count: usize) -> Self {
        self.with("chats", Kind::Chat, TotalStyle::Meta, ascending(count))
    }

    /// `GET /chats/{chat_id}/messages` with `count` messages, newest first (ids
    /// `chat_id * 1_000_000 + n`, `n` from `count` down to 1), total at the top level, whether
    /// or not [`chats`](Self::chats) has a chat `chat_id`. Without it, a chat there is has
    /// `1 + chat_id % 5` messages, and a chat there is not answers 404 `Chat not found`.
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
    pub fn chat_messages(mut self, chat_id: u64, count: usize) -> Self {
        let path = format!("chats/{chat_id}/messages");
        let messages = Collection::messages(chat_id, count as u64);
        self.collections.insert(path, messages);
        self
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

    /// A list endpoint at `path` whose `count` records carry no id: `{"name": "Record N"}`,
    /// with a top-level total.
    ///
    /// ```
    /// use helpcrunch_pager::simulator::Simulator;
    /// let sim = Simulator::builder().collection_without_ids("knowledge-base/tags", 120).start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn collection_without_ids(self, path: &str, count: usize) -> Self {
        self.with(
            path,
            Kind::Anonymous,
            TotalStyle::TopLevel,
            ascending(count),
        )
    }

    /// A list endpoint at `path` serving `records` as given, in order, with a top-level total:
    /// records with ids and records without, and records the same in every field (twins, as
    /// an API without ids can serve them). [`Simulator::changes`](super::Simulator::changes)
    /// counts them from 1 in this order; records a mutation adds are `{"name": "Record N"}`.
    ///
    /// ```
    /// use helpcrunch_pager::simulator::Simulator;
    /// use serde_json::json;
    /// let twins = [json!({"name": "R"}), json!({"name": "R"}), json!({"id": 3, "name": "S"})];
    /// let sim = Simulator::builder().collection_of("tags", twins).start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Panics
    ///
    /// Where a record is not a JSON object.
    pub fn collection_of(
        mut self,
        path: &str,
        records: impl IntoIterator<Item = serde_json::Value>,
    ) -> Self {
        let records: Vec<serde_json::Value> = records.into_iter().collect();
        self = self.collection_without_ids(path, records.len());
        let collection = self
            .collections
            .get_mut(path.trim_matches('/'))
            .expect("just added");
        // Kept as written records: the simulator serves them as it serves what was written.
        for (id, record) in (1..).zip(records) {
            let serde_json::Value::Object(fields) = record else {
                panic!("a record is a JSON object: {record}");
            };
            collection.written.insert(id, fields);
        }
        self
    }

    /// A list endpoint at `path` with `count` records whose ids come as numbers and as strings
    /// that read alike: record `N` has id `N` up to 100, and past it the string of `N - 100`
    /// zero-padded to three digits (records 7 and 107 have ids `7` and `"007"`); its name is
    /// `"Record N"`.
    ///
    /// ```
    /// use helpcrunch_pager::simulator::Simulator;
    /// let sim = Simulator::builder().collection_with_text_ids("contacts", 250).start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn collection_with_text_ids(self, path: &str, count: usize) -> Self {
        self.with(path, Kind::Spelled, TotalStyle::TopLevel, ascending(count))
    }

    fn with(mut self, path: &str, kind: Kind, style: TotalStyle, ids: Vec<u64>) -> Self {
        self.collections.insert(
            path.trim_matches('/').to_owned(),
            Collection::new(kind, style, ids),
        );
        self
    }

    /// Sets the server's clock `seconds` ahead of the system clock (behind, where negative):
    /// the clock the `Date` header of every answer tells, [`Simulator::now`] reads and every
    /// change is stamped with. A test models a client whose own clock is an hour fast with
    /// `clock_offset(-3_600)`, and one an hour slow with `clock_offset(3_600)`.
    ///
    /// [`Simulator::now`]: super::Simulator::now
    ///
    /// ```
    /// use helpcrunch_pager::simulator::Simulator;
    /// use std::time::{SystemTime, UNIX_EPOCH};
    /// let sim = Simulator::builder().clock_offset(-3_600).start()?;
    /// let system = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    /// assert!((system - 3_600..=system - 3_599).contains(&sim.now()));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn clock_offset(mut self, seconds: i64) -> Self {
        self.clock_offset = seconds;
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

    /// Another account on the same server: requests with `key` are answered as the main
    /// account's are (the same records), counted against `limit` of their own (`None`: no
    /// limit), so that one simulator stands for a platform's many HelpCrunch accounts.
    /// [`Simulator::stats_of`](super::Simulator::stats_of) counts each account's requests and
    /// the 429s of its limit (faults are numbered, and injected, across every account's
    /// requests together); [`Simulator::set_rate_limit`](super::Simulator::set_rate_limit)
    /// changes the main account's limit alone. A key given twice, or the main account's, makes
    /// [`start`](Self::start) fail.
    ///
    /// ```
    /// use helpcrunch_pager::simulator::{RateLimit, Simulator};
    /// use std::time::Duration;
    /// let sim = Simulator::builder()
    ///     .account("second-key", Some(RateLimit::leaky_bucket(120)))
    ///     .account("third-key", Some(RateLimit::sliding_window(60, Duration::from_secs(60))))
    ///     .start()?;
    /// assert_eq!(sim.stats_of("second-key").unwrap().requests, 0);
    /// assert!(sim.stats_of("no-such-key").is_none());
    /// let twice = Simulator::builder().account("k", None).account("k", None).start();
    /// assert!(twice.is_err());
    /// assert!(Simulator::builder().api_key("k").account("k", None).start().is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn account(mut self, key: impl Into<String>, limit: Option<RateLimit>) -> Self {
        self.accounts.push((key.into(), limit));
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

    /// Whether the answers the rate limit has counted or refused (200s and 429s alike; not a
    /// 401, which never reaches it) say where the client stands, as many APIs do:
    ///
    /// - `X-RateLimit-Limit`: the requests a window allows (1 for a leaky bucket);
    /// - `X-RateLimit-Remaining`: those left in the current window after this one (0 on a 429,
    ///   and right after a leaky bucket's accepted request);
    /// - `X-RateLimit-Reset`: seconds until the window frees the next request, with
    ///   millisecond decimals (`2.345`), rounded up: until a fixed window ends, until a
    ///   sliding window's oldest request leaves it, until a leaky bucket's next slot;
    /// - `RateLimit-Policy`: `"default";q=<quota>;w=<window>`, the window in whole seconds
    ///   rounded up, at least 1, and the quota the limit scaled to it, rounded down (a leaky
    ///   bucket of one per 50 ms: `q=20;w=1`).
    ///
    /// Without a rate limit nothing is sent.
    ///
    /// ```
    /// use helpcrunch_pager::simulator::{RateLimit, Simulator};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let sim = Simulator::builder()
    ///     .departments(10)
    ///     .rate_limit(RateLimit::fixed_window(3, Duration::from_secs(60)))
    ///     .rate_headers(true)
    ///     .start()?;
    /// let answer = reqwest::Client::new()
    ///     .get(format!("{}/departments", sim.base_url()))
    ///     .bearer_auth(sim.api_key())
    ///     .send()
    ///     .await?;
    /// let header = |name| answer.headers()[name].to_str().unwrap();
    /// assert_eq!(header("x-ratelimit-limit"), "3");
    /// assert_eq!(header("x-ratelimit-remaining"), "2");
    /// assert_eq!(header("ratelimit-policy"), r#""default";q=3;w=60"#);
    /// let reset: f64 = header("x-ratelimit-reset").parse()?;
    /// assert!(0.0 < reset && reset <= 60.0);
    /// # Ok(()) }
    /// ```
    pub fn rate_headers(mut self, send: bool) -> Self {
        self.rate_headers = send;
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
}

fn ascending(count: usize) -> Vec<u64> {
    (1..=count as u64).collect()
}
