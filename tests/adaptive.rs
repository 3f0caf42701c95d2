//! The adaptive rate against servers that allow less than configured: it goes down after
//! repeated 429s, comes back up once the server allows more, takes a lower limit header as its
//! ceiling, and says so in the stats and in a tracing event. A fixed rate does none of it.
//! Scaled: 6,000 a minute configured, windows of a second.

mod support;

use std::time::{Duration, Instant};

use helpcrunch_pager::simulator::{RateLimit, Simulator};
use helpcrunch_pager::{Client, ClientStats, Department};
use support::*;

const RPM: u32 = 6_000;
/// The configured rate with the 2 % margin.
const CEILING: f64 = RPM as f64 / 1.02;
const PAGE: u32 = 20;

fn departments(n: usize, limit: RateLimit) -> Simulator {
    Simulator::builder()
        .departments(n)
        .rate_limit(limit)
        .start()
        .unwrap()
}

/// The tests take turns. One of them captures tracing events with a subscriber of its thread;
/// tracing caches, per call site, whether anyone listens, and a site first reached on another
/// test's thread (no subscriber there) while this one installs its own can miss its events.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn scan(client: &Client, n: u64) -> ClientStats {
    let ids = ids(
        "departments",
        client.departments().page_size(PAGE),
        |d: &Department| d.id,
    )
    .await
    .unwrap();
    assert_each_once_in_order(&ids, n);
    client.stats()
}

fn share_429(stats: &ClientStats) -> f64 {
    stats.rate_limited as f64 / stats.requests as f64
}

#[tokio::test]
async fn the_rate_goes_down_after_repeated_429s_and_a_fixed_rate_does_not() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let half = RateLimit::leaky_bucket(RPM / 2);
    let (capture, _guard) = Capture::installed();

    let sim = departments(3_000, half);
    let adaptive = scan(&client_for(&sim, RPM), 3_000).await;

    assert!(
        adaptive.rate_per_minute <= f64::from(RPM / 2) * 1.05,
        "the rate never went down to what the server allows: {adaptive:?}"
    );
    assert!(adaptive.rate_changes >= 1, "{adaptive:?}");
    assert_eq!(adaptive.ceiling_per_minute, CEILING);
    assert!(
        capture.text().contains("rate lowered after a 429"),
        "no tracing event for the change"
    );

    let sim = departments(600, half);
    let fixed = scan(
        &builder_for(&sim, RPM).adaptive(false).build().unwrap(),
        600,
    )
    .await;
    assert_eq!(fixed.rate_per_minute, CEILING);
    assert_eq!(fixed.rate_changes, 0);
    // Going down is what spares the server: a fixed rate runs into it on request after request.
    assert!(
        share_429(&adaptive) * 3.0 < share_429(&fixed),
        "adaptive {:.3} of requests refused, fixed {:.3}",
        share_429(&adaptive),
        share_429(&fixed)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_comes_back_up_within_two_windows_once_the_server_allows_it() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let sim = departments(8_000, RateLimit::leaky_bucket(RPM / 2));
    let client = client_for(&sim, RPM);
    let scan = tokio::spawn({
        let client = client.clone();
        async move { scan(&client, 8_000).await }
    });

    let until = |what: &'static str, met: fn(f64) -> bool| {
        let client = client.clone();
        async move {
            let started = Instant::now();
            while !met(client.stats().rate_per_minute) {
                assert!(
                    started.elapsed() < Duration::from_secs(6),
                    "{what}: {:?}",
                    client.stats()
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            started.elapsed()
        }
    };
    until("the rate never went down", |r| r <= f64::from(RPM / 2)).await;
    sim.set_rate_limit(Some(RateLimit::leaky_bucket(RPM)));
    let took = until("the rate never came back up", |r| r >= 0.9 * CEILING).await;
    // Windows of a second: back within two, with some room for a loaded machine.
    assert!(took <= Duration::from_secs(3), "{took:?}");

    let stats = scan.await.unwrap();
    assert!(stats.rate_changes >= 2, "{stats:?}");
}

#[tokio::test]
async fn a_limit_header_under_the_configured_rate_becomes_the_ceiling() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let sim = Simulator::builder()
        .departments(2_000)
        .rate_limit(RateLimit::fixed_window(50, Duration::from_secs(1)))
        .rate_headers(true)
        .start()
        .unwrap();
    let stats = scan(&client_for(&sim, RPM), 2_000).await;
    // 50 a second is 3,000 a minute; kept with the margin.
    let expected = 3_000.0 / 1.02;
    assert!(
        (stats.ceiling_per_minute - expected).abs() < 1.0,
        "{stats:?}"
    );
    assert!(stats.rate_per_minute <= expected + 1.0, "{stats:?}");
    // Told on the first answer: at most the requests already on their way run into the limit.
    assert!(stats.rate_limited <= 2, "{stats:?}");
}
