//! The paginator's paging: windows, order, concurrency, ends.

mod support;

use futures::{StreamExt, TryStreamExt};
use helpcrunch_pager::simulator::Simulator;
use helpcrunch_pager::{Department, Page};
use serde_json::Value;
use support::*;

const FAST: u32 = 600_000;

fn dept_id(d: &Department) -> u64 {
    d.id
}

fn value_id(v: &Value) -> u64 {
    v["id"].as_u64().expect("an id")
}

#[tokio::test]
async fn reads_every_department_once_in_order_with_concurrency() {
    let sim = Simulator::builder().departments(1_234).start().unwrap();
    let client = client_for(&sim, FAST);
    let got = ids("scan", client.departments().concurrency(4), dept_id)
        .await
        .unwrap();
    assert_each_once_in_order(&got, 1_234);
    assert_eq!(sim.stats().requests, 13, "one request per window of 100");
}

#[tokio::test]
async fn a_small_page_size_makes_smaller_windows() {
    let sim = Simulator::builder().departments(95).start().unwrap();
    let client = client_for(&sim, FAST);
    let got = ids("scan", client.departments().page_size(10), dept_id)
        .await
        .unwrap();
    assert_each_once_in_order(&got, 95);
    // Windows in flight reach the server in any order; each is asked once.
    let mut offsets: Vec<_> = sim.requests().iter().map(|r| r.offset.unwrap()).collect();
    offsets.sort_unstable();
    // After the first, each window starts on the last record of the one before.
    assert_eq!(offsets, [0, 9, 18, 27, 36, 45, 54, 63, 72, 81, 90]);
}

#[tokio::test]
async fn start_offset_skips_the_records_before_it() {
    let sim = Simulator::builder().departments(250).start().unwrap();
    let client = client_for(&sim, FAST);
    let got = ids("scan", client.departments().start_offset(120), dept_id)
        .await
        .unwrap();
    assert_eq!(got, (121..=250).collect::<Vec<_>>());
}

#[tokio::test]
async fn pages_carry_their_offset_limit_and_total() {
    let sim = Simulator::builder().departments(250).start().unwrap();
    let client = client_for(&sim, FAST);
    let pages: Vec<Page<Department>> = bounded("pages", client.departments().pages().try_collect())
        .await
        .unwrap();
    let shape: Vec<_> = pages
        .iter()
        .map(|p| (p.offset, p.limit, p.items.len(), p.total))
        .collect();
    assert_eq!(
        shape,
        // (offset, limit, records new to the scan, total): each window after the first starts
        // on the last record of the one before, and the last asks one past the total.
        [(0, 100, 100, 250), (99, 100, 99, 250), (198, 100, 51, 250)]
    );
}

#[tokio::test]
async fn the_generic_path_reads_a_top_level_total() {
    let sim = Simulator::builder()
        .collection("customers", 321)
        .start()
        .unwrap();
    let client = client_for(&sim, FAST);
    let got = ids("scan", client.paginate::<Value>("customers"), value_id)
        .await
        .unwrap();
    assert_each_once_in_order(&got, 321);
}

#[tokio::test]
async fn nothing_is_sent_until_the_stream_is_polled() {
    let sim = Simulator::builder().departments(10).start().unwrap();
    let client = client_for(&sim, FAST);
    let mut paginator = client.departments();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(sim.stats().requests, 0);
    let first = bounded("first item", paginator.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.id, 1);
    assert_eq!(sim.stats().requests, 1);
}

#[tokio::test]
async fn dropping_the_stream_stops_the_scan() {
    let sim = Simulator::builder().departments(5_000).start().unwrap();
    let client = client_for(&sim, 6_000); // one request every ~10 ms
    let mut paginator = client.departments().concurrency(2);
    for _ in 0..150 {
        bounded("item", paginator.next()).await.unwrap().unwrap();
    }
    drop(paginator);
    let after_drop = sim.stats().requests;
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    assert!(after_drop <= 5, "{after_drop} requests for 150 records");
    assert_eq!(
        sim.stats().requests,
        after_drop,
        "requests went on after the drop"
    );
}

#[tokio::test]
async fn a_paginator_is_a_send_stream_that_can_be_spawned() {
    let sim = Simulator::builder().departments(300).start().unwrap();
    let client = client_for(&sim, FAST);
    let task = tokio::spawn(client.departments().try_collect::<Vec<_>>());
    let all = bounded("spawned scan", task).await.unwrap().unwrap();
    assert_eq!(all.len(), 300);
}
