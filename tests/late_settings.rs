//! A paginator's settings are read at its first poll: a setting changed after it is an error
//! that names it, then the end of the stream, never a change silently ignored.

mod support;

use futures::stream::{FusedStream, StreamExt};
use helpcrunch_pager::simulator::Simulator;
use helpcrunch_pager::{Error, Priority};
use support::*;

/// The message of the error a late `setting` gives.
fn assert_names_the_late_setting(err: Error, setting: &str) {
    let Error::InvalidInput(message) = &err else {
        panic!("expected InvalidInput, got {err:?}");
    };
    assert!(
        message.starts_with(&format!(
            "{setting} was set after the paginator was first polled"
        )),
        "{message}"
    );
    assert!(
        message.contains("set it before the first poll"),
        "{message}"
    );
}

#[tokio::test]
async fn a_setting_changed_after_the_first_poll_is_an_error_naming_it_then_the_end() {
    let sim = Simulator::builder().departments(250).start().unwrap();
    let mut departments = client_for(&sim, 600_000).departments().concurrency(1);
    bounded("the first record", departments.next())
        .await
        .unwrap()
        .unwrap();
    let mut departments = departments.page_size(10);
    assert!(!departments.is_terminated(), "the error is still to come");
    let err = bounded("the next poll", departments.next())
        .await
        .unwrap()
        .unwrap_err();
    assert_names_the_late_setting(err, "page_size");
    let sent = sim.stats().requests;
    for _ in 0..3 {
        assert!(departments.next().await.is_none(), "the stream ended");
    }
    assert!(departments.is_terminated());
    assert_eq!(sim.stats().requests, sent, "nothing sent after the error");
}

#[tokio::test]
async fn every_setter_after_the_first_poll_is_refused_by_name() {
    let sim = Simulator::builder().departments(30).start().unwrap();
    let client = client_for(&sim, 600_000);
    type Late = fn(
        helpcrunch_pager::Paginator<serde_json::Value>,
    ) -> helpcrunch_pager::Paginator<serde_json::Value>;
    let setters: [(&str, Late); 8] = [
        ("page_size", |p| p.page_size(5)),
        ("start_offset", |p| p.start_offset(5)),
        ("concurrency", |p| p.concurrency(2)),
        ("priority", |p| p.priority(Priority::Interactive)),
        ("query", |p| p.query("filter", "x")),
        ("ids", |p| p.ids(|_| None)),
        ("moves_to_front", |p| p.moves_to_front(|_| None)),
        ("resume", |p| {
            let position = serde_json::from_str(r#"{"offset": 5, "total": 30}"#).unwrap();
            p.resume(position, [1u64])
        }),
    ];
    for (setting, late) in setters {
        let mut departments = client.paginate("departments");
        bounded(setting, departments.next()).await.unwrap().unwrap();
        let err = late(departments).next().await.unwrap().unwrap_err();
        assert_names_the_late_setting(err, setting);
    }
}

#[tokio::test]
async fn an_endpoint_parameter_set_after_the_first_poll_is_refused_by_name() {
    let sim = Simulator::builder().customers(30).start().unwrap();
    let mut customers = client_for(&sim, 600_000).customers();
    bounded("the first customer", customers.next())
        .await
        .unwrap()
        .unwrap();
    let err = customers
        .order(helpcrunch_pager::Order::Desc)
        .next()
        .await
        .unwrap()
        .unwrap_err();
    assert_names_the_late_setting(err, "order");
}

#[tokio::test]
async fn the_first_late_setting_is_the_one_named() {
    let sim = Simulator::builder().departments(30).start().unwrap();
    let mut departments = client_for(&sim, 600_000).departments();
    bounded("the first record", departments.next())
        .await
        .unwrap()
        .unwrap();
    let err = departments
        .concurrency(2)
        .page_size(5)
        .next()
        .await
        .unwrap()
        .unwrap_err();
    assert_names_the_late_setting(err, "concurrency");
}

#[tokio::test]
async fn pages_taken_after_a_late_setting_are_that_error_then_the_end() {
    let sim = Simulator::builder().departments(30).start().unwrap();
    let mut departments = client_for(&sim, 600_000).departments();
    bounded("the first record", departments.next())
        .await
        .unwrap()
        .unwrap();
    let mut pages = departments.priority(Priority::Interactive).pages();
    let err = pages.next().await.unwrap().unwrap_err();
    assert_names_the_late_setting(err, "priority");
    assert!(pages.next().await.is_none());
    assert!(pages.is_terminated());
}

#[tokio::test]
async fn settings_made_before_the_first_poll_are_all_taken() {
    let sim = Simulator::builder().departments(30).start().unwrap();
    let all: Vec<_> = bounded(
        "the scan",
        client_for(&sim, 600_000)
            .departments()
            .page_size(7)
            .concurrency(2)
            .priority(Priority::Interactive)
            .collect::<Vec<_>>(),
    )
    .await;
    assert_eq!(all.len(), 30);
    assert!(all.iter().all(Result::is_ok));
    assert_eq!(
        sim.stats().requests,
        5,
        "pages of 7, each after the first on its anchor"
    );
}

#[tokio::test]
async fn pages_in_the_middle_of_a_page_is_refused_rather_than_losing_its_rest() {
    let sim = Simulator::builder().departments(250).start().unwrap();
    let mut departments = client_for(&sim, 600_000).departments().concurrency(1);
    bounded("the first record", departments.next())
        .await
        .unwrap()
        .unwrap();
    let mut pages = departments.pages();
    let err = bounded("the page stream", pages.next())
        .await
        .unwrap()
        .unwrap_err();
    let Error::InvalidInput(message) = &err else {
        panic!("expected InvalidInput, got {err:?}");
    };
    assert!(message.starts_with("pages() was called after"), "{message}");
    assert!(pages.next().await.is_none(), "the stream ended");
}

#[tokio::test]
async fn pages_at_a_page_end_carries_on_with_the_next_page() {
    let sim = Simulator::builder().departments(250).start().unwrap();
    let mut departments = client_for(&sim, 600_000)
        .departments()
        .page_size(50)
        .concurrency(1);
    for _ in 0..50 {
        bounded("a record", departments.next())
            .await
            .unwrap()
            .unwrap();
    }
    let mut ids = Vec::new();
    let mut pages = departments.pages();
    while let Some(page) = bounded("a page", pages.next()).await {
        ids.extend(page.unwrap().items.into_iter().map(|d| d.id));
    }
    assert_eq!(ids, (51..=250).collect::<Vec<u64>>(), "the rest, each once");
}

#[tokio::test]
async fn a_setter_after_the_end_leaves_the_stream_ended() {
    let sim = Simulator::builder().departments(5).start().unwrap();
    let mut departments = client_for(&sim, 600_000).departments();
    while let Some(d) = bounded("a record", departments.next()).await {
        d.unwrap();
    }
    assert!(departments.is_terminated());
    let mut departments = departments.page_size(10);
    assert!(departments.is_terminated(), "still over");
    assert!(departments.next().await.is_none());
}
