//! Measures how close a scan gets to the account's limit against each server algorithm, what
//! the scan's consistency checks cost in requests when nothing moves (at most 2 % more than a
//! plain loop), and what concurrency buys when the server is slow. Prints the tables for BENCHMARKS.md and exits
//! non-zero when a target is missed.
//!
//! `cargo bench --bench rate_scan` (about 80 seconds once built).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use helpcrunch_pager::simulator::{RateLimit, Simulator};
use helpcrunch_pager::{Client, Department, RetryPolicy, DEFAULT_CONCURRENCY};

/// HelpCrunch's 120 per minute, ten times faster: the same shape in a tenth of the time.
const RPM: u32 = 1_200;
const WINDOW: Duration = Duration::from_secs(6);

struct Scan {
    records: usize,
    in_order_once: bool,
    requests: u64,
    rate_limited: u64,
    elapsed: Duration,
}

impl Scan {
    /// Requests per minute over the scan, as a share of the configured limit.
    fn share(&self) -> f64 {
        self.requests as f64 * 60.0 / self.elapsed.as_secs_f64() / f64::from(RPM)
    }
}

async fn scan(sim: &Simulator, concurrency: usize) -> Scan {
    let client = Client::builder()
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .requests_per_minute(RPM)
        .retry_policy(RetryPolicy::new().with_min_delay(Duration::from_millis(50)))
        .build()
        .expect("client");
    let started = Instant::now();
    let all: Vec<Department> = client
        .departments()
        .concurrency(concurrency)
        .try_collect()
        .await
        .expect("scan");
    let elapsed = started.elapsed();
    let stats = sim.stats();
    Scan {
        records: all.len(),
        in_order_once: all.iter().enumerate().all(|(i, d)| d.id == i as u64 + 1),
        requests: stats.requests,
        rate_limited: stats.rate_limited,
        elapsed,
    }
}

fn main() -> ExitCode {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut ok = true;
    println!("## Rate against each server algorithm ({RPM}/min, 20,000 records, default concurrency {DEFAULT_CONCURRENCY})\n");
    println!("| server algorithm | records | each once, in order | requests | 429s | elapsed | rate / limit |");
    println!("|---|---|---|---|---|---|---|");
    let algorithms = [
        (
            "fixed window, 120 per 6 s",
            RateLimit::fixed_window(120, WINDOW),
        ),
        (
            "sliding window, 120 per 6 s",
            RateLimit::sliding_window(120, WINDOW),
        ),
        (
            "leaky bucket, no burst, 50 ms",
            RateLimit::leaky_bucket(RPM),
        ),
    ];
    for (name, limit) in algorithms {
        let sim = Simulator::builder()
            .departments(20_000)
            .rate_limit(limit)
            .start()
            .expect("simulator");
        let s = runtime.block_on(scan(&sim, DEFAULT_CONCURRENCY));
        println!(
            "| {name} | {} | {} | {} | {} | {:.2} s | {:.1} % |",
            s.records,
            if s.in_order_once { "yes" } else { "NO" },
            s.requests,
            s.rate_limited,
            s.elapsed.as_secs_f64(),
            s.share() * 100.0
        );
        // What the scan's checks cost when nothing moves: within 2 % of the 200 pages a
        // plain loop would ask for (the retries of 429s are the target above).
        ok &= s.records == 20_000
            && s.in_order_once
            && s.rate_limited * 100 <= s.requests
            && (s.requests - s.rate_limited) * 100 <= 200 * 102
            && s.share() >= 0.97;
    }

    let latency = Duration::from_secs(60) / RPM * 2;
    println!("\n## A slow server: latency {latency:?}, twice the budget's spacing ({RPM}/min, 20,000 records, leaky bucket)\n");
    println!("| concurrency | requests | 429s | elapsed | rate / limit |");
    println!("|---|---|---|---|---|");
    let mut shares = Vec::new();
    for concurrency in [DEFAULT_CONCURRENCY, 1] {
        let sim = Simulator::builder()
            .departments(20_000)
            .rate_limit(RateLimit::leaky_bucket(RPM))
            .latency(latency)
            .start()
            .expect("simulator");
        let s = runtime.block_on(scan(&sim, concurrency));
        let label = if concurrency == DEFAULT_CONCURRENCY {
            format!("{concurrency} (default)")
        } else {
            concurrency.to_string()
        };
        println!(
            "| {label} | {} | {} | {:.2} s | {:.1} % |",
            s.requests,
            s.rate_limited,
            s.elapsed.as_secs_f64(),
            s.share() * 100.0
        );
        ok &= s.records == 20_000 && s.in_order_once;
        shares.push(s.share());
    }
    ok &= shares[0] >= 0.95 && shares[1] < 0.95;

    if ok {
        println!("\nall targets met");
        ExitCode::SUCCESS
    } else {
        println!("\nA TARGET WAS MISSED");
        ExitCode::FAILURE
    }
}
