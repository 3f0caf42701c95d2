//! `Client::from_env` reads the variables `helpcrunch-export` reads: a library worker and an
//! export on one key, given the same environment, share one budget through Redis. Alone in
//! its binary, as it sets the process's environment.

#[path = "support/cli.rs"]
mod cli;
mod support;

use std::time::Instant;

use cli::*;
use futures::TryStreamExt;
use helpcrunch_pager::simulator::Simulator;
use helpcrunch_pager::{Client, Department};
use support::redis::RedisServer;

#[tokio::test]
async fn from_env_joins_the_budget_of_an_export_on_the_same_key() {
    let sim = Simulator::builder().departments(50).start().unwrap();
    std::env::set_var("HELPCRUNCH_API_KEY", sim.api_key());
    std::env::set_var("HELPCRUNCH_BASE_URL", sim.base_url());

    // Read, with or without a redis-server on this machine: a Redis that is not there is a
    // shared budget that could not be reached, not a variable skipped.
    std::env::set_var("HELPCRUNCH_REDIS_URL", "redis://127.0.0.1:1/");
    let alone = Client::from_env().unwrap();
    let _ = alone.departments().try_collect::<Vec<Department>>().await;
    let stats = alone.stats();
    assert_eq!(
        (
            stats.sharing_processes >= 1,
            stats.redis_reached,
            stats.redis_connected
        ),
        (true, false, false),
        "{stats:?}"
    );
    drop(alone); // one process keeps one budget per account: the next one is another

    let Some(redis) = RedisServer::start("from_env_joins_the_budget") else {
        return;
    };
    let ran = finish(
        export_from(
            &sim,
            "1200",
            &["departments", "--redis-url", &redis.url(), "--quiet"],
        )
        .spawn()
        .unwrap(),
        Instant::now(),
    );
    assert!(ran.status.success(), "{}", ran.stderr);
    let exporters = redis.keys();
    assert!(!exporters.is_empty(), "the export kept its budget in Redis");

    std::env::set_var("HELPCRUNCH_REDIS_URL", redis.url());
    let client = Client::from_env().unwrap();
    let read: Vec<Department> = client.departments().try_collect().await.unwrap();
    assert_eq!(read.len(), 50);
    let stats = client.stats();
    assert_eq!(
        (
            stats.sharing_processes >= 1,
            stats.redis_connected,
            stats.redis_reached
        ),
        (true, true, true),
        "{stats:?}"
    );
    assert_eq!(
        redis.keys(),
        exporters,
        "the same account's keys: one budget"
    );
}
