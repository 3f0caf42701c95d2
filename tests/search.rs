//! The POST search endpoints: the window goes in the body, the rest of the body goes unchanged,
//! a result larger than a page is read whole, and a filter the API refuses is a typed 400.

mod support;

use futures::TryStreamExt;
use helpcrunch_pager::simulator::Simulator;
use helpcrunch_pager::{Chat, ChatSort, ChatStatus, Customer, Error, Operator, Order, Search};
use serde_json::{json, Value};
use support::*;

const FAST: u32 = 600_000;

fn account() -> Simulator {
    Simulator::builder()
        .customers(1_000)
        .chats(1_200)
        .start()
        .unwrap()
}

/// Each request's body without `offset` and `limit`, and the windows, sorted by offset.
fn bodies_and_windows(sim: &Simulator) -> (Vec<Value>, Vec<(u64, u64)>) {
    let mut bodies = Vec::new();
    let mut windows = Vec::new();
    for r in sim.requests() {
        assert_eq!(r.method, "POST", "{r:?}");
        assert_eq!(r.query, "", "the window is not in the query: {r:?}");
        let mut body: Value = serde_json::from_str(r.body.as_deref().unwrap()).unwrap();
        let map = body.as_object_mut().unwrap();
        let mut take = |key| map.remove(key).and_then(|v| v.as_u64()).unwrap();
        windows.push((take("offset"), take("limit")));
        bodies.push(body);
    }
    windows.sort_unstable();
    (bodies, windows)
}

#[tokio::test]
async fn customer_search_reads_a_result_of_several_pages_with_the_window_in_the_body() {
    let sim = account();
    let client = client_for(&sim, FAST);
    let body = json!({
        "comparison": "AND",
        "filter": [{"field": "customers.email", "operator": "~", "value": "@example.com"}],
        "sort": "customers.firstSeen",
        "order": "asc",
        "x-extra": {"kept": [1, 2, 3]}
    });
    let found: Vec<Customer> = bounded(
        "search",
        client
            .search("customers/search", body.clone())
            .try_collect(),
    )
    .await
    .unwrap();

    // Every customer with an email: the simulator leaves out every 11th.
    let expected: Vec<u64> = (1..=1_000).filter(|id| id % 11 != 0).collect();
    assert_eq!(expected.len(), 910);
    assert_eq!(found.iter().map(|c| c.id).collect::<Vec<_>>(), expected);
    let (bodies, windows) = bodies_and_windows(&sim);
    // Each window after the first starts on the last record of the one before; the last asks
    // for a full page too, which reaches past the end.
    let mut expected_windows = vec![(0, 100)];
    expected_windows.extend((1..9).map(|i| (i * 99, 100)));
    expected_windows.push((891, 100));
    assert_eq!(windows, expected_windows);
    assert!(
        bodies.iter().all(|b| *b == body),
        "the rest of the body is sent unchanged"
    );
}

#[tokio::test]
async fn chat_search_matches_what_a_full_scan_filtered_by_hand_gives() {
    let sim = account();
    let client = client_for(&sim, FAST);
    let search = Search::all()
        .filter("chats.status", Operator::Eq, "onhold")
        .filter("chats.createdAt", Operator::Ge, 1_600_000_000 + 200 * 120)
        .sort(ChatSort::CreatedAt.as_str())
        .order(Order::Desc);
    let found: Vec<Chat> = bounded(
        "search",
        client.search("chats/search", search.clone()).try_collect(),
    )
    .await
    .unwrap();
    let searched_requests = sim.stats().requests;

    let all: Vec<Chat> = bounded("scan", client.chats().try_collect()).await.unwrap();
    let by_hand: Vec<u64> = all
        .iter()
        .rev()
        .filter(|c| c.status == Some(ChatStatus::OnHold))
        .filter(|c| c.created_at.unwrap().unix_seconds() >= 1_600_000_000 + 200 * 120)
        .map(|c| c.id)
        .collect();
    assert!(by_hand.len() > 100, "a result of more than one page");
    assert_eq!(found.iter().map(|c| c.id).collect::<Vec<_>>(), by_hand);

    let sent: Vec<_> = sim.requests()[..searched_requests as usize].to_vec();
    for r in sent {
        let mut body: Value = serde_json::from_str(r.body.as_deref().unwrap()).unwrap();
        body.as_object_mut().unwrap().remove("offset");
        body.as_object_mut().unwrap().remove("limit");
        assert_eq!(body, Value::from(search.clone()));
    }
}

#[tokio::test]
async fn sort_and_order_on_a_search_go_in_its_body() {
    let sim = account();
    let client = client_for(&sim, FAST);
    let found: Vec<Chat> = bounded(
        "search",
        client
            .search::<Chat>("chats/search", json!({"filter": []}))
            .sort(ChatSort::ClosedAt)
            .order(Order::Desc)
            .page_size(50)
            .try_collect(),
    )
    .await
    .unwrap();
    assert_eq!(
        found.iter().map(|c| c.id).collect::<Vec<_>>(),
        (1..=1_200).rev().collect::<Vec<_>>()
    );
    let first = &sim.requests()[0];
    let body: Value = serde_json::from_str(first.body.as_deref().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"filter": [], "sort": "chats.closedAt", "order": "desc", "offset": 0, "limit": 50})
    );
}

#[tokio::test]
async fn a_malformed_filter_is_a_typed_400_and_is_not_retried() {
    let sim = account();
    let client = client_for(&sim, FAST);
    let blank = json!({"filter": [{"field": "", "operator": "=", "value": "3"}]});
    let e = bounded(
        "search",
        client
            .search::<Chat>("chats/search", blank)
            .try_collect::<Vec<_>>(),
    )
    .await
    .unwrap_err();
    let Error::Api {
        status,
        errors,
        path,
        ..
    } = &e
    else {
        panic!("expected an API error, got {e:?}");
    };
    assert_eq!((*status, path.as_str()), (400, "chats/search"));
    assert_eq!(errors[0].code, "invalid_request");
    assert_eq!(errors[1].code, "filter[0].field");
    assert_eq!(errors[1].message, "This value should not be blank.");
    assert!(e.to_string().contains("filter[0].field"), "{e}");
    assert_eq!(sim.stats().requests, 1, "a 400 is never retried");

    let wrong_type = Search::all().filter("customers.firstSeen", Operator::Ge, "18 Jun 2020");
    let e = bounded(
        "search",
        client
            .search::<Customer>("customers/search", wrong_type)
            .try_collect::<Vec<_>>(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert_eq!(e.api_errors()[1].code, "filter[0].value");
    assert_eq!(sim.stats().requests, 2);
}

#[tokio::test]
async fn a_body_with_its_own_window_or_not_an_object_is_refused_before_sending() {
    let sim = account();
    let client = client_for(&sim, FAST);
    for body in [
        json!({"filter": [], "offset": 0, "limit": 100}),
        json!([{"field": "chats.id"}]),
        json!("chats.status=3"),
    ] {
        let e = bounded(
            "search",
            client
                .search::<Chat>("chats/search", body.clone())
                .try_collect::<Vec<_>>(),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, Error::InvalidInput(_)), "{body}: {e}");
    }
    assert_eq!(sim.stats().requests, 0);
}
