//! Single calls (`get`, `post`, `put`, `patch`, `delete`) against the simulator: typed answers
//! and errors, the budget's count, and the rule that a `POST` or `PATCH` the server may have
//! seen is not sent again unless the caller marks it idempotent.
#![cfg(feature = "simulator")]

mod support;

use std::time::Duration;

use futures::TryStreamExt;
use helpcrunch_pager::simulator::{Fault, RateLimit, RequestRecord, Simulator};
use helpcrunch_pager::{Call, Client, Customer, Department, Error, RetryPolicy};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use support::*;

/// Fast enough that the budget's spacing (10 ms) costs nothing here.
const RPM: u32 = 6_000;

fn customers(n: usize) -> helpcrunch_pager::simulator::SimulatorBuilder {
    Simulator::builder().customers(n)
}

/// Sends `call`, failing the test if it takes longer than [`BOUND`].
async fn run<T: DeserializeOwned>(what: &str, call: Call<T>) -> Result<T, Error> {
    bounded(what, call.send()).await
}

/// The requests the server saw, as `"METHOD /path"`.
fn seen(sim: &Simulator) -> Vec<String> {
    sim.requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

fn posts(sim: &Simulator) -> Vec<RequestRecord> {
    sim.requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect()
}

#[tokio::test]
async fn a_department_is_read_by_id_into_its_model() {
    let sim = Simulator::builder().departments(5).start().unwrap();
    let client = client_for(&sim, RPM);
    let department: Department = run("get", client.get("departments/3")).await.unwrap();
    assert_eq!(department.id, 3);
    assert_eq!(department.name, "Department 3");
    assert_eq!(seen(&sim), ["GET /v1/departments/3"]);
}

#[tokio::test]
async fn a_query_string_reaches_the_server_with_the_path() {
    let sim = Simulator::builder().departments(5).start().unwrap();
    let client = client_for(&sim, RPM);
    let call = client.get::<Value>("departments/2?include=agents&q=a%20b");
    let department = run("get with a query", call).await.unwrap();
    assert_eq!(department["id"], 2);
    let log = sim.requests();
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].path.as_str(), log[0].query.as_str()),
        ("/v1/departments/2", "include=agents&q=a%20b")
    );
}

#[tokio::test]
async fn a_missing_record_is_a_typed_404_named_by_its_path_and_not_retried() {
    let sim = Simulator::builder().departments(5).start().unwrap();
    let client = client_for(&sim, RPM);
    let call = client.get::<Department>("departments/99?email=ada%40example.com");
    let err = run("get a missing record", call).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(
        matches!(&err, Error::Api { status: 404, offset: None, path, .. } if path == "departments/99"),
        "{err:?}"
    );
    assert_eq!(err.api_errors()[0].code, "entity_not_found");
    assert_eq!(err.api_errors()[0].message, "Department not found");
    let message = err.to_string();
    assert!(message.contains("departments/99"), "{message}");
    assert!(
        !message.contains("ada") && !message.contains("email"),
        "the query stays out: {message}"
    );
    assert_eq!(sim.stats().requests, 1, "a 404 is not retried");
}

#[tokio::test]
async fn a_missing_chat_is_the_apis_chat_not_found() {
    let sim = Simulator::builder().chats(3).start().unwrap();
    let client = client_for(&sim, RPM);
    let err = run("get a missing chat", client.get::<Value>("chats/4"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert_eq!(err.api_errors()[0].code, "not_found");
    assert_eq!(err.api_errors()[0].message, "Chat not found");
}

#[tokio::test]
async fn a_created_customer_is_answered_and_read_by_a_later_scan() {
    let sim = customers(5).start().unwrap();
    let client = client_for(&sim, RPM);
    let body = json!({"name": "Ada", "email": "ada@example.com"});
    let created: Customer = run("post", client.post("customers", &body)).await.unwrap();
    assert_eq!(created.id, 6, "one past the largest id");
    assert_eq!(created.email.as_deref(), Some("ada@example.com"));
    let all: Vec<Customer> = bounded("scan", client.customers().try_collect())
        .await
        .unwrap();
    let ids: Vec<u64> = all.iter().map(|c| c.id).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5, 6]);
    assert_eq!(all[5].name.as_deref(), Some("Ada"));
    assert_eq!(sim.changes().inserted, [6]);
}

#[tokio::test]
async fn a_body_that_is_not_an_object_is_the_apis_400_and_not_retried() {
    let sim = customers(5).start().unwrap();
    let client = client_for(&sim, RPM);
    let call = client.post::<Value>("customers", &[1, 2]).idempotent(true);
    let err = run("post an array", call).await.unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert_eq!(err.api_errors()[0].code, "invalid_request");
    assert_eq!(sim.stats().requests, 1);
    assert!(sim.changes().inserted.is_empty());
}

/// Failures after which the server may have acted on the request.
fn maybe_seen() -> [Fault; 3] {
    [Fault::Status(502), Fault::Status(500), Fault::Reset]
}

#[tokio::test]
async fn a_post_the_server_may_have_seen_is_sent_once_and_fails_with_what_happened() {
    // On a new connection, and on one a GET left open (where a client could be tempted to
    // blame the pool and send again).
    for (fault, warm) in maybe_seen()
        .into_iter()
        .flat_map(|f| [(f.clone(), false), (f, true)])
    {
        let n = if warm { 2 } else { 1 };
        let sim = customers(5).fault(n, fault.clone()).start().unwrap();
        let client = client_for(&sim, RPM);
        if warm {
            run("warm up", client.get::<Value>("customers/1"))
                .await
                .unwrap();
        }
        let call = client.post::<Customer>("customers", &json!({"name": "Ada"}));
        let err = run("post after a failure", call).await.unwrap_err();
        match &fault {
            Fault::Status(status) => assert_eq!(err.status(), Some(*status), "{err:?}"),
            _ => assert!(
                matches!(&err, Error::Network { path, offset: None, .. } if path == "customers"),
                "{err:?}"
            ),
        }
        let arrived = posts(&sim);
        assert_eq!(arrived.len(), 1, "{fault:?}: sent again");
        assert_eq!(arrived[0].fault, Some(fault.clone()));
        assert!(
            arrived[0].body.as_deref().unwrap_or("").contains("Ada"),
            "{fault:?}: the whole request arrived"
        );
        assert_eq!(sim.stats().requests, n, "{fault:?}");
        assert_eq!(client.stats().retries, 0);
    }
}

#[tokio::test]
async fn an_idempotent_post_is_retried_after_such_a_failure_and_succeeds() {
    for fault in maybe_seen() {
        let sim = customers(5).fault(1, fault.clone()).start().unwrap();
        let client = client_for(&sim, RPM);
        let call = client
            .post::<Customer>("customers", &json!({"name": "Ada"}))
            .idempotent(true);
        let created = run("idempotent post", call).await.unwrap();
        assert_eq!(created.id, 6);
        assert_eq!(posts(&sim).len(), 2, "{fault:?}");
        assert_eq!(sim.changes().inserted, [6], "{fault:?}: created once");
    }
}

#[tokio::test]
async fn a_patch_is_sent_once_after_a_502_unless_marked_idempotent() {
    let sim = customers(5)
        .fault(1, Fault::Status(502))
        .fault(2, Fault::Reset)
        .start()
        .unwrap();
    let client = client_for(&sim, RPM);
    let body = json!({"company": "Analytical Engines"});
    let err = run("patch", client.patch::<Customer>("customers/2", &body))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(502));
    assert_eq!(seen(&sim), ["PATCH /v1/customers/2"]);

    let call = client
        .patch::<Customer>("customers/2", &body)
        .idempotent(true);
    let patched = run("idempotent patch", call).await.unwrap();
    assert_eq!(patched.company.as_deref(), Some("Analytical Engines"));
    assert_eq!(patched.name.as_deref(), Some("Customer 2"), "the rest kept");
    assert_eq!(sim.requests().len(), 3, "one reset, then the answer");
}

#[tokio::test]
async fn a_post_answered_429_is_retried_as_surely_unsent() {
    let sim = customers(5).fault(1, Fault::Status(429)).start().unwrap();
    let client = client_for(&sim, RPM);
    let call = client.post::<Customer>("customers", &json!({"name": "Ada"}));
    let created = run("post after a 429", call).await.unwrap();
    assert_eq!(created.id, 6);
    let statuses: Vec<u16> = posts(&sim).iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 200]);
    assert_eq!(client.stats().rate_limited, 1);
}

#[tokio::test]
async fn a_post_refused_by_the_rate_limit_is_retried_once_it_lifts() {
    const WINDOW: Duration = Duration::from_millis(250);
    let sim = customers(5)
        .rate_limit(RateLimit::fixed_window(1, WINDOW))
        .start()
        .unwrap();
    let client = builder_for(&sim, RPM).rate_window(WINDOW).build().unwrap();
    run("fill the window", client.get::<Value>("customers/1"))
        .await
        .unwrap();
    let call = client.post::<Customer>("customers", &json!({"name": "Ada"}));
    let created = run("post over the limit", call).await.unwrap();
    assert_eq!(created.id, 6);
    let statuses: Vec<u16> = posts(&sim).iter().map(|r| r.status).collect();
    assert!(statuses.len() >= 2, "{statuses:?}");
    assert_eq!(statuses.last(), Some(&200));
    assert!(statuses[..statuses.len() - 1].iter().all(|&s| s == 429));
    assert_eq!(sim.changes().inserted, [6], "created once");
}

#[tokio::test]
async fn a_post_to_a_port_where_nothing_listens_is_retried_until_the_policy_gives_up() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let client = Client::builder()
        .api_key("key")
        .base_url(format!("http://127.0.0.1:{port}/v1"))
        .requests_per_minute(RPM)
        .retry_policy(
            RetryPolicy::new()
                .with_max_attempts(3)
                .with_min_delay(Duration::from_millis(10))
                .with_max_delay(Duration::from_millis(20)),
        )
        .build()
        .unwrap();
    let call = client.post::<Value>("customers", &json!({"name": "Ada"}));
    let err = run("post to a closed port", call).await.unwrap_err();
    assert!(err.is_retries_exhausted(), "{err:?}");
    assert_eq!(err.attempts(), 3, "refused: surely unsent, so retried");
    let Error::RetriesExhausted { last, .. } = &err else {
        unreachable!()
    };
    assert!(matches!(**last, Error::Network { .. }), "{last:?}");
    assert_eq!(client.stats().requests, 3);
}

#[tokio::test]
async fn put_and_delete_are_retried_after_a_502_and_a_delete_needs_no_body() {
    let sim = customers(5)
        .fault(1, Fault::Status(502))
        .fault(3, Fault::Status(502))
        .start()
        .unwrap();
    let client = client_for(&sim, RPM);
    let body = json!({"name": "Grace"});
    let put: Customer = run("put", client.put("customers/2", &body)).await.unwrap();
    assert_eq!((put.id, put.name.as_deref()), (2, Some("Grace")));
    run("delete", client.delete::<()>("customers/3"))
        .await
        .unwrap();
    assert_eq!(sim.requests().pop().unwrap().status, 204);
    let gone = run("get deleted", client.get::<Customer>("customers/3"))
        .await
        .unwrap_err();
    assert!(gone.is_not_found(), "{gone}");
    assert_eq!(
        seen(&sim),
        [
            "PUT /v1/customers/2",
            "PUT /v1/customers/2",
            "DELETE /v1/customers/3",
            "DELETE /v1/customers/3",
            "GET /v1/customers/3",
        ]
    );
    assert_eq!(sim.changes().deleted, [3]);
    let answer: Option<Value> = run("delete into Option", client.delete("customers/4"))
        .await
        .unwrap();
    assert_eq!(answer, None);
}

#[tokio::test]
async fn a_body_of_the_wrong_type_is_a_decode_error_naming_the_path_and_not_retried() {
    let sim = Simulator::builder().departments(5).start().unwrap();
    let client = client_for(&sim, RPM);
    let call = client.get::<Vec<Department>>("departments/3?include=agents");
    let err = run("wrong type", call).await.unwrap_err();
    assert!(
        matches!(&err, Error::Decode { path, offset: None, .. } if path == "departments/3"),
        "{err:?}"
    );
    assert!(err.to_string().contains("departments/3"), "{err}");
    assert_eq!(sim.stats().requests, 1);
}

#[tokio::test]
async fn a_path_that_leaves_the_base_url_is_refused_and_nothing_is_sent() {
    let sim = customers(5).start().unwrap();
    let client = client_for(&sim, RPM);
    for path in ["../x", "https://evil/x", "customers/../../x"] {
        let get = run("get", client.get::<Value>(path)).await.unwrap_err();
        assert!(matches!(get, Error::InvalidInput(_)), "{path}: {get:?}");
        let post = run("post", client.post::<Value>(path, &json!({})))
            .await
            .unwrap_err();
        assert!(matches!(post, Error::InvalidInput(_)), "{path}: {post:?}");
    }
    assert_eq!(sim.stats().requests, 0);
    assert_eq!(client.stats().requests, 0);
}

#[tokio::test]
async fn single_calls_count_in_the_clients_stats() {
    let sim = customers(5).fault(2, Fault::Status(503)).start().unwrap();
    let client = client_for(&sim, RPM);
    run("get", client.get::<Customer>("customers/1"))
        .await
        .unwrap();
    run(
        "put",
        client.put::<Customer>("customers/1", &json!({"name": "A"})),
    )
    .await
    .unwrap();
    run("delete", client.delete::<()>("customers/1"))
        .await
        .unwrap();
    let stats = client.stats();
    assert_eq!((stats.requests, stats.retries), (4, 1));
    assert_eq!(stats.requests, sim.stats().requests);
}
