//! Recovering from 429s: a client set 50 % faster than the server allows still gets every
//! record exactly once, with or without `Retry-After`, and a 429 holds every request back.

mod support;

use std::time::Duration;

use helpcrunch_pager::simulator::{RateLimit, Simulator};
use helpcrunch_pager::{Department, RetryPolicy};
use support::*;

/// The server allows 20 a second (1,200/min); the client is told 1,800/min.
const SERVER_LIMIT: RateLimit = RateLimit::fixed_window(20, Duration::from_secs(1));
const TOO_FAST: u32 = 1_800;

fn dept_id(d: &Department) -> u64 {
    d.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_retry_after_every_record_arrives_once_and_the_whole_client_waits() {
    let sim = Simulator::builder()
        .departments(5_000)
        .rate_limit(SERVER_LIMIT)
        .retry_after(true)
        .start()
        .unwrap();
    let client = client_for(&sim, TOO_FAST);
    let got = ids("too fast, Retry-After", client.departments(), dept_id)
        .await
        .unwrap();
    assert_each_once_in_order(&got, 5_000);

    let log = sim.requests();
    let first_429 = log
        .iter()
        .position(|r| r.status == 429)
        .expect("the client was too fast for a 429");
    let t = log[first_429].at;
    // The server said "Retry-After: 1". Anything that was already on the wire may still land
    // just after the 429; nothing may be sent while the client waits.
    let during_wait: Vec<_> = log
        .iter()
        .filter(|r| r.at > t + Duration::from_millis(15) && r.at < t + Duration::from_millis(985))
        .collect();
    assert!(
        during_wait.is_empty(),
        "sent while waiting out the 429 at {t:?}: {during_wait:?}"
    );
    let stats = sim.stats();
    assert!(
        stats.rate_limited <= 6,
        "{} 429s: each should have paused the whole client",
        stats.rate_limited
    );
    // The client counts what the server saw: every request, every 429, one retry for each.
    let counted = client.stats();
    assert_eq!(counted.requests, stats.requests);
    assert_eq!(counted.rate_limited, stats.rate_limited);
    assert_eq!(counted.retries, stats.rate_limited);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_retry_after_backoff_gets_every_record_once() {
    let sim = Simulator::builder()
        .departments(4_000)
        .rate_limit(RateLimit::sliding_window(20, Duration::from_secs(1)))
        .start()
        .unwrap();
    let client = builder_for(&sim, TOO_FAST)
        .retry_policy(
            RetryPolicy::new()
                .with_max_attempts(12)
                .with_min_delay(Duration::from_millis(50))
                .with_max_delay(Duration::from_secs(1))
                .with_max_total_wait(Duration::from_secs(8)),
        )
        .build()
        .unwrap();
    let got = ids("too fast, no Retry-After", client.departments(), dept_id)
        .await
        .unwrap();
    assert_each_once_in_order(&got, 4_000);
    let stats = sim.stats();
    assert!(
        stats.rate_limited > 0,
        "the client was not too fast after all"
    );
    assert_eq!(
        stats.requests - stats.rate_limited,
        41,
        "each page served once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaky_bucket_punishing_a_too_fast_client_still_yields_everything_once() {
    // Like nginx's limit_req, with no Retry-After: whole seconds would be far too coarse here.
    let sim = Simulator::builder()
        .departments(2_000)
        .rate_limit(RateLimit::leaky_bucket(1_200))
        .start()
        .unwrap();
    let got = ids(
        "leaky, too fast",
        client_for(&sim, TOO_FAST).departments(),
        dept_id,
    )
    .await
    .unwrap();
    assert_each_once_in_order(&got, 2_000);
}

#[tokio::test]
async fn a_retry_after_longer_than_the_total_wait_gives_up_at_once() {
    let sim = Simulator::builder()
        .departments(500)
        .rate_limit(RateLimit::fixed_window(1, Duration::from_secs(30)))
        .retry_after(true)
        .start()
        .unwrap();
    let client = builder_for(&sim, 600_000).build().unwrap(); // total wait 8 s < Retry-After 30 s
    let started = std::time::Instant::now();
    let err = ids("hopeless", client.departments().concurrency(1), dept_id)
        .await
        .unwrap_err();
    assert!(err.is_rate_limited() && err.is_retries_exhausted(), "{err}");
    assert_eq!(err.attempts(), 1, "no sleep may start that the cap forbids");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}
