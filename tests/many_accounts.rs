//! A platform's worker: the budgets of many accounts in one process, through one Redis. Each
//! account keeps under its own limit, the process holds one connection to Redis however many
//! accounts it serves, and every key the budgets write expires. With a real `redis-server`
//! (see `support/redis.rs`; without one the test skips with a notice).
#![cfg(feature = "redis")]

mod support;

use std::time::Duration;

use futures::stream::{self, StreamExt, TryStreamExt};
use helpcrunch_pager::simulator::{RateLimit, Simulator};
use helpcrunch_pager::{Client, Department};
use support::redis::RedisServer;
use support::*;

/// Each account's limit, HelpCrunch's own 120 a minute counted per second: two a second, so
/// that an account's three requests sent unpaced would be refused.
const RPM: u32 = 120;
const ACCOUNTS: usize = 200;

fn key(i: usize) -> String {
    format!("account-{i:04}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_accounts_in_one_process_share_one_connection_and_keep_their_limits() {
    let Some(redis) = RedisServer::start("many-accounts") else {
        return;
    };
    // Each account's own limit, counted as HelpCrunch counts it (so many a minute). Against a
    // strict leaky bucket, two hundred accounts starting at once in a debug build on two cores
    // send some requests late and the next on time, too close (measured in `benches/`).
    let mut builder = Simulator::builder().departments(250);
    for i in 0..ACCOUNTS {
        builder = builder.account(
            key(i),
            Some(RateLimit::sliding_window(RPM / 60, Duration::from_secs(1))),
        );
    }
    let sim = builder.start().unwrap();
    let opened_before = connections_received(&redis);
    let clients: Vec<Client> = (0..ACCOUNTS)
        .map(|i| {
            Client::builder()
                .api_key(key(i))
                .base_url(sim.base_url())
                .requests_per_minute(RPM)
                .rate_window(Duration::from_secs(1))
                .retry_policy(fast_retries())
                .shared_budget(redis.url())
                .build()
                .unwrap()
        })
        .collect();
    let started = std::time::Instant::now();
    let read: Vec<Vec<Department>> = bounded(
        "every account's departments",
        stream::iter(&clients)
            .map(|c| c.departments().try_collect::<Vec<Department>>())
            .buffer_unordered(ACCOUNTS)
            .try_collect(),
    )
    .await
    .unwrap();
    // Paced: each account's third request a second after its first.
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    for departments in &read {
        let ids: Vec<u64> = departments.iter().map(|d| d.id).collect();
        assert_each_once_in_order(&ids, 250);
    }
    let (mut requests, mut limited) = (0, 0);
    for (i, client) in clients.iter().enumerate() {
        let stats = sim.stats_of(&key(i)).unwrap();
        // Three pages, and a page again after a 429.
        assert_eq!(
            stats.requests,
            3 + stats.rate_limited,
            "{}: {stats:?}",
            key(i)
        );
        assert!(
            client.stats().redis_connected,
            "{} shared its budget",
            key(i)
        );
        requests += stats.requests;
        limited += stats.rate_limited;
    }
    eprintln!("{ACCOUNTS} accounts: {requests} requests, {limited} 429s");
    // At most 0.5 %: an account's first request sets up the shared connection on the way,
    // two hundred of them at once on two cores, and may reach its bucket late, and the next
    // one early.
    assert!(limited * 200 <= requests, "{limited} 429s of {requests}");
    // One connection for all of them: ever opened, two (the count includes the asking
    // redis-cli's own): one that asks whether Redis is a cluster and is closed, and the one
    // kept. A call that times out (250 ms, which two hundred first calls on a loaded machine
    // may take) replaces the connection, at two more: room for two of those, against the
    // 201 of a connection an account. Open at the end, Redis lists one and redis-cli's own.
    let opened = connections_received(&redis) - opened_before - 1;
    assert!(opened <= 6, "{opened} connections opened");
    let listed = redis_cli(&redis, &["CLIENT", "LIST"]);
    let connections = listed.lines().filter(|l| l.starts_with("id=")).count();
    assert!(connections <= 2, "{connections} connections: {listed}");
    // Every key the budgets wrote goes away once its account is idle.
    let keys = redis.keys();
    assert!(keys.len() >= 2 * ACCOUNTS, "{} keys", keys.len());
    for k in &keys {
        let ttl: i64 = redis_cli(&redis, &["PTTL", k]).trim().parse().unwrap();
        // Ten windows, at least a minute.
        assert!(ttl > 0 && ttl <= 60_000, "{k} expires in {ttl} ms");
    }
}

fn redis_cli(redis: &RedisServer, args: &[&str]) -> String {
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &redis.port().to_string()])
        .args(args)
        .output()
        .expect("redis-cli runs");
    String::from_utf8(out.stdout).unwrap()
}

/// How many connections Redis has accepted since it started, this one's included.
fn connections_received(redis: &RedisServer) -> u64 {
    let info = redis_cli(redis, &["INFO", "stats"]);
    info.lines()
        .find_map(|l| l.strip_prefix("total_connections_received:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no total_connections_received in {info}"))
}
