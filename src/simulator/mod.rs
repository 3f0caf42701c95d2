//! A fake HelpCrunch for tests, benches and the exporter's `--simulate` mode: a real HTTP server
//! on `127.0.0.1:0`, on its own thread and runtime, that serves generated collections with the
//! documented shapes and error bodies, enforces a rate limit with a chosen algorithm, injects
//! faults, and counts what it saw. It shuts down when dropped.
//!
//! Besides the lists and searches it serves single records, as single calls
//! ([`Client::get`](crate::Client::get) and the like) ask for them: `GET /{collection}/{id}`
//! answers the record itself (a JSON object) or the API's 404 (`entity_not_found`
//! "Department not found", `not_found` "Chat not found"); `POST /{collection}` creates a record
//! from the body's fields with the next id, at the end of the default order (the front of a
//! chat's newest-first messages), and answers it; `PUT` and `PATCH` set the body's fields
//! (all but `id`) and answer the record; `DELETE` removes it and answers `204 No Content`
//! with no body. A body that is not a JSON object is a 400 `invalid_request`. These requests
//! count against the rate limit, take faults by number and are recorded, as any other.
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
//!
//! One record at a time:
//!
//! ```
//! use helpcrunch_pager::{simulator::Simulator, Client, Customer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sim = Simulator::builder().customers(3).start()?;
//! let client = Client::builder()
//!     .api_key(sim.api_key())
//!     .base_url(sim.base_url())
//!     .requests_per_minute(6_000)
//!     .build()?;
//! let ada: Customer = client.post("customers", &serde_json::json!({"name": "Ada"})).await?;
//! assert_eq!(ada.id, 4);
//! let read: Customer = client.get("customers/4").await?;
//! assert_eq!(read.name.as_deref(), Some("Ada"));
//! client.delete::<()>("customers/4").await?;
//! let gone = client.get::<Customer>("customers/4").await.unwrap_err();
//! assert!(gone.is_not_found());
//! # Ok(()) }
//! ```
//!
//! # Incremental sync
//!
//! The simulator can stand in for an account a client keeps a copy of, reading only what
//! changed since its last run:
//!
//! - it has a clock of its own, the server's: every answer (pages, records, errors, 429s,
//!   404s) carries a `Date` header from it; [`SimulatorBuilder::clock_offset`] sets it apart
//!   from the system clock, [`Simulator::now`] reads it and [`Simulator::advance_clock`]
//!   moves it on;
//! - every change is stamped with it: [`Simulator::add_message`] (a chat's `lastMessageAt`,
//!   `updatedAt` and its newest message), [`Simulator::see_customer`] (`lastSeen`),
//!   [`Simulator::append`] (new chats and customers, new at the server's time),
//!   [`Mutation::Touch`]; untouched records are timed years before;
//! - `POST /chats/search` filters on `chats.updatedAt`, `chats.closedAt` and
//!   `chats.lastMessageAt`, `POST /customers/search` on `customers.id` and
//!   `customers.lastSeen`; a value of the wrong type is the API's 400;
//! - every chat has messages, newest first, and a deleted chat's are gone (404);
//! - [`Simulator::snapshot`] is a collection as the API renders it now, for a test to compare
//!   a client's copy with.
//!
//! ```
//! use helpcrunch_pager::simulator::Simulator;
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sim = Simulator::builder().chats(1_000).start()?;
//! let since = sim.now();
//! sim.add_message(7);
//! sim.add_message(300);
//! let body = json!({"filter": [{"field": "chats.updatedAt", "operator": ">=", "value": since}]});
//! let answer = reqwest::Client::new()
//!     .post(format!("{}/chats/search", sim.base_url()))
//!     .bearer_auth(sim.api_key())
//!     .body(body.to_string())
//!     .send()
//!     .await?;
//! assert!(answer.headers().contains_key("date"));
//! let page: serde_json::Value = serde_json::from_str(&answer.text().await?)?;
//! assert_eq!(page["total"], 2);
//! assert_eq!(page["data"][0]["id"], 7);
//! # Ok(()) }
//! ```
//!
//! # Where things are
//!
//! Each file holds one idea and imports only from the ones listed after it:
//!
//! - `control.rs`: what a test changes from outside while the server runs (the clock, a
//!   message, a customer seen, records appended, a [`Mutation`], a snapshot);
//! - `handle.rs`: the running [`Simulator`], how it starts, and what a test asks of it;
//! - `server.rs`: the HTTP side, the accept loop and the service that writes each answer
//!   (with its `Date`); `respond.rs`: what a request is answered (the key, the rate limit, a
//!   fault, then the page or the record);
//! - `state.rs`: what the handle and the server share; `log.rs`: what the server saw;
//!   `clock.rs`: the server's clock;
//! - `builder.rs`: the configuration ([`SimulatorBuilder`]);
//! - `account.rs`: the collections by path, and the rules that tie them together (every
//!   chat's messages, made on first access; a chat changes with a message; new records are
//!   new at the server's time; a deleted chat's messages go with it);
//! - `single.rs`: requests for one record; `mutation.rs`: changes to the data between requests
//!   ([`Mutation`], [`Changes`]); `written.rs`: records written through the API;
//! - `read.rs`: what one request reads (its order, offset and filter) and the page it gets;
//!   `index.rs`: which records a search need look at; `search.rs`: search bodies;
//!   `filter.rs`: one filter of a search;
//! - `data.rs`: the collections, ids only; `activity.rs`: their order of last activity;
//!   `fields.rs`: the fields a search or a sort names; `records.rs`: each record rendered
//!   from its id; `chats.rs`: a chat and its messages; `forms.rs`: how a timestamp or an agent
//!   is written;
//! - `fault.rs`: [`Fault`]; `errors.rs`: the API's error bodies;
//! - `headers.rs`: the rate headers; `rate.rs`: [`RateLimit`] and its algorithms.

mod account;
mod activity;
mod builder;
mod chats;
mod clock;
mod control;
mod data;
mod errors;
mod fault;
mod fields;
mod filter;
mod forms;
mod handle;
mod headers;
mod index;
mod log;
mod mutation;
mod rate;
mod read;
mod records;
mod respond;
mod search;
mod server;
mod single;
mod state;
mod written;

pub use builder::{SimulatorBuilder, DEFAULT_API_KEY};
pub use fault::Fault;
pub use handle::Simulator;
pub use log::{RequestRecord, Stats};
pub use mutation::{Changes, Mutation};
pub use rate::RateLimit;
