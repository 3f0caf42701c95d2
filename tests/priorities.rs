//! Single calls go ahead of the windows scans have queued, and a flood of them does not
//! starve a scan: the budget's two lanes ([`Priority`]).
#![cfg(feature = "simulator")]

mod support;

use std::time::{Duration, Instant};

use futures::TryStreamExt;
use helpcrunch_pager::simulator::{RateLimit, RequestRecord, Simulator};
use helpcrunch_pager::{Client, Priority};
use support::lanes::{flood, is_call, split, CALL};
use support::{bounded, client_for};

/// The account's limit in these tests: 50 requests a second.
const RPM: u32 = 3_000;

fn simulator() -> Simulator {
    Simulator::builder()
        .customers(5_000)
        .chats(5_000)
        .departments(3)
        .rate_limit(RateLimit::sliding_window(RPM / 60, Duration::from_secs(1)))
        .start()
        .expect("the simulator starts")
}

/// Starts a scan that keeps `concurrency` windows queued for the budget until it is aborted.
fn busy_scan(client: &Client, chats: bool) -> tokio::task::JoinHandle<usize> {
    let client = client.clone();
    tokio::spawn(async move {
        let mut n = 0;
        if chats {
            let mut scan = client.chats().page_size(5).concurrency(4);
            while let Some(_chat) = scan.try_next().await.expect("the scan reads") {
                n += 1;
            }
        } else {
            let mut scan = client.customers().page_size(5).concurrency(4);
            while let Some(_customer) = scan.try_next().await.expect("the scan reads") {
                n += 1;
            }
        }
        n
    })
}

/// Must show 1: with two scans keeping the budget busy, ten single calls each wait at most
/// three budget intervals, and the scans still use at least 90 % of the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_calls_go_ahead_of_two_busy_scans_which_keep_their_pace() {
    let sim = simulator();
    let client = client_for(&sim, RPM);
    let interval = client.request_interval();
    let slot = Duration::from_secs(60) / RPM;
    let scans = [busy_scan(&client, false), busy_scan(&client, true)];
    // Both scans have their windows queued.
    tokio::time::sleep(interval * 10).await;

    let mut waits = Vec::new();
    for _ in 0..10 {
        let asked = Instant::now();
        let call = client.get::<serde_json::Value>(CALL);
        let page = bounded("a single call", call.send())
            .await
            .expect("the call succeeds");
        waits.push(asked.elapsed());
        assert_eq!(page["data"].as_array().map(Vec::len), Some(1));
        // A person's pace: the calls take under 4 % of the budget.
        tokio::time::sleep(interval * 25).await;
    }
    // The control: the same call queued with the scans waits behind their eight windows.
    let asked = Instant::now();
    let call = client
        .get::<serde_json::Value>(CALL)
        .priority(Priority::Background);
    bounded("a background call", call.send())
        .await
        .expect("the call succeeds");
    let behind_the_scans = asked.elapsed();
    for scan in scans {
        scan.abort();
    }

    let most = waits.iter().max().copied().unwrap_or_default();
    eprintln!("interval {interval:?}; waits {waits:?}; the control waited {behind_the_scans:?}");
    assert!(
        most <= interval * 3,
        "a single call waited {most:?}, more than three intervals of {interval:?}: {waits:?}"
    );
    assert!(
        behind_the_scans > interval * 3,
        "the control call queued with the scans waited only {behind_the_scans:?}, so the test \
         does not tell interactive from background"
    );
    let log = sim.requests();
    let calls: Vec<&RequestRecord> = log.iter().filter(|r| is_call(r)).collect();
    let (from, to) = (calls[0].at, calls[9].at);
    let (scan_requests, call_requests) = split(&log, from, to);
    assert_eq!(call_requests, 10);
    let slots = (to - from).as_secs_f64() / slot.as_secs_f64();
    let scans_share = scan_requests as f64 / slots;
    eprintln!(
        "scans {scan_requests} requests in {slots:.0} slots: {:.1} % of the limit",
        scans_share * 100.0
    );
    assert!(
        scans_share >= 0.90,
        "the scans used {:.1} % of the limit while the calls ran ({scan_requests} requests in \
         {slots:.0} slots)",
        scans_share * 100.0
    );
    assert_eq!(
        sim.stats().rate_limited,
        0,
        "the budget went over the limit"
    );
}

/// Must show 2: a flood of interactive calls does not starve a scan; while both wait, the scan
/// keeps about half of the budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_interactive_calls_does_not_starve_a_scan() {
    let sim = simulator();
    let client = client_for(&sim, RPM);
    let interval = client.request_interval();
    let scan = busy_scan(&client, false);
    tokio::time::sleep(interval * 5).await;
    bounded("the flood", flood(&client, 6, interval * 80)).await;
    scan.abort();

    let log = sim.requests();
    let calls: Vec<&RequestRecord> = log.iter().filter(|r| is_call(r)).collect();
    // From the flood's tenth call (all six callers queued) to its last.
    let (from, to) = (calls[10].at, calls[calls.len() - 1].at);
    let (scan_requests, call_requests) = split(&log, from, to);
    let total = (scan_requests + call_requests) as f64;
    let scan_share = scan_requests as f64 / total;
    eprintln!("during the flood: scan {scan_requests}, calls {call_requests}");
    assert!(
        total >= 50.0,
        "only {total} requests in the flood: the test measured nothing"
    );
    assert!(
        (0.40..=0.60).contains(&scan_share),
        "while both lanes queued the scan had {:.0} % of the requests ({scan_requests} of \
         {total}); it should keep about half",
        scan_share * 100.0
    );
    assert_eq!(
        sim.stats().rate_limited,
        0,
        "the budget went over the limit"
    );
}
