//! `BudgetMiddleware`: an application's own reqwest calls, made through reqwest-middleware,
//! draw from the account's rate budget with the client's scans, so that together they stay
//! under its limit; calls to anywhere else go through untouched.
#![cfg(all(feature = "middleware", feature = "simulator"))]

mod support;

use std::time::Duration;

use helpcrunch_pager::simulator::{RateLimit, Simulator};
use helpcrunch_pager::{Client, Customer};
use reqwest_middleware::ClientWithMiddleware;
use support::*;

/// The account's limit here, five times HelpCrunch's: a leaky bucket with no burst that
/// rejects any request sooner than 100 ms after the last one it took.
const RPM: u32 = 600;
/// Grants 150 ms apart. The slack is for a loaded machine: a server thread held off the CPU
/// takes the requests that queued meanwhile one right after the other, and the bucket counts
/// them so. Two streams each keeping this pace apart would still go at 800 a minute
/// together, well over the limit.
const MARGIN: f64 = 0.5;
const CUSTOMERS: u64 = 200;
/// Pages of 25: the scan takes nine requests, about as many as the plain calls.
const PAGE_SIZE: u32 = 25;
const PLAIN_CALLS: usize = 10;

/// The timed tests take turns, as in `rate_budget.rs`: side by side, each would measure the
/// other's load rather than the budget.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A simulator of `CUSTOMERS` customers (and a few departments for the plain calls), a client
/// at `RPM`, and plain reqwest through the client's middleware or not: each has sent a
/// request before the strict leaky bucket is put on. The first request of a connection pool
/// can come tens of milliseconds late on a loaded machine (seen: 40 ms), later than the
/// request granted after it, and the bucket would refuse that one for the machine's sake.
async fn account(budgeted: bool) -> (Simulator, Client, ClientWithMiddleware) {
    let sim = Simulator::builder()
        .customers(CUSTOMERS as usize)
        .departments(5)
        .start()
        .unwrap();
    let client = builder_for(&sim, RPM).rate_margin(MARGIN).build().unwrap();
    let mut http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new());
    if budgeted {
        http = http.with(client.middleware());
    }
    let http = http.build();
    let warm_up = async {
        let url = format!("{}/departments?limit=1", sim.base_url());
        let plain = http.get(url).bearer_auth(sim.api_key()).send().await;
        assert_eq!(plain.unwrap().status(), 200);
        client
            .get::<serde_json::Value>("departments?limit=1")
            .send()
            .await
            .unwrap();
    };
    bounded("the warm-up", warm_up).await;
    sim.set_rate_limit(Some(RateLimit::leaky_bucket(RPM)));
    (sim, client, http)
}

/// Every customer, read on a task of its own, four windows at a time.
fn spawn_scan(
    client: &Client,
) -> tokio::task::JoinHandle<Result<Vec<u64>, helpcrunch_pager::Error>> {
    let scan = client.customers().page_size(PAGE_SIZE).concurrency(4);
    tokio::spawn(async move { ids("the scan", scan, |c: &Customer| c.id).await })
}

/// `PLAIN_CALLS` plain reqwest GETs of the departments, each sent as soon as the last one
/// is answered: the statuses they got.
async fn plain_calls(sim: &Simulator, http: &ClientWithMiddleware) -> Vec<u16> {
    let url = format!("{}/departments?limit=1", sim.base_url());
    let mut statuses = Vec::with_capacity(PLAIN_CALLS);
    for _ in 0..PLAIN_CALLS {
        let answer = http
            .get(&url)
            .bearer_auth(sim.api_key())
            .send()
            .await
            .expect("an answer");
        statuses.push(answer.status().as_u16());
    }
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_calls_through_the_middleware_and_a_scan_share_the_budget_without_a_429() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (sim, client, http) = account(true).await;

    let scan = spawn_scan(&client);
    let statuses = bounded("the plain calls", plain_calls(&sim, &http)).await;
    let got = scan.await.unwrap().unwrap();

    assert_each_once_in_order(&got, CUSTOMERS);
    assert_eq!(statuses, [200; PLAIN_CALLS]);
    let mut log = sim.requests();
    log.sort_by_key(|r| r.at);
    let refused: Vec<String> = log
        .windows(2)
        .filter(|pair| pair[1].status == 429)
        .map(|pair| {
            let (before, it) = (&pair[0], &pair[1]);
            format!(
                "{} at {:?}, {:?} after {}",
                it.path,
                it.at,
                it.at - before.at,
                before.path
            )
        })
        .collect();
    assert!(refused.is_empty(), "the server refused {refused:#?}");
    // Every request the server saw took its turn at the client's budget.
    assert_eq!(client.stats().requests, sim.stats().requests);

    // The plain calls went while the scan ran, not before or after it.
    let is_scan = |path: &str| path.ends_with("/customers");
    let first = log.iter().position(|r| is_scan(&r.path)).unwrap();
    let last = log.iter().rposition(|r| is_scan(&r.path)).unwrap();
    let during = log[first..last]
        .iter()
        .filter(|r| !is_scan(&r.path))
        .count();
    eprintln!(
        "{} requests: {} of the {PLAIN_CALLS} plain calls went during the scan",
        log.len(),
        during
    );
    assert!(
        during >= PLAIN_CALLS / 2,
        "only {during} of {PLAIN_CALLS} plain calls went while the scan ran"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_plain_calls_without_the_middleware_run_into_the_limit() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (sim, client, http) = account(false).await;

    let scan = spawn_scan(&client);
    let statuses = bounded("the plain calls", plain_calls(&sim, &http)).await;
    // What became of the scan is not the question here.
    scan.abort();

    // Back to back, the calls come far sooner than 100 ms apart: the bucket must refuse some.
    let refused = statuses.iter().filter(|&&s| s == 429).count();
    eprintln!("{refused} of {PLAIN_CALLS} plain calls refused");
    assert!(refused > 0, "no plain call was refused: {statuses:?}");
    assert!(sim.stats().rate_limited > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_outside_the_base_url_does_not_wait_for_the_budget() {
    let sim = Simulator::builder().departments(5).start().unwrap();
    let elsewhere = Simulator::builder().departments(5).start().unwrap();
    // One request a minute: after the first, the budget has nothing to give for a minute.
    let client = client_for(&sim, 1);
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(client.middleware())
        .build();
    let get = |url: String, key: &str| http.get(url).bearer_auth(key).send();

    let first = get(format!("{}/departments", sim.base_url()), sim.api_key());
    assert_eq!(
        bounded("the first call", first).await.unwrap().status(),
        200
    );
    let second = get(format!("{}/departments", sim.base_url()), sim.api_key());
    assert!(
        tokio::time::timeout(Duration::from_millis(300), second)
            .await
            .is_err(),
        "a second call under the base URL went without waiting for the budget"
    );

    // Another API, and the account's own host outside the base path: neither waits.
    let other_host = get(
        format!("{}/departments", elsewhere.base_url()),
        elsewhere.api_key(),
    );
    assert_eq!(
        bounded("another host", other_host).await.unwrap().status(),
        200
    );
    let origin = sim.base_url().trim_end_matches("/v1").to_owned();
    let other_path = get(format!("{origin}/v1-beta/departments"), sim.api_key());
    assert_eq!(
        bounded("another path", other_path).await.unwrap().status(),
        404
    );

    assert_eq!(client.stats().requests, 1);
    assert_eq!((sim.stats().requests, elsewhere.stats().requests), (2, 1));
}

/// A 429 answered to a call through the middleware, with `Retry-After: 1`, then the client's
/// own call: it must wait out the second.
async fn a_429_through_the_middleware_holds_back_the_clients_own_requests(adaptive: bool) {
    // A bucket of one request a second, saying how long to wait when it refuses one.
    let sim = Simulator::builder()
        .departments(5)
        .rate_limit(RateLimit::leaky_bucket(60))
        .retry_after(true)
        .start()
        .unwrap();
    // The client's own pace would let its request go 10 ms after the last.
    let client = builder_for(&sim, 6_000).adaptive(adaptive).build().unwrap();
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(client.middleware())
        .build();
    let url = format!("{}/departments?limit=1", sim.base_url());

    // Another tool on the key takes the bucket's request for this second...
    let other_tool = reqwest::Client::new()
        .get(&url)
        .bearer_auth(sim.api_key())
        .send();
    assert_eq!(
        bounded("the other tool", other_tool)
            .await
            .unwrap()
            .status(),
        200
    );
    // ...so the application's call through the middleware is refused,
    let refused = http.get(&url).bearer_auth(sim.api_key()).send();
    let refused = bounded("the refused call", refused).await.unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "1");
    // ...and the client's own request waits the second out, then goes through.
    let own = client
        .get::<serde_json::Value>("departments?limit=1")
        .send();
    bounded("the client's own call", own).await.unwrap();

    let log = sim.requests();
    let statuses: Vec<u16> = log.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 429, 200]);
    let held = log[2].at - log[1].at;
    assert!(
        held >= Duration::from_millis(990),
        "the client's own request went {held:?} after the 429 that asked for a second"
    );
    let stats = client.stats();
    assert_eq!((stats.requests, stats.rate_limited), (2, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_through_the_middleware_holds_back_the_clients_own_requests_at_an_adaptive_rate() {
    a_429_through_the_middleware_holds_back_the_clients_own_requests(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_through_the_middleware_holds_back_the_clients_own_requests_at_a_fixed_rate() {
    a_429_through_the_middleware_holds_back_the_clients_own_requests(false).await;
}

/// The lane comes from the request's extensions: a plain call marked `Priority::Background`
/// queues behind the scan's windows, one with no mark goes ahead of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_background_extension_queues_the_call_with_the_scans() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let sim = Simulator::builder()
        .customers(2_000)
        .departments(5)
        .start()
        .unwrap();
    let client = builder_for(&sim, 3_000).build().unwrap();
    let interval = client.request_interval();
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(client.middleware())
        .build();
    let url = format!("{}/departments?limit=1", sim.base_url());
    let scan = client.customers().page_size(5).concurrency(8);
    let scan = tokio::spawn(async move { ids("the scan", scan, |c: &Customer| c.id).await });
    tokio::time::sleep(interval * 10).await;
    let timed = |background: bool| {
        let mut request = http.get(&url).bearer_auth(sim.api_key());
        if background {
            request = request.with_extension(helpcrunch_pager::Priority::Background);
        }
        async move {
            let asked = std::time::Instant::now();
            let answer = bounded("a plain call", request.send()).await.unwrap();
            assert_eq!(answer.status(), 200);
            asked.elapsed()
        }
    };
    let interactive = timed(false).await;
    let background = timed(true).await;
    scan.abort();
    assert!(
        interactive <= interval * 3,
        "an unmarked call waited {interactive:?} (interval {interval:?})"
    );
    assert!(
        background > interval * 4,
        "a call marked background waited only {background:?}: it did not queue behind the \
         scan's eight windows (interval {interval:?})"
    );
}
