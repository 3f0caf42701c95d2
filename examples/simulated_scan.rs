//! Reads a whole simulated HelpCrunch collection through the real engine, printing each page
//! and a summary: no key and no network needed.
//!
//! `cargo run --example simulated_scan`

use std::time::{Duration, Instant};

use futures::TryStreamExt;
use helpcrunch_pager::simulator::{RateLimit, Simulator};
use helpcrunch_pager::{Client, Department};

/// HelpCrunch's 120 requests a minute, ten times faster, so the demo takes seconds.
const RPM: u32 = 1_200;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sim = Simulator::builder()
        .departments(5_000)
        .rate_limit(RateLimit::sliding_window(120, Duration::from_secs(6)))
        .latency(Duration::from_millis(80))
        .start()?;
    let client = Client::builder()
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .requests_per_minute(RPM)
        .build()?;

    println!(
        "reading departments from a simulated account at {}",
        sim.base_url()
    );
    let started = Instant::now();
    let mut pages = client.departments().pages();
    let mut records = 0;
    while let Some(page) = pages.try_next().await? {
        records += page.items.len();
        let last: Option<&Department> = page.items.last();
        println!(
            "offset {:>5}: {:>3} records (last id {:>5}), {records} of {}",
            page.offset,
            page.items.len(),
            last.map_or(0, |d| d.id),
            page.total
        );
    }
    let elapsed = started.elapsed();
    let stats = sim.stats();
    let rate = stats.requests as f64 * 60.0 / elapsed.as_secs_f64();
    println!(
        "{records} records, {} requests, {} 429s in {:.1} s: {rate:.0} requests/min, {:.1} % of the {RPM}/min limit",
        stats.requests,
        stats.rate_limited,
        elapsed.as_secs_f64(),
        rate * 100.0 / f64::from(RPM)
    );
    Ok(())
}
