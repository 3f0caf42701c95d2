//! The lanes of a budget shared through Redis, across the processes of a fleet. One process
//! keeps one budget per account, so each other process of a test's fleet is this test binary
//! run again as a worker ([`fleet_worker`]): it asks for single calls in one lane, back to back
//! on a few tasks, until it is killed. Every call carries its process's tag in its query, so
//! the simulator's log says whose grant each request was. Needs a `redis-server` (see
//! `support/redis.rs`).
#![cfg(feature = "redis")]

mod support;

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use helpcrunch_pager::simulator::{RequestRecord, Simulator};
use helpcrunch_pager::{Client, Priority};
use support::redis::RedisServer;

/// What a worker is asked to do: `redis URL|base URL|API key|lane (i or b)|tasks|tag`.
const WORKER: &str = "HELPCRUNCH_FLEET_LANES_WORKER";
/// A worker left behind by a failed test stops by itself after this.
const WORKER_LIFETIME: Duration = Duration::from_secs(30);
/// Every process of these fleets: 20 a second (51 ms apart, with the margin).
const RPM: u32 = 1_200;

/// The tests take turns: each measures timing on a busy machine.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A process of the fleet: a client of `sim`'s account sharing its budget through `redis`, at
/// a fixed rate.
fn process(redis: &str, base_url: &str, api_key: &str) -> Client {
    Client::builder()
        .api_key(api_key)
        .base_url(base_url)
        .requests_per_minute(RPM)
        .adaptive(false)
        .shared_budget(redis)
        .build()
        .expect("a valid fleet client")
}

/// Single calls in `lane` back to back, each tagged `tag`, until aborted; counts them.
fn keep_asking(
    client: &Client,
    lane: Priority,
    tag: &str,
    count: &Arc<AtomicUsize>,
) -> tokio::task::JoinHandle<()> {
    let (client, count) = (client.clone(), count.clone());
    let call = format!("departments?limit=1&process={tag}");
    tokio::spawn(async move {
        loop {
            let call = client.get::<serde_json::Value>(&call).priority(lane);
            call.send().await.expect("the call succeeds");
            count.fetch_add(1, Ordering::Relaxed);
        }
    })
}

/// Run as a worker process where [`WORKER`] says so; a test that passes at once otherwise.
#[test]
fn fleet_worker() {
    let Ok(spec) = std::env::var(WORKER) else {
        return;
    };
    let fields: Vec<&str> = spec.split('|').collect();
    let [redis, base_url, api_key, lane, tasks, tag] = fields[..] else {
        panic!("{WORKER} is not redis|base|key|lane|tasks|tag: {spec}");
    };
    let lane = if lane == "i" {
        Priority::Interactive
    } else {
        Priority::Background
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let client = process(redis, base_url, api_key);
        let count = Arc::default();
        let _tasks: Vec<_> = (0..tasks.parse().expect("a number of tasks"))
            .map(|_| keep_asking(&client, lane, tag, &count))
            .collect();
        tokio::time::sleep(WORKER_LIFETIME).await;
    });
}

/// Worker processes, killed when dropped.
struct Workers(Vec<Child>);

impl Workers {
    /// `n` processes of `sim`'s fleet through `redis`, each asking in `lane` on `tasks` tasks,
    /// tagged `{prefix}{i}`.
    fn start(redis: &RedisServer, sim: &Simulator, n: usize, lane: &str, tasks: u32) -> Self {
        let exe = std::env::current_exe().expect("the test binary");
        let children = (0..n)
            .map(|i| {
                let spec = format!(
                    "{}|{}|{}|{lane}|{tasks}|{lane}{i}",
                    redis.url(),
                    sim.base_url(),
                    sim.api_key()
                );
                Command::new(&exe)
                    .args(["fleet_worker", "--exact", "--nocapture", "--test-threads=1"])
                    .env(WORKER, spec)
                    .stdout(Stdio::null())
                    .spawn()
                    .expect("a worker process starts")
            })
            .collect();
        Self(children)
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The tag of the process that sent `r`.
fn tag(r: &RequestRecord) -> Option<&str> {
    r.query.split('&').find_map(|p| p.strip_prefix("process="))
}

/// Waits until every one of `tags` has had a request served; returns the server's time then.
async fn all_asking(sim: &Simulator, tags: &[String]) -> Duration {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let log = sim.requests();
        if tags.iter().all(|t| log.iter().any(|r| tag(r) == Some(t))) {
            return log.iter().map(|r| r.at).max().unwrap_or_default();
        }
        assert!(
            Instant::now() < deadline,
            "not every process of the fleet asked within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The requests each of `tags` had served from `from` to `to`, the server's time.
fn served(sim: &Simulator, tags: &[String], from: Duration, to: Duration) -> Vec<usize> {
    let log = sim.requests();
    let during: Vec<&RequestRecord> = log.iter().filter(|r| r.at >= from && r.at <= to).collect();
    tags.iter()
        .map(|t| during.iter().filter(|r| tag(r) == Some(t)).count())
        .collect()
}

/// More background processes than the line's grace covers in a round (24 at 51 ms is 1.2 s,
/// the grace 1.1 s): each still gets its turns, about as often as the others. A place once
/// lapsed by when the process first waited, and a live process starved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_background_process_of_a_large_fleet_gets_its_turns() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let Some(redis) = RedisServer::start("large fleet") else {
        return;
    };
    let sim = Simulator::builder().departments(5).start().unwrap();
    let n = 24;
    let _workers = Workers::start(&redis, &sim, n, "b", 1);
    let tags: Vec<String> = (0..n).map(|i| format!("b{i}")).collect();
    let from = all_asking(&sim, &tags).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    let got = served(&sim, &tags, from, from + Duration::from_secs(6));
    let total: usize = got.iter().sum();
    eprintln!("large fleet: {got:?}, {total} in all");
    // 6 s at 20 a second: about 5 a process.
    assert!(total >= 60, "the fleet took only {total} grants: {got:?}");
    let fair = total / n;
    assert!(
        got.iter().all(|&g| g * 2 >= fair),
        "a process got under half its share ({fair}): {got:?}"
    );
}

/// A process's second call right after its first goes ahead of the other processes'
/// background line, and of its own background request waiting in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_calls_go_ahead_of_the_fleet_line_one_after_another() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let Some(redis) = RedisServer::start("second call") else {
        return;
    };
    let sim = Simulator::builder().departments(5).start().unwrap();
    let _workers = Workers::start(&redis, &sim, 6, "b", 1);
    let tags: Vec<String> = (0..6).map(|i| format!("b{i}")).collect();
    all_asking(&sim, &tags).await;
    let p = process(&redis.url(), &sim.base_url(), sim.api_key());
    let count = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..4)
        .map(|_| keep_asking(&p, Priority::Background, "own", &count))
        .collect();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let interval = p.request_interval();
    let (mut firsts, mut seconds) = (Vec::new(), Vec::new());
    for _ in 0..6 {
        for waits in [&mut firsts, &mut seconds] {
            let asked = Instant::now();
            p.get::<serde_json::Value>("departments?limit=1&process=call")
                .send()
                .await
                .unwrap();
            waits.push(asked.elapsed());
        }
        tokio::time::sleep(interval * 5).await;
    }
    tasks.iter().for_each(|t| t.abort());
    eprintln!("interval {interval:?}; first calls {firsts:?}; second calls {seconds:?}");
    let most = firsts.iter().max().copied().unwrap_or_default();
    assert!(
        most <= interval * 3,
        "a call waited {most:?}, over three intervals of {interval:?}: {firsts:?}"
    );
    // The second of two calls leaves one slot to the background line between them (the
    // lanes alternate fleet-wide): a slot more, however long the line (six processes here,
    // which once cost it six intervals).
    let most = seconds.iter().max().copied().unwrap_or_default();
    assert!(
        most <= interval * 4,
        "a second call waited {most:?}, over four intervals of {interval:?}: {seconds:?}"
    );
}

/// Two processes flooding the fleet with calls leave a third's background work about half
/// of the budget: an interactive call after an interactive one leaves the slot to the
/// background line (without that rule it would get a third).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_flooding_calls_leave_a_third_s_scan_half() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let Some(redis) = RedisServer::start("fleet flood") else {
        return;
    };
    let sim = Simulator::builder().departments(5).start().unwrap();
    let scan = process(&redis.url(), &sim.base_url(), sim.api_key());
    let count = Arc::new(AtomicUsize::new(0));
    let scanning = keep_asking(&scan, Priority::Background, "scan", &count);
    let _workers = Workers::start(&redis, &sim, 2, "i", 3);
    let flooding = ["i0".to_owned(), "i1".to_owned()];
    let from = all_asking(&sim, &flooding).await + Duration::from_millis(500);
    tokio::time::sleep(Duration::from_millis(4_500)).await;
    scanning.abort();
    let to = from + Duration::from_secs(4);
    let calls: usize = served(&sim, &flooding, from, to).iter().sum();
    let scan = served(&sim, &["scan".to_owned()], from, to)[0];
    let share = scan as f64 / (calls + scan) as f64;
    eprintln!("flood: scan {scan}, calls {calls}");
    assert!(
        calls + scan >= 60,
        "only {} grants in 4 s at 20 a second",
        calls + scan
    );
    assert!(
        share >= 0.42,
        "the scan had {:.0} % of the grants ({scan} to the calls' {calls})",
        share * 100.0
    );
}
