//! One budget per account: clients of one process share it without being told, and a
//! `shared_budget` Redis shares it between processes, with a real `redis-server` (see
//! `support/redis.rs`; without one these tests skip with a notice).
#![cfg(feature = "redis")]

mod support;

use std::time::Duration;

use futures::TryStreamExt;
use helpcrunch_pager::simulator::{RateLimit, Simulator};
use helpcrunch_pager::{Client, Department};
use support::redis::RedisServer;
use support::*;

const RPM: u32 = 1_200;

/// The client's departments, read on a task of their own, bounded in time.
fn spawn_scan(
    client: &Client,
    what: &'static str,
) -> tokio::task::JoinHandle<Result<Vec<u64>, helpcrunch_pager::Error>> {
    let client = client.clone();
    tokio::spawn(async move { ids(what, client.departments(), |d: &Department| d.id).await })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_built_apart_in_one_process_share_one_budget() {
    // A fixed window of the tests' scaled minute: 20 a second.
    let sim = Simulator::builder()
        .departments(3_000)
        .agents(3_000)
        .rate_limit(RateLimit::fixed_window(20, Duration::from_secs(1)))
        .start()
        .unwrap();
    let a = client_for(&sim, RPM);
    let b = client_for(&sim, RPM);
    let (da, db) = bounded("two clients' scans", async {
        tokio::join!(
            a.departments().try_collect::<Vec<Department>>(),
            b.paginate::<serde_json::Value>("agents")
                .try_collect::<Vec<_>>(),
        )
    })
    .await;
    let ids: Vec<u64> = da.unwrap().iter().map(|d| d.id).collect();
    assert_each_once_in_order(&ids, 3_000);
    assert_eq!(db.unwrap().len(), 3_000);
    let stats = sim.stats();
    let log = sim.requests();
    let rate = observed_rate(&log);
    eprintln!(
        "two clients: {} requests, {} 429s, {rate:.0}/min together",
        stats.requests, stats.rate_limited
    );
    // Apart, each would go at the full rate: twice the limit, and 429s by the dozen.
    assert!(
        rate <= f64::from(RPM) * 1.01,
        "together at {rate:.0}/min, over the {RPM}/min limit: two budgets"
    );
    assert!(
        stats.rate_limited * 200 <= stats.requests,
        "{} of {} requests were 429 (over 0.5 %)",
        stats.rate_limited,
        stats.requests
    );
}

#[tokio::test]
async fn a_client_of_an_account_that_another_shares_otherwise_is_refused() {
    let sim = Simulator::builder().start().unwrap();
    let _plain = client_for(&sim, RPM);
    let e = builder_for(&sim, RPM)
        .shared_budget("redis://127.0.0.1:1/")
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("build them alike"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_budget_keeps_its_state_in_redis_under_a_hash_of_the_key() {
    let Some(redis) = RedisServer::start("a_shared_budget_keeps_its_state_in_redis") else {
        return;
    };
    let sim = Simulator::builder()
        .api_key("hc-secret-key-42")
        .departments(1_000)
        .start()
        .unwrap();
    let client = builder_for(&sim, 6_000)
        .shared_budget(redis.url())
        .build()
        .unwrap();
    let got = ids("a shared scan", client.departments(), |d: &Department| d.id)
        .await
        .unwrap();
    assert_each_once_in_order(&got, 1_000);
    let stats = client.stats();
    assert_eq!((stats.sharing_processes, stats.redis_connected), (1, true));
    let keys = redis.keys();
    assert_eq!(keys.len(), 2, "{keys:?}");
    for key in &keys {
        assert!(key.starts_with("helpcrunch-pager:v1:{"), "{key}");
        assert!(!key.contains("secret"), "{key} names the API key");
    }
    // One Redis Cluster slot for both: the same hashtag.
    let tag = |k: &str| k.split(['{', '}']).nth(1).unwrap().to_owned();
    assert_eq!(tag(&keys[0]), tag(&keys[1]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_redis_to_reach_the_scan_goes_on_alone_and_says_so() {
    // A port nobody listens on (1, tcpmux): refused at once. No redis-server needed.
    let port = 1;
    let sim = Simulator::builder().departments(500).start().unwrap();
    let client = builder_for(&sim, 6_000)
        .shared_budget(format!("redis://127.0.0.1:{port}/"))
        .build()
        .unwrap();
    let got = ids(
        "a scan without Redis",
        client.departments(),
        |d: &Department| d.id,
    )
    .await
    .unwrap();
    assert_each_once_in_order(&got, 500);
    let stats = client.stats();
    assert!(!stats.redis_connected);
    assert_eq!(stats.sharing_processes, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_mid_scan_then_restarted_is_rejoined() {
    let Some(mut redis) = RedisServer::start("redis_killed_mid_scan_then_restarted") else {
        return;
    };
    let sim = Simulator::builder()
        .departments(8_000)
        .rate_limit(RateLimit::sliding_window(20, Duration::from_secs(1)))
        .start()
        .unwrap();
    let client = builder_for(&sim, RPM)
        .shared_budget(redis.url())
        .build()
        .unwrap();
    let scan = spawn_scan(&client, "a scan across a Redis restart");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(client.stats().redis_connected);
    redis.kill();
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(
        !client.stats().redis_connected,
        "Redis is dead, yet connected"
    );
    // Restarted empty: no keys, no scripts (the next EVALSHA is answered NOSCRIPT).
    redis.restart();
    // It asks Redis again once a second: within two, it is back.
    let back = std::time::Instant::now();
    while !client.stats().redis_connected || redis.keys().is_empty() {
        assert!(
            back.elapsed() < Duration::from_secs(2),
            "not back in the restarted Redis after 2 s"
        );
        assert!(!scan.is_finished(), "the scan ended before Redis came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got = scan.await.unwrap().unwrap();
    assert_each_once_in_order(&got, 8_000);
    let stats = sim.stats();
    assert!(
        stats.rate_limited * 20 <= stats.requests,
        "{} of {} requests were 429 (over 5 %)",
        stats.rate_limited,
        stats.requests
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_refuses_the_client_fails_the_scan_rather_than_go_unshared() {
    let Some(redis) = RedisServer::start_with(
        "a_redis_that_refuses_the_client",
        &["--requirepass", "s3cret"],
    ) else {
        return;
    };
    assert_scan_refused(&redis, "a scan refused by Redis").await;
    // With the password, it is shared.
    let url = format!("redis://:s3cret@127.0.0.1:{}/", redis.port());
    let sim = Simulator::builder().departments(300).start().unwrap();
    let client = builder_for(&sim, 6_000).shared_budget(url).build().unwrap();
    let got = ids(
        "a scan with the password",
        client.departments(),
        |d: &Department| d.id,
    )
    .await
    .unwrap();
    assert_each_once_in_order(&got, 300);
    assert!(client.stats().redis_connected);
}

/// A Redis that runs no scripts (EVAL and EVALSHA renamed away, as some hosted ones do) will
/// not run them later either: the scan fails rather than every process going on alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_without_scripts_fails_the_scan_rather_than_go_unshared() {
    let Some(redis) = RedisServer::start_with(
        "a_redis_without_scripts",
        &[
            "--rename-command",
            "EVAL",
            "",
            "--rename-command",
            "EVALSHA",
            "",
        ],
    ) else {
        return;
    };
    assert_scan_refused(&redis, "a scan without scripts").await;
}

/// A scan sharing its budget through `redis` fails, naming the refusal, and sends nothing.
async fn assert_scan_refused(redis: &RedisServer, what: &str) {
    let sim = Simulator::builder().departments(300).start().unwrap();
    let client = builder_for(&sim, 6_000)
        .shared_budget(redis.url())
        .build()
        .unwrap();
    let e = ids(what, client.departments(), |d: &Department| d.id)
        .await
        .unwrap_err();
    let shown = e.to_string();
    assert!(shown.contains("refused"), "{shown}");
    assert_eq!(sim.stats().requests, 0, "requests went out unshared");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_out_of_memory_for_a_while_is_an_outage_not_a_refusal() {
    let Some(redis) = RedisServer::start("a_redis_out_of_memory_for_a_while") else {
        return;
    };
    // Every write refused with OOM: the budget cannot be kept there.
    assert_eq!(redis.command(&["CONFIG", "SET", "maxmemory", "1"]), "+OK");
    // 81 requests at 50 a second: Redis has memory again well before the end, and is asked
    // again within a second.
    let sim = Simulator::builder().departments(8_000).start().unwrap();
    let client = builder_for(&sim, 3_000)
        .shared_budget(redis.url())
        .build()
        .unwrap();
    let scan = spawn_scan(&client, "a scan through an OOM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!client.stats().redis_connected);
    assert_eq!(redis.command(&["CONFIG", "SET", "maxmemory", "0"]), "+OK");
    let got = scan
        .await
        .unwrap()
        .expect("an OOM is an outage: the scan goes on");
    assert_each_once_in_order(&got, 8_000);
    assert!(
        client.stats().redis_connected,
        "not back once Redis had memory again"
    );
}

/// A proxy in front of Redis that can stop answering on the connections it has (as after a
/// failover behind one address, or a NAT that forgot them) while new ones go through.
struct Proxy {
    port: u16,
    silent: std::sync::Arc<std::sync::atomic::AtomicBool>,
    connections: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Proxy {
    async fn start(to: u16) -> Self {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        use std::sync::Arc;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let silent = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicUsize::new(0));
        let (s, c) = (silent.clone(), connections.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                let server = tokio::net::TcpStream::connect(("127.0.0.1", to))
                    .await
                    .unwrap();
                // Connections made before silence fall silent with it; later ones do not.
                let muted = s.load(Ordering::SeqCst);
                let s = s.clone();
                tokio::spawn(async move {
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let up = tokio::spawn(async move { tokio::io::copy(&mut cr, &mut sw).await });
                    let mut buf = vec![0u8; 16 * 1024];
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    while let Ok(n) = sr.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        if !muted && s.load(Ordering::SeqCst) {
                            // Silent: read on, answer nothing, close nothing.
                            continue;
                        }
                        if cw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    up.abort();
                });
            }
        });
        Self {
            port,
            silent,
            connections,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_falls_silent_is_replaced() {
    use std::sync::atomic::Ordering;
    let Some(redis) = RedisServer::start("a_connection_that_falls_silent") else {
        return;
    };
    let proxy = Proxy::start(redis.port()).await;
    // 81 requests at 20 a second: four seconds.
    let sim = Simulator::builder().departments(8_000).start().unwrap();
    let client = builder_for(&sim, 1_200)
        .shared_budget(format!("redis://127.0.0.1:{}/", proxy.port))
        .build()
        .unwrap();
    let scan = spawn_scan(&client, "a scan across a silent connection");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(client.stats().redis_connected);
    let before = proxy.connections.load(Ordering::SeqCst);
    proxy.silent.store(true, Ordering::SeqCst);
    // A call times out (250 ms), and the one after starts on a new connection, which answers.
    let since = std::time::Instant::now();
    while proxy.connections.load(Ordering::SeqCst) == before || !client.stats().redis_connected {
        assert!(
            since.elapsed() < Duration::from_secs(3),
            "still on the silent connection after 3 s"
        );
        assert!(!scan.is_finished(), "the scan ended first");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got = scan.await.unwrap().unwrap();
    assert_each_once_in_order(&got, 8_000);
}

#[test]
fn a_client_built_outside_a_runtime_with_a_shared_budget_is_fine() {
    let client = Client::builder()
        .api_key("k")
        .shared_budget("redis://127.0.0.1:1/")
        .build()
        .unwrap();
    let shown = format!("{client:?}");
    assert!(!shown.contains("127.0.0.1:1"), "{shown}");
}
