//! What the tests and benches of the budget's lanes share: single calls that can be told from
//! the scans' requests in the server's log, a flood of them, and the log split between the two.
//! Benches take it by `#[path]`, as they cannot use the tests' `support` module.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use helpcrunch_pager::simulator::RequestRecord;
use helpcrunch_pager::Client;

/// The single call of these tests: a department list no scan reads.
pub const CALL: &str = "departments?limit=1";

/// Whether the server's `r` was a single call rather than a scan's request.
pub fn is_call(r: &RequestRecord) -> bool {
    r.path == "/v1/departments"
}

/// `callers` tasks making single calls back to back for `lasting`; returns when all are done.
pub async fn flood(client: &Client, callers: usize, lasting: Duration) {
    let started = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                while started.elapsed() < lasting {
                    let call = client.get::<serde_json::Value>(CALL);
                    call.send().await.expect("the call succeeds");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("no panic");
    }
}

/// The requests of `log` that arrived from `from` to `to`, split into (the others', the calls').
pub fn split(log: &[RequestRecord], from: Duration, to: Duration) -> (usize, usize) {
    let during = log.iter().filter(|r| r.at >= from && r.at <= to);
    during.fold((0, 0), |(others, calls), r| {
        if is_call(r) {
            (others, calls + 1)
        } else {
            (others + 1, calls)
        }
    })
}

/// The `p` quantile of `sorted`, nearest rank.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}
