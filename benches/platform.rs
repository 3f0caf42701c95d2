//! A platform's load: many HelpCrunch accounts, each at HelpCrunch's own 120 requests a minute,
//! served by three worker processes through one three-primary Redis Cluster, each worker given
//! a different node. Measures each account's share of its own limit (the worst one), its 429s,
//! the Redis commands and their time per request, the workers' CPU per thousand requests and
//! peak RSS, and what is left in Redis once every account has been idle past its keys' expiry.
//! Prints the table for BENCHMARKS.md and exits non-zero when a target is missed.
//!
//! `cargo bench --bench platform --features cli` (about thirteen minutes: a minute and a half
//! of load, then ten minutes idle for the keys to expire), or `-- --accounts 300 --no-expiry`
//! for a quicker look. Needs `redis-server` and `redis-cli`.
//!
//! The bench binary is also the workers: run with `PLATFORM_WORKER=1`, it reads its accounts
//! until a deadline and prints one line an account and one of its own costs.

use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::stream::{self, StreamExt};
use futures::TryStreamExt;
use helpcrunch_pager::simulator::{RateLimit, Simulator};
use helpcrunch_pager::Client;

// The tests' Redis harnesses, of which the bench uses a part; `redis_cluster` finds `redis` as
// its sibling (the crate is `::redis` here).
#[allow(dead_code)]
#[path = "../tests/support/redis.rs"]
mod redis;
#[allow(dead_code)]
#[path = "../tests/support/redis_cluster.rs"]
mod redis_cluster;

use redis_cluster::RedisCluster;

/// HelpCrunch's own limit, counted as it counts it: so many a minute.
const RPM: u32 = 120;
const WINDOW: Duration = Duration::from_secs(60);
/// How long every account reads.
const RUN: Duration = Duration::from_secs(75);
/// Records per page: the budget is measured, not the JSON; small pages keep a thousand
/// accounts' answers within two cores.
const PAGE: u32 = 10;
const WORKERS: usize = 3;

fn key(i: usize) -> String {
    format!("platform-account-{i:05}")
}

fn main() -> ExitCode {
    if std::env::var_os("PLATFORM_WORKER").is_some() {
        return worker();
    }
    let args: Vec<String> = std::env::args().collect();
    let accounts: usize = args
        .iter()
        .position(|a| a == "--accounts")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000);
    let expiry = !args.iter().any(|a| a == "--no-expiry");
    run(accounts, expiry)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_millis() as u64
}

fn run(accounts: usize, expiry: bool) -> ExitCode {
    let cluster = RedisCluster::start("the platform bench", 0)
        .expect("redis-server and redis-cli on PATH (apt-get install redis-server)");
    // Enough records that no account reaches the end of its list in the run.
    let records = (RUN.as_secs() as usize * 3 + 10) * PAGE as usize;
    let mut builder = Simulator::builder().departments(records);
    for i in 0..accounts {
        builder = builder.account(key(i), Some(RateLimit::sliding_window(RPM, WINDOW)));
    }
    let sim = builder.start().expect("the simulator");
    let urls = cluster.urls();
    let start_at = now_ms() + 3_000;
    let exe = std::env::current_exe().expect("this bench's path");
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (first, last) = (accounts * w / WORKERS, accounts * (w + 1) / WORKERS);
            Command::new(&exe)
                .env("PLATFORM_WORKER", "1")
                .env("PLATFORM_BASE_URL", sim.base_url())
                .env("PLATFORM_REDIS_URL", &urls[w % urls.len()])
                .env("PLATFORM_ACCOUNTS", format!("{first}..{last}"))
                .env("PLATFORM_START_AT_MS", start_at.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("a worker starts")
        })
        .collect();
    let outputs: Vec<String> = workers
        .into_iter()
        .map(|w| {
            let out = w.wait_with_output().expect("a worker ends");
            assert!(out.status.success(), "a worker failed");
            String::from_utf8(out.stdout).expect("text")
        })
        .collect();

    // Each account: its requests in the run against its own limit, and its 429s.
    let limit_in_run = f64::from(RPM) * RUN.as_secs_f64() / 60.0;
    let mut shares = Vec::new();
    let (mut requests, mut limited) = (0u64, 0u64);
    let (mut cpu, mut peak_rss) = (0.0f64, 0u64);
    let mut rtt_us = Vec::new();
    for line in outputs.iter().flat_map(|o| o.lines()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            ["account", i, n] => {
                let i: usize = i.parse().unwrap();
                let n: u64 = n.parse().unwrap();
                let server = sim.stats_of(&key(i)).expect("an account of the simulator");
                shares.push(n.saturating_sub(server.rate_limited) as f64 / limit_in_run);
                requests += server.requests;
                limited += server.rate_limited;
            }
            ["costs", seconds, rss_kb, rtt] => {
                cpu += seconds.parse::<f64>().unwrap();
                peak_rss = peak_rss.max(rss_kb.parse().unwrap());
                rtt_us.push(rtt.parse::<f64>().unwrap());
            }
            _ => panic!("a worker's line: {line}"),
        }
    }
    assert_eq!(shares.len(), accounts, "every account reported");
    shares.sort_by(f64::total_cmp);
    let (worst, median) = (shares[0], shares[shares.len() / 2]);
    let (calls, usec) = script_calls(&cluster);
    // The keys there are once the load ends: "none left" below means they expired, not that
    // there never were any.
    let keys_after_load = cluster.keys().len();
    let expired = expiry.then(|| {
        // Ten idle windows, as the keys' lifetime says, and a little more.
        std::thread::sleep(WINDOW * 10 + Duration::from_secs(15));
        let keys = cluster.keys().len();
        let memory: u64 = cluster
            .primaries()
            .iter()
            .map(|url| info_field(&cluster.cli(url, &["INFO", "memory"]), "used_memory"))
            .sum();
        (keys, memory)
    });

    println!(
        "\n## Many accounts: {accounts} accounts at {RPM}/min each, {WORKERS} worker processes, a three-primary Redis Cluster, {RUN:?} of load\n"
    );
    println!("| measure | value | target |");
    println!("|---|---|---|");
    println!(
        "| worst account's share of its own limit | {:.1} % | ≥ 95 % |",
        worst * 100.0
    );
    println!("| median account's share | {:.1} % | |", median * 100.0);
    println!(
        "| 429s | {limited} of {requests} ({:.3} %) | ≤ 0.5 % |",
        limited as f64 * 100.0 / requests.max(1) as f64
    );
    println!(
        "| Redis script calls per request | {:.2} | |",
        calls as f64 / requests.max(1) as f64
    );
    println!(
        "| Redis time per call (server side) | {:.1} µs | |",
        usec / calls.max(1) as f64
    );
    println!(
        "| round trip to Redis from a worker (median of the workers' PING median) | {:.0} µs | |",
        median_of(&mut rtt_us)
    );
    println!(
        "| workers' CPU per 1,000 requests | {:.2} s | |",
        cpu * 1_000.0 / requests.max(1) as f64
    );
    println!(
        "| a worker's peak RSS | {:.1} MiB | |",
        peak_rss as f64 / 1024.0
    );
    println!(
        "| keys in Redis when the load ends | {keys_after_load} ({:.1} an account) | |",
        keys_after_load as f64 / accounts as f64
    );
    match expired {
        Some((keys, memory)) => println!(
            "| keys left after ten idle windows | {keys} (used_memory of the primaries: {:.1} MiB) | none |",
            memory as f64 / 1_048_576.0
        ),
        None => println!("| keys left after ten idle windows | not measured (--no-expiry) | none |"),
    }
    let ok = worst >= 0.95
        && limited * 200 <= requests
        && keys_after_load >= accounts
        && expired.is_none_or(|(keys, _)| keys == 0);
    if ok {
        ExitCode::SUCCESS
    } else {
        eprintln!("a target was missed");
        ExitCode::FAILURE
    }
}

/// The script calls (EVALSHA and EVAL) the primaries ran, and their time in microseconds.
fn script_calls(cluster: &RedisCluster) -> (u64, f64) {
    let (mut calls, mut usec) = (0u64, 0f64);
    for url in cluster.primaries() {
        let stats = cluster.cli(&url, &["INFO", "commandstats"]);
        for line in stats.lines() {
            let Some(rest) = line
                .strip_prefix("cmdstat_evalsha:")
                .or_else(|| line.strip_prefix("cmdstat_eval:"))
            else {
                continue;
            };
            for field in rest.trim().split(',') {
                match field.split_once('=') {
                    Some(("calls", n)) => calls += n.parse::<u64>().unwrap_or(0),
                    Some(("usec", n)) => usec += n.parse::<f64>().unwrap_or(0.0),
                    _ => {}
                }
            }
        }
    }
    (calls, usec)
}

fn info_field(info: &str, name: &str) -> u64 {
    info.lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{name}:")))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn median_of(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// The worker: a client for each of its accounts, all through one Redis URL; from the common
/// start, each reads its departments page by page until the run's end; then a line for each
/// account (`account <i> <requests>`) and one of its costs (`costs <cpu s> <peak RSS KiB>
/// <median PING µs>`).
fn worker() -> ExitCode {
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
    let (first, last) = var("PLATFORM_ACCOUNTS")
        .split_once("..")
        .map(|(a, b)| (a.parse::<usize>().unwrap(), b.parse::<usize>().unwrap()))
        .expect("PLATFORM_ACCOUNTS");
    let redis_url = var("PLATFORM_REDIS_URL");
    let clients: Vec<(usize, Client)> = (first..last)
        .map(|i| {
            let client = Client::builder()
                .api_key(key(i))
                .base_url(var("PLATFORM_BASE_URL"))
                .requests_per_minute(RPM)
                .rate_window(WINDOW)
                .shared_budget(redis_url.clone())
                .build()
                .expect("a client");
            (i, client)
        })
        .collect();
    let start_at: u64 = var("PLATFORM_START_AT_MS").parse().unwrap();
    std::thread::sleep(Duration::from_millis(start_at.saturating_sub(now_ms())));
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let deadline = tokio::time::Instant::now() + RUN;
        stream::iter(&clients)
            .for_each_concurrent(None, |(_, client)| async move {
                let mut pages = Box::pin(
                    client
                        .paginate::<serde_json::Value>("departments")
                        .page_size(PAGE)
                        .concurrency(1),
                );
                let _ = tokio::time::timeout_at(deadline, async {
                    while let Ok(Some(_)) = pages.try_next().await {}
                })
                .await;
            })
            .await;
    });
    for (i, client) in &clients {
        println!("account {i} {}", client.stats().requests);
    }
    let rtt = runtime.block_on(ping_median(&redis_url));
    println!("costs {} {} {rtt}", cpu_seconds(), peak_rss_kib());
    ExitCode::SUCCESS
}

/// The median of a hundred PINGs' round trips to the worker's Redis node, in microseconds.
async fn ping_median(url: &str) -> f64 {
    let client = ::redis::Client::open(url).expect("the node's URL");
    let mut c = client
        .get_multiplexed_async_connection()
        .await
        .expect("a connection to the node");
    let mut times: Vec<f64> = Vec::new();
    for _ in 0..100 {
        let started = Instant::now();
        let _: String = ::redis::cmd("PING")
            .query_async(&mut c)
            .await
            .expect("PONG");
        times.push(started.elapsed().as_secs_f64() * 1e6);
    }
    median_of(&mut times)
}

/// This process's user and system CPU time, in seconds.
fn cpu_seconds() -> f64 {
    // /proc/self/stat: utime and stime are fields 14 and 15, in clock ticks.
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields
        .get(11..13)
        .map(|f| f.iter().filter_map(|t| t.parse::<f64>().ok()).sum())
        .unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks / per_second.max(1.0)
}

/// This process's peak resident set (VmHWM), in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
