//! Trust held against servers and inputs this project did not write: no request leaves the base
//! URL however its path is spelled, no key in any message a server's text reaches, a dead host
//! fails in seconds, and a `Retry-After` in the past is "retry now".

mod support;

use std::time::{Duration, Instant};

use futures::TryStreamExt;
use helpcrunch_pager::simulator::{Fault, Simulator};
use helpcrunch_pager::{Client, Department, Error, RetryPolicy};
use serde_json::{json, Value};
use support::hostile::{refusing_url, Hostile, HOSTILE_PATHS};
use support::*;

const KEY: &str = "hc-live-KEY-0f9e8d7c6b5a";

#[tokio::test]
async fn no_spelling_of_a_path_out_of_the_base_url_sends_anything() {
    let sim = Simulator::builder().departments(5).start().unwrap();
    // Behind a gateway: the base URL is one folder of what the host serves, and the folder
    // above it (the simulator's /v1) answers anything that reaches it.
    let gateway = builder_for(&sim, 600_000)
        .base_url(format!("{}/helpcrunch", sim.base_url()))
        .build()
        .unwrap();
    for client in [client_for(&sim, 600_000), gateway] {
        for &path in HOSTILE_PATHS {
            let listed = client.paginate::<Value>(path).try_collect::<Vec<_>>().await;
            let searched = client
                .search::<Value>(path, json!({"filter": []}))
                .try_collect::<Vec<_>>()
                .await;
            let called = client.get::<Value>(path).await;
            // Inside a path too; `//` there is an empty segment, not a way out.
            let inner = if path.starts_with("//") {
                path
            } else {
                &format!("departments/1/{path}")
            };
            let deleted = client.delete::<()>(inner).await;
            for result in [
                listed.map(drop),
                searched.map(drop),
                called.map(drop),
                deleted,
            ] {
                match result {
                    Err(Error::InvalidInput(message)) => {
                        assert!(message.starts_with("path "), "{path:?}: {message}");
                    }
                    other => panic!("{path:?} was not refused: {other:?}"),
                }
            }
        }
    }
    let seen: Vec<String> = sim.requests().iter().map(|r| r.path.clone()).collect();
    assert!(seen.is_empty(), "the server saw {seen:?}");
}

#[tokio::test]
async fn a_key_echoed_by_the_server_is_in_no_message() {
    let echo = Hostile::echoing();
    let client = Client::builder()
        .api_key(KEY)
        .base_url(&echo.base_url)
        .retry_policy(fast_retries())
        .build()
        .unwrap();
    let listed = bounded("list", client.departments().try_collect::<Vec<_>>())
        .await
        .unwrap_err();
    let called = bounded("call", client.get::<Value>("departments/1").send())
        .await
        .unwrap_err();
    let seen = echo.seen.lock().unwrap().join("\n");
    assert!(seen.contains(KEY), "the server was sent the key: {seen}");
    for e in [listed, called] {
        assert_eq!(e.status(), Some(400), "{e:?}");
        let mut shown = format!("{e}\n{e:?}\n{e:#?}");
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            shown.push_str(&format!("\n{cause}"));
            source = cause.source();
        }
        assert!(shown.contains("you sent"), "the body is quoted: {shown}");
        assert!(
            !shown.contains("KEY-0f9e8d7c6b5a"),
            "the key leaked: {shown}"
        );
        assert!(shown.contains("<redacted>"), "{shown}");
    }
}

/// A client whose first contact is cut to a second, with the retry schedule of the tests.
fn impatient(base_url: &str) -> Client {
    Client::builder()
        .api_key(KEY)
        .base_url(base_url)
        .allow_insecure_http(true)
        .requests_per_minute(600_000)
        .retry_policy(fast_retries().with_first_contact(Duration::from_secs(1)))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_host_that_never_answers_fails_within_the_first_contact_naming_its_url() {
    let silent = Hostile::silent();
    for base in [
        refusing_url(),
        "http://helpcrunch-nowhere.invalid/v1".to_owned(),
        silent.base_url.clone(),
    ] {
        let started = Instant::now();
        let e = bounded(
            &base,
            impatient(&base).departments().try_collect::<Vec<_>>(),
        )
        .await
        .unwrap_err();
        let took = started.elapsed();
        // The request's own timeout (30 s) and the policy's total (8 s) are both longer.
        assert!(took < Duration::from_secs(3), "{base}: {took:?}");
        let mut shown = e.to_string();
        if let Some(cause) = std::error::Error::source(&e) {
            shown.push_str(&format!(": {cause}"));
        }
        assert!(shown.contains(&format!("{base}/departments")), "{shown}");
    }
    assert!(silent.requests() >= 1, "the silent host was asked");
}

#[tokio::test]
async fn a_host_that_answered_before_is_retried_past_the_first_contact() {
    // The second request stalls past the client's timeout: more than the first contact's
    // second, but the host has answered, so the page is retried within the total instead.
    let sim = Simulator::builder()
        .departments(250)
        .fault(2, Fault::Stall(Duration::from_secs(3)))
        .start()
        .unwrap();
    let client = builder_for(&sim, 600_000)
        .retry_policy(fast_retries().with_first_contact(Duration::from_secs(1)))
        .timeout(Duration::from_millis(1_500))
        .build()
        .unwrap();
    let got = ids(
        "scan",
        client.departments().concurrency(1),
        |d: &Department| d.id,
    )
    .await
    .unwrap();
    assert_each_once_in_order(&got, 250);
    assert_eq!(client.stats().retries, 1);
}

#[tokio::test]
async fn a_retry_after_in_the_past_is_retry_now() {
    let sim = support::hostile::retry_now_three_times();
    // The server's window is a minute: a pause of a window would be one.
    let client = builder_for(&sim, 6_000)
        .rate_window(Duration::from_secs(60))
        .build()
        .unwrap();
    let started = Instant::now();
    let got = ids("scan", client.departments(), |d: &Department| d.id)
        .await
        .unwrap();
    assert_each_once_in_order(&got, 250);
    let took = started.elapsed();
    let stats = client.stats();
    assert_eq!(stats.rate_limited, 3);
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(
        stats.rate_per_minute >= 6_000.0 * 0.5,
        "the rate was cut to {} a minute by three answers that said to retry now",
        stats.rate_per_minute
    );
}

#[tokio::test]
async fn a_wait_the_server_asked_for_is_said_when_it_ends_the_retries() {
    let unavailable = Hostile::answering(
        "HTTP/1.1 503 Service Unavailable\r\nretry-after: 3600\r\ncontent-length: 0\r\n\
         connection: close\r\n\r\n",
    );
    let e = bounded(
        "503",
        impatient(&unavailable.base_url)
            .departments()
            .try_collect::<Vec<_>>(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.status(), Some(503));
    assert!(
        e.to_string()
            .contains("the server asked to wait 3600 s more"),
        "{e}"
    );
}

#[cfg(feature = "gzip")]
#[tokio::test]
async fn a_body_that_does_not_decompress_is_a_decode_error_not_a_network_one() {
    let spoiled = Hostile::answering(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\n\
         content-length: 12\r\nconnection: close\r\n\r\nnot gzip at all",
    );
    let client = Client::builder()
        .api_key(KEY)
        .base_url(&spoiled.base_url)
        .retry_policy(fast_retries().with_max_attempts(2))
        .build()
        .unwrap();
    let e = bounded("gzip", client.departments().try_collect::<Vec<_>>())
        .await
        .unwrap_err();
    let last = match &e {
        Error::RetriesExhausted { last, .. } => last.as_ref(),
        other => other,
    };
    match last {
        Error::Decode { message, .. } => assert!(message.contains("decompress"), "{message}"),
        other => panic!("not a decode error: {other:?}"),
    }
}

#[tokio::test]
async fn a_server_that_keeps_saying_retry_now_is_given_up_within_the_total() {
    for adaptive in [true, false] {
        let insisting = Hostile::answering(
            "HTTP/1.1 429 Too Many Requests\r\nretry-after: 0\r\ncontent-length: 0\r\n\
             connection: close\r\n\r\n",
        );
        let client = Client::builder()
            .api_key(KEY)
            .base_url(&insisting.base_url)
            .requests_per_minute(600)
            .rate_window(Duration::from_secs(1))
            .adaptive(adaptive)
            .retry_policy(
                RetryPolicy::new()
                    .with_min_delay(Duration::from_millis(20))
                    .with_max_total_wait(Duration::from_secs(2)),
            )
            .build()
            .unwrap();
        let started = Instant::now();
        let e = bounded("429s", client.departments().try_collect::<Vec<_>>())
            .await
            .unwrap_err();
        let took = started.elapsed();
        assert!(e.is_rate_limited(), "{e:?}");
        // Two seconds of retrying at a spacing of 100 ms at the least.
        assert!(
            took < Duration::from_secs(4),
            "adaptive {adaptive}: {took:?}"
        );
        let asked = insisting.requests();
        assert!(
            asked <= 22,
            "adaptive {adaptive}: {asked} requests in {took:?}"
        );
    }
}

#[tokio::test]
async fn a_slow_first_answer_is_not_cut_short_by_the_total() {
    let sim = Simulator::builder()
        .departments(250)
        .fault(1, Fault::Stall(Duration::from_millis(1_500)))
        .start()
        .unwrap();
    let client = builder_for(&sim, 600_000)
        .retry_policy(fast_retries().with_max_total_wait(Duration::from_secs(1)))
        .build()
        .unwrap();
    let got = ids("scan", client.departments(), |d: &Department| d.id)
        .await
        .unwrap();
    assert_each_once_in_order(&got, 250);
    assert_eq!(client.stats().retries, 0);
}

#[tokio::test]
async fn the_bare_key_in_a_body_is_masked_in_every_spelling_and_across_the_excerpts_cut() {
    let escaped = KEY.replace('-', "%2D");
    for body in [
        // The key runs across the 200 characters of a body the message keeps.
        format!("{}{KEY} and more", "x".repeat(190)),
        format!(r#"{{"errors": [{{"code": "{KEY}", "message": "key {escaped} refused"}}]}}"#),
        KEY.replace('-', "\\u002d"),
    ] {
        let server = Hostile::answering(format!(
            "HTTP/1.1 400 Bad Request\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        ));
        let client = Client::builder()
            .api_key(KEY)
            .base_url(&server.base_url)
            .build()
            .unwrap();
        let e = bounded("400", client.departments().try_collect::<Vec<_>>())
            .await
            .unwrap_err();
        let shown = format!("{e}\n{e:?}");
        assert!(shown.contains("<redacted>"), "{shown}");
        for part in ["hc-live-K", "hc-li", "0f9e8d7c6b5a", "KEY%2D0f9e"] {
            assert!(!shown.contains(part), "{part} shown: {shown}");
        }
    }
}
