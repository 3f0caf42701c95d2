//! Measures the budget's two lanes (issue 12, must show 1 and 2) over longer runs than the tests:
//!
//! 1. two scans keep the budget busy while single calls come at a person's pace: how long each
//!    call waits, in budget intervals (the target: at most 3), and what share of the limit the
//!    scans keep meanwhile (the target: at least 90 %);
//! 2. a flood of interactive calls beside a scan: the scan's share of the requests (about half).
//!
//! Prints the tables for BENCHMARKS.md and exits non-zero when a target is missed.
//!
//! `cargo bench --bench priorities` (about 70 seconds once built). `PRIORITIES_RPM=120` runs it
//! at HelpCrunch's own limit (ten times longer).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use helpcrunch_pager::simulator::{RateLimit, RequestRecord, Simulator};
use helpcrunch_pager::{Client, Priority, RetryPolicy};
use lanes::{flood, is_call, percentile, split, CALL};

#[path = "../tests/support/lanes.rs"]
mod lanes;

/// The single calls of scenario 1.
const CALLS: usize = 40;

fn rpm() -> u32 {
    std::env::var("PRIORITIES_RPM")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_200)
}

fn simulator(rpm: u32) -> Simulator {
    Simulator::builder()
        .customers(50_000)
        .chats(50_000)
        .departments(3)
        .rate_limit(RateLimit::sliding_window(rpm / 10, Duration::from_secs(6)))
        .start()
        .expect("the simulator starts")
}

fn client(sim: &Simulator, rpm: u32) -> Client {
    Client::builder()
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .requests_per_minute(rpm)
        .rate_window(Duration::from_secs(6))
        .retry_policy(RetryPolicy::new().with_min_delay(Duration::from_millis(50)))
        .build()
        .expect("client")
}

/// A scan that keeps four windows queued until aborted.
fn busy_scan(client: &Client, chats: bool) -> tokio::task::JoinHandle<()> {
    let client = client.clone();
    tokio::spawn(async move {
        if chats {
            let mut scan = client.chats().page_size(10).concurrency(4);
            while scan.try_next().await.expect("scan").is_some() {}
        } else {
            let mut scan = client.customers().page_size(10).concurrency(4);
            while scan.try_next().await.expect("scan").is_some() {}
        }
    })
}

/// Scenario 1; returns whether both targets were met.
async fn calls_beside_two_scans(rpm: u32) -> bool {
    let sim = simulator(rpm);
    let client = client(&sim, rpm);
    let interval = client.request_interval();
    let slot = Duration::from_secs(60) / rpm;
    let scans = [busy_scan(&client, false), busy_scan(&client, true)];
    tokio::time::sleep(interval * 10).await;
    let mut waits = Vec::new();
    for i in 0..CALLS {
        let asked = Instant::now();
        let _: serde_json::Value = client.get(CALL).await.expect("the call succeeds");
        waits.push(asked.elapsed().as_secs_f64() / interval.as_secs_f64());
        // A person's pace, not a clock's: 20 to 31 intervals apart, at every phase of the
        // slots rather than the one the last call ended at.
        let apart = 20.0 + f64::from(i as u32 * 7 % 11) + (i as f64 * 0.37).fract();
        tokio::time::sleep(interval.mul_f64(apart)).await;
    }
    let asked = Instant::now();
    let _: serde_json::Value = client
        .get(CALL)
        .priority(Priority::Background)
        .await
        .expect("the call succeeds");
    let control = asked.elapsed().as_secs_f64() / interval.as_secs_f64();
    for scan in scans {
        scan.abort();
    }
    let log = sim.requests();
    let calls: Vec<&RequestRecord> = log.iter().filter(|r| is_call(r)).collect();
    let (from, to) = (calls[0].at, calls[CALLS - 1].at);
    let (scans_n, calls_n) = split(&log, from, to);
    let slots = (to - from).as_secs_f64() / slot.as_secs_f64();
    let scans_share = scans_n as f64 / slots;
    let all_share = (scans_n + calls_n) as f64 / slots;
    waits.sort_by(f64::total_cmp);
    let (p50, p95, max) = (
        percentile(&waits, 0.5),
        percentile(&waits, 0.95),
        waits[waits.len() - 1],
    );
    println!("## Single calls beside two busy scans ({rpm}/min, interval {interval:?})");
    println!();
    println!("| calls | wait p50 | wait p95 | wait max | background control | scans' share of the limit | all requests' share | 429s |");
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| {CALLS} | {p50:.2} intervals | {p95:.2} | {max:.2} | {control:.2} | {:.1} % | {:.1} % | {} |",
        scans_share * 100.0,
        all_share * 100.0,
        sim.stats().rate_limited
    );
    println!();
    max <= 3.0 && scans_share >= 0.90 && sim.stats().rate_limited == 0
}

/// Scenario 2; returns whether the scan kept 40 to 60 % of the requests.
async fn flood_beside_a_scan(rpm: u32) -> bool {
    let sim = simulator(rpm);
    let client = client(&sim, rpm);
    let interval = client.request_interval();
    let scan = busy_scan(&client, false);
    tokio::time::sleep(interval * 5).await;
    flood(&client, 8, interval * 400).await;
    scan.abort();
    let log = sim.requests();
    let calls: Vec<&RequestRecord> = log.iter().filter(|r| is_call(r)).collect();
    let (from, to) = (calls[10].at, calls[calls.len() - 1].at);
    let (scan_n, calls_n) = split(&log, from, to);
    let during = scan_n + calls_n;
    let share = scan_n as f64 / during as f64;
    let rate = (during - 1) as f64 * 60.0 / (to - from).as_secs_f64() / f64::from(rpm);
    println!("## A flood of interactive calls beside a scan ({rpm}/min, 8 callers)");
    println!();
    println!("| requests | the scan's | the calls' | the scan's share | all requests' share of the limit | 429s |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| {during} | {scan_n} | {calls_n} | {:.1} % | {:.1} % | {} |",
        share * 100.0,
        rate * 100.0,
        sim.stats().rate_limited
    );
    println!();
    (0.40..=0.60).contains(&share) && sim.stats().rate_limited == 0
}

fn main() -> ExitCode {
    let rpm = rpm();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let first = rt.block_on(calls_beside_two_scans(rpm));
    let second = rt.block_on(flood_beside_a_scan(rpm));
    if first && second {
        ExitCode::SUCCESS
    } else {
        eprintln!("a target was missed");
        ExitCode::FAILURE
    }
}
