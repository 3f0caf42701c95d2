//! The answer protocol: a 429 settled through the middleware holds the client back exactly as
//! one settled through the client's own request (a scan's): the same pause from the 429, the
//! same effect on the adaptive rate. Each path meets one 429 saying "retry now" on an account
//! of its own, and what the budget then does is compared.
#![cfg(all(feature = "middleware", feature = "simulator"))]

mod support;

use std::time::Duration;

use helpcrunch_pager::simulator::{Fault, Simulator};
use helpcrunch_pager::{ClientStats, Department};
use support::*;

/// One request every 510 ms, the margin included.
const RPM: u32 = 120;
/// How long the server takes to answer: a pause counted from the 429's answer, not from its
/// request's grant, shows as this much more between the 429 and the next request.
const LATENCY: Duration = Duration::from_millis(200);
const CALL: &str = "departments?limit=1";

/// Which path the 429 is settled through.
#[derive(Debug, Clone, Copy)]
enum Path {
    /// A plain reqwest call through `Client::middleware`.
    Middleware,
    /// The client's own request: a scan's first page, which it then retries.
    Scan,
}

/// What the budget did after the 429.
#[derive(Debug)]
struct After {
    /// From the 429's arrival at the server to the next request's.
    gap: Duration,
    stats: ClientStats,
    interval: Duration,
}

/// The account's second request, sent through `path`, is answered 429 `Retry-After: 0`; then
/// the client's own request follows (the scan's retry, or a call after the middleware's).
async fn after_a_429(path: Path, adaptive: bool) -> After {
    let sim = Simulator::builder()
        .departments(5)
        .latency(LATENCY)
        .fault(2, Fault::RateLimited("0".into()))
        .start()
        .unwrap();
    let client = builder_for(&sim, RPM).adaptive(adaptive).build().unwrap();
    let warm_up = client.get::<serde_json::Value>(CALL).send();
    bounded("the first call", warm_up).await.unwrap();
    match path {
        Path::Middleware => {
            let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
                .with(client.middleware())
                .build();
            let url = format!("{}/{CALL}", sim.base_url());
            let refused = http.get(url).bearer_auth(sim.api_key()).send();
            let refused = bounded("the refused call", refused).await.unwrap();
            assert_eq!(refused.status(), 429);
            let own = client.get::<serde_json::Value>(CALL).send();
            bounded("the client's own call", own).await.unwrap();
        }
        Path::Scan => {
            let scan = client.departments().concurrency(1);
            let got = ids("the scan", scan, |d: &Department| d.id).await.unwrap();
            assert_each_once_in_order(&got, 5);
        }
    }
    let log = sim.requests();
    let statuses: Vec<u16> = log.iter().take(3).map(|r| r.status).collect();
    assert_eq!(statuses, [200, 429, 200], "{path:?}");
    After {
        gap: log[2].at - log[1].at,
        stats: client.stats(),
        interval: client.request_interval(),
    }
}

async fn both_paths_hold_the_client_back_alike(adaptive: bool) {
    let (middleware, scan) = tokio::join!(
        after_a_429(Path::Middleware, adaptive),
        after_a_429(Path::Scan, adaptive)
    );
    eprintln!("adaptive {adaptive}: middleware {middleware:?}, scan {scan:?}");
    // The retry waits the budget's spacing from the 429's answer, whichever path met it.
    for after in [&middleware, &scan] {
        assert!(
            after.gap >= LATENCY + after.interval - Duration::from_millis(20),
            "the next request went {:?} after the 429, sooner than its answer ({LATENCY:?}) \
             and a spacing ({:?})",
            after.gap,
            after.interval
        );
    }
    let apart = middleware.gap.abs_diff(scan.gap);
    assert!(
        apart <= Duration::from_millis(120),
        "the pauses differ by {apart:?}: middleware {:?}, scan {:?}",
        middleware.gap,
        scan.gap
    );
    let (m, s) = (middleware.stats, scan.stats);
    assert_eq!((m.rate_limited, s.rate_limited), (1, 1));
    assert_eq!(m.rate_changes, s.rate_changes);
    assert!(
        (m.rate_per_minute - s.rate_per_minute).abs() <= s.rate_per_minute * 0.01,
        "the rate is {} after the middleware's 429, {} after the scan's",
        m.rate_per_minute,
        s.rate_per_minute
    );
    let spacing = middleware.interval.abs_diff(scan.interval);
    assert!(spacing <= scan.interval / 100, "{middleware:?} / {scan:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_through_the_middleware_holds_the_client_back_as_a_scans_does_at_a_fixed_rate() {
    both_paths_hold_the_client_back_alike(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_through_the_middleware_holds_the_client_back_as_a_scans_does_at_an_adaptive_rate() {
    both_paths_hold_the_client_back_alike(true).await;
}
