//! The streams as `futures` users expect them: fused (polled after their end, or after an
//! error, they give `None` again, never a panic). Their windows' tracing is in tests/spans.rs.

mod support;

use futures::stream::{FusedStream, StreamExt};
use helpcrunch_pager::simulator::{Fault, Simulator};
use support::*;

#[tokio::test]
async fn a_paginator_polled_after_its_end_gives_none_again() {
    let sim = Simulator::builder().departments(250).start().unwrap();
    let mut departments = client_for(&sim, 600_000).departments().concurrency(4);
    assert!(!departments.is_terminated(), "not started, not ended");
    let mut n = 0;
    bounded("the scan", async {
        while let Some(d) = departments.next().await {
            d.unwrap();
            n += 1;
        }
    })
    .await;
    assert_eq!(n, 250);
    assert!(departments.is_terminated());
    for _ in 0..3 {
        assert!(departments.next().await.is_none(), "still the end");
    }
}

#[tokio::test]
async fn pages_polled_after_an_error_give_none_and_send_nothing_more() {
    let sim = Simulator::builder()
        .departments(500)
        .fault(2, Fault::Status(404))
        .start()
        .unwrap();
    let mut pages = client_for(&sim, 600_000)
        .departments()
        .concurrency(1)
        .pages();
    let first = bounded("first page", pages.next()).await.unwrap();
    assert_eq!(first.unwrap().items.len(), 100);
    let failed = bounded("second page", pages.next()).await.unwrap();
    assert!(failed.unwrap_err().is_not_found());
    let sent = sim.stats().requests;
    for _ in 0..3 {
        assert!(pages.next().await.is_none());
    }
    assert!(pages.is_terminated());
    assert_eq!(sim.stats().requests, sent, "nothing sent after the end");
}

#[tokio::test]
async fn bad_settings_are_one_error_then_the_end() {
    let sim = Simulator::builder().departments(10).start().unwrap();
    let mut departments = client_for(&sim, 600_000).departments().page_size(0);
    assert!(departments.next().await.unwrap().is_err());
    assert!(departments.next().await.is_none());
    assert!(departments.is_terminated());
    assert_eq!(sim.stats().requests, 0);
}
