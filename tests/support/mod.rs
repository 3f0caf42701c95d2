//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod hostile;
pub mod lanes;
pub mod redis;
pub mod redis_cluster;
pub mod warehouse;

use std::future::Future;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{Stream, TryStreamExt};
use helpcrunch_pager::simulator::{RequestRecord, Simulator};
use helpcrunch_pager::{Client, ClientBuilder, Error, RetryPolicy};

/// With `FLEET_LOG` set, prints the server's log: arrivals, gaps, paths, statuses.
pub fn dump_log(log: &[RequestRecord]) {
    if std::env::var_os("FLEET_LOG").is_none() {
        return;
    }
    for w in log.windows(2) {
        eprintln!(
            "{:>8.1} ms {:>6.1} {} {}",
            w[1].at.as_secs_f64() * 1e3,
            (w[1].at - w[0].at).as_secs_f64() * 1e3,
            w[1].path,
            w[1].status
        );
    }
}

/// No test may take longer than this; a hang fails instead of stalling the suite.
pub const BOUND: Duration = Duration::from_secs(10);

/// Runs `f`, failing the test if it takes longer than [`BOUND`].
pub async fn bounded<F: Future>(what: &str, f: F) -> F::Output {
    tokio::time::timeout(BOUND, f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {BOUND:?}"))
}

/// Retries scaled down for tests: waits of tens of milliseconds, not seconds.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy::new()
        .with_max_attempts(8)
        .with_min_delay(Duration::from_millis(20))
        .with_max_delay(Duration::from_millis(400))
        .with_max_total_wait(Duration::from_secs(8))
}

/// A client for `sim` at `rpm` requests a minute, with [`fast_retries`], its adaptive rate
/// counting in windows of a second as the tests' simulators do (or less).
pub fn builder_for(sim: &Simulator, rpm: u32) -> ClientBuilder {
    Client::builder()
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .requests_per_minute(rpm)
        .rate_window(Duration::from_secs(1))
        .retry_policy(fast_retries())
}

pub fn client_for(sim: &Simulator, rpm: u32) -> Client {
    builder_for(sim, rpm).build().expect("a valid test client")
}

/// Collects a stream of records with an `id`, bounded in time.
pub async fn ids<S, T>(what: &str, stream: S, id: fn(&T) -> u64) -> Result<Vec<u64>, Error>
where
    S: Stream<Item = Result<T, Error>>,
{
    bounded(what, stream.map_ok(|r| id(&r)).try_collect()).await
}

/// Asserts that `ids` is exactly `1..=n`, each once, in order.
pub fn assert_each_once_in_order(ids: &[u64], n: u64) {
    assert_eq!(
        ids.len() as u64,
        n,
        "expected {n} records, got {}",
        ids.len()
    );
    if let Some((i, id)) = ids.iter().enumerate().find(|&(i, &id)| id != i as u64 + 1) {
        panic!(
            "record {i} has id {id}, expected {}: lost, duplicated or out of order",
            i + 1
        );
    }
}

/// Asserts that `got` holds every id in `expected` once, and nothing twice (records that came
/// or went during the scan may be there or not).
pub fn assert_each_once(got: &[u64], expected: impl IntoIterator<Item = u64>) {
    let mut count: std::collections::HashMap<u64, usize> = Default::default();
    for id in got {
        *count.entry(*id).or_default() += 1;
    }
    if let Some((id, n)) = count.iter().find(|(_, &n)| n > 1) {
        panic!("record {id} came {n} times");
    }
    let missing: Vec<u64> = expected
        .into_iter()
        .filter(|id| !count.contains_key(id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} records lost: {:?}",
        missing.len(),
        &missing[..missing.len().min(20)]
    );
}

/// The records of `path` (with `query`, such as `sort=chats.createdAt`), read page by page
/// from offset 0 with plain reqwest until a page comes back short, as a naive client pages:
/// each record's JSON text as the server sent it.
pub async fn plain_loop(sim: &Simulator, path: &str, query: &str) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Body {
        data: Vec<Box<serde_json::value::RawValue>>,
    }
    let http = reqwest::Client::new();
    let mut records = Vec::new();
    loop {
        let url = format!(
            "{}/{path}?{query}&offset={}&limit=100",
            sim.base_url(),
            records.len()
        );
        let bytes = http
            .get(url)
            .bearer_auth(sim.api_key())
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let page: Body = serde_json::from_slice(&bytes).unwrap();
        let n = page.data.len();
        records.extend(page.data.into_iter().map(|r| r.get().to_owned()));
        if n < 100 {
            return records;
        }
    }
}

/// The most requests the server saw arrive in any span of `window`.
pub fn most_in_any_window(log: &[RequestRecord], window: Duration) -> usize {
    let mut most = 0;
    let mut from = 0;
    for to in 0..log.len() {
        while log[to].at - log[from].at >= window {
            from += 1;
        }
        most = most.max(to - from + 1);
    }
    most
}

/// Requests per minute the server saw, from its first to its last arrival.
pub fn observed_rate(log: &[RequestRecord]) -> f64 {
    match (log.first(), log.last()) {
        (Some(a), Some(b)) if b.at > a.at => {
            (log.len() - 1) as f64 * 60.0 / (b.at - a.at).as_secs_f64()
        }
        _ => 0.0,
    }
}

/// A writer that keeps what it is given, for a tracing subscriber in a test.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    /// A capture set as this thread's subscriber, at DEBUG, with a line as each span closes.
    /// Keep the guard for as long as it should capture.
    pub fn installed() -> (Self, tracing::subscriber::DefaultGuard) {
        let capture = Self::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        (capture, tracing::subscriber::set_default(subscriber))
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// Any JSON value, a few levels deep, with keys that are sometimes a page's own.
pub fn any_json() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    use proptest::prelude::*;
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(Value::from),
        "[ -~]{0,12}".prop_map(Value::from),
        "[0-9]{1,12}(\\.[0-9]{1,4})?".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("(id|data|total|meta|messages|[a-zA-Z]{1,8})", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
