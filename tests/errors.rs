//! Every way a scan can fail ends in a typed error or a correct end, never a hang: each test
//! runs under `support::bounded`.

mod support;

use futures::TryStreamExt;
use helpcrunch_pager::simulator::{Fault, Simulator};
use helpcrunch_pager::{Client, Department, Error, RetryPolicy};
use serde_json::Value;
use support::*;

const FAST: u32 = 600_000;

fn dept_id(d: &Department) -> u64 {
    d.id
}

#[tokio::test]
async fn a_page_size_outside_one_to_a_hundred_fails_before_any_request() {
    let sim = Simulator::builder().departments(10).start().unwrap();
    let client = client_for(&sim, FAST);
    for bad in [0, 101, 500] {
        let err = ids(
            "bad page size",
            client.departments().page_size(bad),
            dept_id,
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err}");
        assert!(
            err.to_string().contains(&format!("page size {bad}")),
            "{err}"
        );
    }
    let err = ids(
        "zero concurrency",
        client.departments().concurrency(0),
        dept_id,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("concurrency"), "{err}");
    let err = ids(
        "query",
        client.paginate::<Value>("departments?limit=500"),
        |_| 0,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err}");
    assert_eq!(sim.stats().requests, 0, "nothing may be sent for bad input");
}

#[tokio::test]
async fn the_servers_400_is_typed_and_not_retried() {
    let sim = Simulator::builder()
        .departments(10)
        .fault(1, Fault::Status(400))
        .start()
        .unwrap();
    let err = ids("400", client_for(&sim, FAST).departments(), dept_id)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert_eq!(err.api_errors()[0].code, "invalid_request");
    assert_eq!(sim.stats().requests, 1);
}

#[tokio::test]
async fn a_wrong_key_gives_a_typed_401_at_once() {
    let sim = Simulator::builder().departments(10).start().unwrap();
    let client = Client::builder()
        .api_key("wrong-key")
        .base_url(sim.base_url())
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let err = ids("401", client.departments(), dept_id).await.unwrap_err();
    assert!(err.is_unauthorized(), "{err}");
    let codes: Vec<_> = err.api_errors().iter().map(|e| e.code.as_str()).collect();
    assert_eq!(codes, ["invalid_request", "unauthorized"]);
    assert!(err.to_string().contains("check the API key"), "{err}");
    assert!(
        !err.to_string().contains("wrong-key"),
        "the key leaked into {err}"
    );
    assert_eq!(sim.stats().requests, 1, "a 401 is not retried");
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}

#[tokio::test]
async fn an_unknown_collection_is_a_typed_404() {
    let sim = Simulator::builder().start().unwrap();
    let err = ids(
        "404",
        client_for(&sim, FAST).paginate::<Value>("nonexistent"),
        |_| 0,
    )
    .await
    .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_eq!(sim.stats().requests, 1);
}

#[tokio::test]
async fn a_500_then_success_loses_nothing() {
    let sim = Simulator::builder()
        .departments(450)
        .fault(1, Fault::Status(500))
        .fault(3, Fault::Status(503))
        .start()
        .unwrap();
    let got = ids(
        "500 then ok",
        client_for(&sim, FAST).departments().concurrency(1),
        dept_id,
    )
    .await
    .unwrap();
    assert_each_once_in_order(&got, 450);
    assert_eq!(sim.stats().requests, 5 + 2, "five pages and two retries");
}

#[tokio::test]
async fn a_body_that_is_not_a_page_is_a_decode_error_and_not_retried() {
    let sim = Simulator::builder()
        .departments(10)
        .fault(1, Fault::Body("<html>maintenance</html>".into()))
        .start()
        .unwrap();
    let err = ids("undecodable", client_for(&sim, FAST).departments(), dept_id)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Decode {
                offset: Some(0),
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(sim.stats().requests, 1);
}

#[tokio::test]
async fn a_body_cut_short_is_retried() {
    let sim = Simulator::builder()
        .departments(150)
        .fault(2, Fault::Body(r#"{"data":[{"id":101,"name":"Depa"#.into()))
        .start()
        .unwrap();
    let got = ids("truncated", client_for(&sim, FAST).departments(), dept_id)
        .await
        .unwrap();
    assert_each_once_in_order(&got, 150);
    assert_eq!(sim.stats().requests, 3);
}

#[tokio::test]
async fn a_total_one_past_the_records_is_confirmed_and_a_total_far_past_is_an_error() {
    // The docs' own agents example: "total": 5 with four records. Two more reads end at the
    // same record, and the scan takes the total for one that overcounts.
    let sim = Simulator::builder()
        .agents(4)
        .total_skew(1)
        .start()
        .unwrap();
    let mut agents = client_for(&sim, FAST).paginate::<Value>("agents");
    let got = ids("agents", &mut agents, |v| v["id"].as_u64().unwrap())
        .await
        .unwrap();
    assert_each_once_in_order(&got, 4);
    assert_eq!(sim.stats().requests, 3);
    assert_eq!(agents.report().short_pages, 2);

    // A total that promises far more than the pages hold cannot be reconciled: the scan reads
    // on from the end a few times, waiting longer each time, then says so.
    let sim = Simulator::builder()
        .departments(1_000)
        .total_skew(1_000_000_000)
        .start()
        .unwrap();
    let mut got = Vec::new();
    let mut departments = client_for(&sim, FAST).departments();
    let err = bounded("lying total", async {
        loop {
            match departments.try_next().await {
                Ok(Some(d)) => got.push(d.id),
                Ok(None) => panic!("a total it cannot reconcile ended the scan as if whole"),
                Err(e) => return e,
            }
        }
    })
    .await;
    assert!(err.is_incomplete(), "{err:?}");
    assert!(err.to_string().contains("while the total says"), "{err}");
    assert_each_once_in_order(&got, 1_000);
    assert!(
        sim.stats().requests <= 11 + 8 + 7,
        "{} requests",
        sim.stats().requests
    );
}

#[tokio::test]
async fn a_total_smaller_than_the_records_still_reads_every_record() {
    let sim = Simulator::builder()
        .departments(300)
        .total_skew(-50)
        .start()
        .unwrap();
    let got = ids("small total", client_for(&sim, FAST).departments(), dept_id)
        .await
        .unwrap();
    // The last window asks past the total; it comes back full, so the scan goes on.
    assert_each_once_in_order(&got, 300);
}

#[tokio::test]
async fn an_empty_collection_ends_after_one_request() {
    let sim = Simulator::builder().departments(0).start().unwrap();
    let got = ids("empty", client_for(&sim, FAST).departments(), dept_id)
        .await
        .unwrap();
    assert!(got.is_empty());
    assert_eq!(sim.stats().requests, 1);
}

#[tokio::test]
async fn exhausted_retries_say_how_many_attempts_and_what_came_last() {
    let mut builder = Simulator::builder().departments(10);
    for n in 1..=3 {
        builder = builder.fault(n, Fault::Status(502));
    }
    let sim = builder.start().unwrap();
    let client = builder_for(&sim, FAST)
        .retry_policy(fast_retries().with_max_attempts(3))
        .build()
        .unwrap();
    let err = ids("exhausted", client.departments(), dept_id)
        .await
        .unwrap_err();
    assert!(err.is_retries_exhausted(), "{err}");
    assert_eq!(err.attempts(), 3);
    assert_eq!(err.status(), Some(502));
    let text = err.to_string();
    assert!(text.starts_with("gave up after 3 attempts"), "{text}");
    // The last answer is the error's source, said once, not in its message too.
    let last = std::error::Error::source(&err)
        .expect("the last answer")
        .to_string();
    assert!(!text.contains(&last), "{text} repeats its source");
    assert!(
        last.contains("502 Bad Gateway"),
        "the proxy's page should show: {last}"
    );
    assert_eq!(sim.stats().requests, 3);
}

#[tokio::test]
async fn an_unreachable_host_is_a_network_error_after_retries() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client = Client::builder()
        .api_key("k")
        .base_url(format!("http://127.0.0.1:{port}/v1"))
        .retry_policy(
            RetryPolicy::new()
                .with_max_attempts(2)
                .with_min_delay(std::time::Duration::from_millis(10)),
        )
        .build()
        .unwrap();
    let err = ids("unreachable", client.departments(), dept_id)
        .await
        .unwrap_err();
    assert!(err.is_retries_exhausted(), "{err}");
    assert!(
        matches!(err, Error::RetriesExhausted { ref last, .. } if matches!(**last, Error::Network { .. })),
        "{err}"
    );
}

#[tokio::test]
async fn keys_urls_and_paths_that_cannot_work_are_refused_before_anything_is_sent() {
    let sim = Simulator::builder().departments(10).start().unwrap();
    for key in ["", "   ", "\t\n"] {
        let err = Client::builder().api_key(key).build().unwrap_err();
        assert!(err.to_string().contains("the API key is empty"), "{err:?}");
    }
    for url in [
        "ftp://api.helpcrunch.com/v1",
        "api.helpcrunch.com/v1",
        "file:///etc",
    ] {
        let err = Client::builder()
            .api_key("key")
            .base_url(url)
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{url}: {err}");
    }
    let client = client_for(&sim, FAST);
    for path in ["../admin", "chats/../../x", "https://evil.example/x"] {
        let err = ids("bad path", client.paginate::<Value>(path), |_| 0)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{path}: {err}");
    }
    assert_eq!(sim.stats().requests, 0);
}

#[tokio::test]
async fn a_body_larger_than_the_cap_is_refused_not_buffered() {
    let huge = format!(
        "{{\"data\":[],\"total\":0,\"pad\":\"{}\"}}",
        "x".repeat(33 << 20)
    );
    let sim = Simulator::builder()
        .departments(10)
        .fault(1, Fault::Body(huge))
        .start()
        .unwrap();
    let err = ids("huge", client_for(&sim, FAST).departments(), dept_id)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("larger than"), "{err}");
    assert_eq!(sim.stats().requests, 1, "refused, not retried");
}
