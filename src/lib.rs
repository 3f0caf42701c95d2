//! Reads every record behind HelpCrunch's paginated REST API as fast as the account's rate
//! limit allows, and never loses, duplicates or corrupts one on the way.
//!
//! # Getting started
//!
//! ```toml
//! [dependencies]
//! helpcrunch-pager = "0.1"
//! futures = "0.3"
//! tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
//! ```
//!
//! ```no_run
//! use futures::TryStreamExt;
//! use helpcrunch_pager::{Client, Department};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), helpcrunch_pager::Error> {
//!     let client = Client::builder().api_key(std::env::var("HELPCRUNCH_API_KEY").unwrap()).build()?;
//!     let departments: Vec<Department> = client.departments().try_collect().await?;
//!     let raw = client.paginate::<serde_json::Value>("customers");
//!     let customers: Vec<_> = raw.try_collect().await?;
//!     println!("{} departments, {} customers", departments.len(), customers.len());
//!     Ok(())
//! }
//! ```
//!
//! # Endpoints
//!
//! [`Client::departments`], [`Client::agents`], [`Client::customers`], [`Client::chats`] and
//! [`Client::chat_messages`] page through HelpCrunch's lists into typed models;
//! [`Client::search`] pages through `customers/search` and `chats/search`, with the window in
//! the POST body (write the body as JSON or with [`Search`]); [`Client::paginate`] takes any
//! other `GET` list. Chats and customers sort with `.sort(..)` and `.order(..)` ([`ChatSort`],
//! [`CustomerSort`], [`Order`]).
//!
//! # Single calls
//!
//! [`Client::get`], [`post`](Client::post), [`put`](Client::put), [`patch`](Client::patch) and
//! [`delete`](Client::delete) send one request (a [`Call`]) through the same budget and retry
//! policy, decoding the answer into any `DeserializeOwned` type. A `POST` or `PATCH` is sent
//! again only where the server surely never acted on it, unless marked
//! [`idempotent`](Call::idempotent).
//!
//! # Priorities
//!
//! Requests queue for the budget in two lanes ([`Priority`]): single calls are interactive and
//! go ahead of the windows scans have queued, which are background; while both wait they take
//! turns, so neither starves. With a shared budget the lanes hold across processes. With the
//! `middleware` feature, `Client::middleware` puts an application's own reqwest calls through
//! the budget too.
//!
//! # Models
//!
//! [`Department`], [`Agent`], [`Customer`], [`Chat`] and [`Message`] serialize with the API's
//! field names and decode leniently: a [`Timestamp`] may be an integer, a string or a fractional
//! string; an enum value the crate does not know is kept as `Unknown(String)`; a missing, `null`
//! or odd optional field is `None`; fields a model does not name are kept in its `extra` map.
//! Only `id` is required, so one odd field never fails a page.
//!
//! # Paging
//!
//! A [`Paginator`] is a [`Stream`](futures::Stream) of records. The first request reads the
//! total; the remaining `offset` windows are fetched up to
//! [`concurrency`](Paginator::concurrency) at a time and yielded in offset order. The last
//! window asks for one record past the total; a scan ends at a page that comes back short and
//! agrees with its total (a short page whose total says there is more is confirmed by reading
//! on from it), or at the first error. [`Paginator::pages`] gives whole [`Page`]s instead. Both
//! streams are fused.
//!
//! # Records that move
//!
//! Each window after the first starts on the last record of the one before, known by its id
//! (the models, `serde_json::Value`, or any type through [`Paginator::ids`]; a [`RecordId`] as
//! the API sent it, so `7` and `"007"` are two records) or, without one, by the whole record.
//! A page that does not start there had records inserted or deleted in between: the
//! scan drops records it has yielded already and reads back for those it skipped, so every
//! record that stays in the collection for the whole scan comes out exactly once, at any
//! concurrency. Chats and customers are read in a stable order unless the caller asks for
//! another; in an order where a changed record jumps to the front (chats by `lastMessageAt`,
//! say), the scan reads the head again after its main pass (see
//! [`Paginator::moves_to_front`]). Where the scan cannot prove it read everything it ends with
//! [`Error::Incomplete`], never quietly. [`Paginator::report`] gives a [`ScanReport`] of what
//! moved and what it cost, and [`Pages::position`] a [`ScanPosition`] that
//! [`Paginator::resume`] carries on from after a crash.
//!
//! # The rate budget
//!
//! Every request of a [`Client`], its clones and every other `Client` of the process on the same
//! key and base URL, across every endpoint, draws from one governor GCRA limiter with a burst of
//! one and a 2 % margin (with [`ClientBuilder::shared_budget`], one GCRA schedule in Redis for
//! every process on the key), so the account stays under its limit
//! whether the server counts in fixed minutes, a sliding minute, or a leaky bucket that rejects
//! anything early. A 429 closes a gate for the whole client until the wait is over.
//!
//! Under that limiter, which the configured rate makes a ceiling, the rate adapts when the
//! server allows less (a lower limit on the account, another tool on the key): confirmed 429s
//! lower it from the pace measured, and it climbs back over about two of the server's windows
//! ([`ClientBuilder::rate_window`]); a `X-RateLimit-Limit` or `RateLimit-Policy` under the
//! configured rate becomes the ceiling. [`Client::stats`] tells the rate now;
//! [`ClientBuilder::adaptive`]`(false)` keeps it fixed.
//!
//! # Retries
//!
//! 429, 5xx, truncated bodies, timeouts and connection errors are retried with exponential
//! backoff and full jitter (a 429 waits as long as the adaptive budget holds every request
//! back); `Retry-After` and `X-RateLimit-Reset` decide the wait when present.
//! The policy's total wait bounds how long a page keeps trying (there is no count of attempts
//! unless one is set), and no server-given wait or pause is ever longer than it. 400, 401,
//! 403, 404 and bodies that are not a page end the stream with a typed [`Error`]; so does a
//! redirect ([`Error::Redirect`]), which is never followed, so that no request leaves outside
//! the budget and the key never goes to another host. See [`RetryPolicy`].
//!
//! # Features
//!
//! - `simulator`: [`simulator::Simulator`], a fake HelpCrunch over loopback HTTP for tests.
//! - `raw_value`: records as raw JSON, `Box<serde_json::value::RawValue>`, with their sort keys
//!   read where the order moves.
//! - `redis`: [`ClientBuilder::shared_budget`], one budget for every process on a key through
//!   Redis, its 429 pauses and adaptive rate fleet-wide, and a safe share when Redis is down.
//! - `gzip`, `http2`: reqwest's, for compressed answers and HTTP/2.
//! - `middleware`: [`Client::middleware`], a [`BudgetMiddleware`] for reqwest-middleware that
//!   puts an application's own requests to HelpCrunch through the client's rate budget.
//! - `schemars`: `schemars::JsonSchema` for the models ([`Chat`], [`Customer`], ...): JSON
//!   Schemas of what the API sends, the lenient forms included.
//! - `cli`: the `helpcrunch-export` binary, which streams any collection into a JSON Lines file
//!   with a progress bar and resumes after a crash, and `tap-helpcrunch`, a Singer tap
//!   (`cargo install helpcrunch-pager --features cli`). The library's default build pulls in
//!   neither clap nor indicatif.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

mod api;
mod error;
mod http;
mod paging;
mod rate;
#[cfg(feature = "simulator")]
pub mod simulator;
mod sync;

pub use api::models::{
    Agent, AgentRole, BroadcastType, Chat, ChatCustomer, ChatStatus, ClosedBy, Customer,
    Department, DepartmentAgent, DepartmentRef, Device, Location, Message, MessageType, Rating,
    Sender, Tag, Timestamp,
};
pub use api::search::{Comparison, Operator, Search};
pub use api::sort::{ChatSort, CustomerSort, Order};
pub use error::{ApiErrorEntry, BoxError, Error};
pub use http::builder::ClientBuilder;
pub use http::call::Call;
pub use http::client::{Client, DEFAULT_BASE_URL, DEFAULT_REQUESTS_PER_MINUTE};
#[cfg(feature = "middleware")]
pub use http::middleware::BudgetMiddleware;
pub use http::retry;
pub use http::retry::RetryPolicy;
pub use http::stats::ClientStats;
pub use paging::envelope::Page;
pub use paging::paginator::{Pages, Paginator, DEFAULT_CONCURRENCY};
pub use paging::scan::{RecordId, ScanPosition, ScanReport};
pub use paging::window::{PageSize, Window, MAX_PAGE_SIZE};
pub use rate::priority::Priority;
pub use sync::changes::{Changes, SyncRun, DEFAULT_LOOKBACK, MIN_LOOKBACK};
pub use sync::state::{Bookmark, Collection, SyncState};

/// The README's Rust examples, compiled with the doctests so they cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
