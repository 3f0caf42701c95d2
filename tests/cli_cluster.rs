//! The shared budget through a real Redis Cluster (three primaries on loopback, started by the
//! tests): exports given a plain `redis://` URL of any node, a different one each, share one
//! budget; several nodes in one URL, the first of them down, still do. Needs `redis-server`
//! and `redis-cli` (see `support/redis_cluster.rs`).

#[path = "support/cli.rs"]
mod cli;
mod support;

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Instant;

use cli::*;
use helpcrunch_pager::simulator::{RateLimit, Simulator};
use support::redis_cluster::RedisCluster;
use support::*;

/// The tests' scaled minute: 40 requests a second.
const RPM: u32 = 2_400;
/// 70 pages a collection, 210 requests in all: 0.5 % of them is one 429.
const RECORDS: usize = 7_000;
const COLLECTIONS: [&str; 3] = ["departments", "agents", "customers"];

/// The tests take turns: two fleets of three on two cores at once would measure the machine's
/// scheduling, not the budget.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn simulator(records: usize) -> Simulator {
    Simulator::builder()
        .departments(records)
        .agents(records)
        .customers(records)
        // A leaky bucket, which refuses any two requests closer than its interval, so that two
        // exports sending in one slot (a budget not shared) are refused. Its interval is 4 ms
        // under the budget's pace (21.4 ms against 25.5), as in `cli_fleet.rs`: a debug build's
        // jitter on two cores, with six Redis nodes and three exporters, exceeds the half
        // millisecond a bucket at the limit leaves, and CI once saw two requests 429 with 2.5
        // ms (one late by 6 ms, the next on time). `cargo bench --bench fleet` measures the
        // default margin against a bucket at the limit in a release build.
        .rate_limit(RateLimit::leaky_bucket(RPM + 400))
        .start()
        .unwrap()
}

/// One export per collection on `sim`'s key, the i-th through `urls[i]`.
fn start_exports(sim: &Simulator, urls: &[String], dir: &Path) -> Vec<(Child, PathBuf)> {
    COLLECTIONS
        .iter()
        .zip(urls)
        .map(|(collection, url)| {
            let file = dir.join(format!("{collection}.jsonl"));
            let child = export_from(sim, &RPM.to_string(), &[collection])
                .args(["--output", file.to_str().unwrap(), "--quiet"])
                .args(["--rate-window", "1", "--redis-url", url])
                .spawn()
                .unwrap();
            (child, file)
        })
        .collect()
}

/// Waits for the exports and checks that each wrote every record of its collection once, that
/// together they kept under the limit and near it, with at most 0.5 % 429s (or one).
fn assert_one_budget(sim: &Simulator, exports: Vec<(Child, PathBuf)>, started: Instant) {
    assert_one_budget_of(sim, exports, started, RECORDS, 200, 0.90);
}

/// As [`assert_one_budget`], for `records` a collection, with at most one 429 in `per`
/// requests.
fn assert_one_budget_of(
    sim: &Simulator,
    exports: Vec<(Child, PathBuf)>,
    started: Instant,
    records: usize,
    per: u64,
    least: f64,
) {
    let summaries: Vec<String> = exports
        .into_iter()
        .map(|(child, file)| {
            let ran = finish(child, started);
            assert!(ran.status.success(), "an export failed: {}", ran.stderr);
            let got = cli::ids(&lines(&file));
            assert_each_once(&got, 1..=records as u64);
            ran.stderr
        })
        .collect();
    let stats = sim.stats();
    let log = sim.requests();
    let rate = observed_rate(&log);
    for s in &summaries {
        eprint!("{s}");
    }
    dump_log(&log);
    eprintln!(
        "{} requests, {} 429s, {rate:.0}/min together, {:.1} % of the limit",
        stats.requests,
        stats.rate_limited,
        rate * 100.0 / f64::from(RPM)
    );
    assert!(
        summaries
            .iter()
            .all(|s| s.contains("shared through Redis by 3 processes")),
        "{summaries:?}"
    );
    assert!(
        rate <= f64::from(RPM) * 1.01,
        "together at {rate:.0}/min, over the limit"
    );
    // At least `least` of the limit (the 95 % is seen here, about 96 %, on an idle
    // machine; the margin is for a busy CI one).
    assert!(
        rate >= f64::from(RPM) * least,
        "together at only {rate:.0}/min"
    );
    assert!(
        stats.rate_limited <= (stats.requests / per).max(1),
        "{} of {} requests were 429 (over 1 in {per})",
        stats.rate_limited,
        stats.requests
    );
}

#[test]
fn three_exports_each_given_a_different_node_share_one_budget() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let Some(cluster) = RedisCluster::start("cluster-three-nodes", 0) else {
        return;
    };
    let sim = simulator(RECORDS);
    let dir = scratch("cluster-three-nodes");
    let urls = cluster.urls();
    assert_eq!(urls.len(), 3);
    let started = Instant::now();
    assert_one_budget(&sim, start_exports(&sim, &urls, &dir), started);
    // The budget's keys live on one slot, whichever node each export was given.
    let keys = cluster.keys();
    assert!(!keys.is_empty(), "the budget is kept in the cluster");
    let owners: std::collections::BTreeSet<String> =
        keys.iter().map(|k| cluster.primary_for(k)).collect();
    assert_eq!(owners.len(), 1, "{keys:?} on {owners:?}");
}

#[test]
fn several_seed_nodes_in_one_url_work_with_the_first_down() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let Some(cluster) = RedisCluster::start("cluster-seeds", 0) else {
        return;
    };
    let sim = simulator(RECORDS);
    let dir = scratch("cluster-seeds");
    // A node that is not there first, then one that takes the connection and never answers
    // (a host gone behind a firewall), then two of the cluster's.
    let nobody = format!("redis://127.0.0.1:{}/", support::redis::free_port());
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("redis://{}/", silent.local_addr().unwrap());
    let urls = cluster.urls();
    let seeds = format!("{nobody},{silent_url},{},{}", urls[1], urls[2]);
    let started = Instant::now();
    let exports = start_exports(&sim, &[seeds.clone(), seeds.clone(), seeds], &dir);
    assert_one_budget(&sim, exports, started);
}

#[test]
fn a_primary_killed_mid_export_loses_nothing_and_the_exports_share_again_after_promotion() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let Some(cluster) = RedisCluster::start("cluster-failover", 1) else {
        return;
    };
    // 240 requests in all at 40 a second: six seconds, the failover (about two and a
    // half) early in it, and time to share again after it.
    let records = 8_000;
    let sim = simulator(records);
    let dir = scratch("cluster-failover");
    let urls = cluster.primaries();
    let started = Instant::now();
    let primaries_before = urls.clone();
    let exports = start_exports(&sim, &urls, &dir);
    let deadline = Instant::now() + std::time::Duration::from_secs(3);
    let owner = loop {
        if let Some(key) = cluster.keys().first() {
            break cluster.primary_for(key);
        }
        assert!(
            Instant::now() < deadline,
            "the exports never wrote to the cluster"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    // Mid-run: once the three know each other (a process that saw no other keeps the whole
    // rate when Redis goes).
    std::thread::sleep(std::time::Duration::from_millis(1_000));
    cluster.kill(&owner);
    // At most 5 % 429s across a failover; the summaries (at the end) say each export was back
    // on the shared schedule, on the promoted replica.
    // (The share of the limit across an outage is what each process keeps alone: its third.)
    assert_one_budget_of(&sim, exports, started, records, 20, 0.60);
    let keys = cluster.keys();
    assert!(!keys.is_empty());
    let now = cluster.primary_for(&keys[0]);
    assert!(
        !primaries_before.contains(&now),
        "the budget lives on the promoted replica {now}, not on a primary of before {primaries_before:?}"
    );
}
