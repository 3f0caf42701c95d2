//! Every typed endpoint end to end over HTTP: each record once, in the API's order, all of them
//! drawing on one rate budget.

mod support;

use std::time::Duration;

use futures::TryStreamExt;
use helpcrunch_pager::simulator::{RateLimit, Simulator};
use helpcrunch_pager::{
    Agent, AgentRole, BroadcastType, Chat, ChatSort, ChatStatus, Customer, CustomerSort,
    Department, Message, MessageType, Order, Rating,
};
use support::*;

/// 50 requests a second, counted by the server in fixed windows of half a second.
const RPM: u32 = 3_000;
const WINDOW: Duration = Duration::from_millis(500);
const PER_WINDOW: u32 = 25;

const CHAT_ID: u64 = 42;
const MESSAGES: u64 = 700;

fn account() -> Simulator {
    Simulator::builder()
        .departments(300)
        .agents(250)
        .customers(2_000)
        .chats(1_500)
        .chat_messages(CHAT_ID, MESSAGES as usize)
        .rate_limit(RateLimit::fixed_window(PER_WINDOW, WINDOW))
        .start()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_typed_endpoint_reads_each_record_once_through_one_budget() {
    let sim = account();
    let client = client_for(&sim, RPM);
    // All five at once, on clones of one client: if each had a budget of its own they would
    // go five times over the limit and the server would answer 429s.
    let (departments, agents, customers, chats, messages) = bounded(
        "five endpoints",
        futures::future::try_join5(
            client
                .clone()
                .departments()
                .try_collect::<Vec<Department>>(),
            client.clone().agents().try_collect::<Vec<Agent>>(),
            client.clone().customers().try_collect::<Vec<Customer>>(),
            client.clone().chats().try_collect::<Vec<Chat>>(),
            client
                .clone()
                .chat_messages(CHAT_ID)
                .try_collect::<Vec<Message>>(),
        ),
    )
    .await
    .unwrap();

    let of = |ids: Vec<u64>| ids;
    assert_each_once_in_order(&of(departments.iter().map(|d| d.id).collect()), 300);
    assert_each_once_in_order(&of(agents.iter().map(|a| a.id).collect()), 250);
    assert_each_once_in_order(&of(customers.iter().map(|c| c.id).collect()), 2_000);
    assert_each_once_in_order(&of(chats.iter().map(|c| c.id).collect()), 1_500);
    let newest_first: Vec<u64> = (1..=MESSAGES)
        .rev()
        .map(|n| CHAT_ID * 1_000_000 + n)
        .collect();
    assert_eq!(
        messages.iter().map(|m| m.id).collect::<Vec<_>>(),
        newest_first,
        "messages newest first, each once"
    );

    let stats = sim.stats();
    assert_eq!(
        stats.rate_limited, 0,
        "one budget keeps all five under the limit"
    );
    // A first page of 100, then 99 new records a window, the last asking one past the end.
    let requests = |n: u64| 1 + (n + 1 - 100).div_ceil(99);
    assert_eq!(
        stats.requests,
        requests(300) + requests(250) + requests(2_000) + requests(1_500) + requests(MESSAGES)
    );
    let most = most_in_any_window(&sim.requests(), WINDOW);
    assert!(most <= PER_WINDOW as usize, "{most} requests in one window");
}

#[tokio::test]
async fn typed_records_keep_what_the_api_sent() {
    let sim = account();
    let client = client_for(&sim, 600_000);
    let chats: Vec<Chat> = bounded("chats", client.chats().page_size(20).try_collect())
        .await
        .unwrap();
    // The simulator cycles statuses through both on-hold spellings and one the crate does not know.
    let status = |id: usize| chats[id - 1].status.clone();
    assert_eq!(status(3), Some(ChatStatus::OnHold));
    assert_eq!(status(4), Some(ChatStatus::OnHold));
    assert_eq!(status(8), Some(ChatStatus::Unknown("archived".into())));
    assert!(chats[4].assignee.is_none(), "chat 5 has a null assignee");
    assert!(
        chats[5].department.is_none(),
        "chat 6 has a null department"
    );
    assert_eq!(chats[9].agents.len(), 1, "chat 10's single agent object");
    assert!(chats.iter().all(|c| c.created_at.is_some()));
    assert!(chats
        .iter()
        .any(|c| c.rating == Some(Rating::Unknown("perfect".into()))));

    let agents: Vec<Agent> = bounded("agents", client.agents().try_collect())
        .await
        .unwrap();
    assert_eq!(agents[1].role, Some(AgentRole::Supervisor));
    assert_eq!(agents[3].role, Some(AgentRole::Unknown("owner".into())));

    let customers: Vec<Customer> = bounded("customers", client.customers().try_collect())
        .await
        .unwrap();
    assert_eq!(customers[6].name, None, "customer 7 has a null name");
    assert_eq!(customers[3].custom_data.as_ref().unwrap()["plan"], "pro");
    assert_eq!(customers[3].tags[0].name.as_deref(), Some("Paid"));

    let messages: Vec<Message> = bounded("messages", client.chat_messages(CHAT_ID).try_collect())
        .await
        .unwrap();
    assert!(messages
        .iter()
        .any(|m| m.message_type == Some(MessageType::Unknown("widget".into()))));
    assert!(messages
        .iter()
        .any(|m| m.broadcast_type == Some(BroadcastType::AutoChat)));
}

#[tokio::test]
async fn sort_and_order_go_out_as_the_documented_query_parameters() {
    let sim = account();
    let client = client_for(&sim, 600_000);
    let customers: Vec<Customer> = bounded(
        "customers",
        client
            .customers()
            .sort(CustomerSort::FirstSeen)
            .order(Order::Desc)
            .try_collect(),
    )
    .await
    .unwrap();
    let ids: Vec<u64> = customers.iter().map(|c| c.id).collect();
    assert_eq!(ids, (1..=2_000).rev().collect::<Vec<_>>());
    let chats: Vec<Chat> = bounded(
        "chats",
        client
            .chats()
            .sort(ChatSort::LastCustomerMessageAt)
            .order(Order::Asc)
            .try_collect(),
    )
    .await
    .unwrap();
    assert_eq!(chats.len(), 1_500);

    let log = sim.requests();
    let queries = |path: &str| -> Vec<String> {
        // The account's limit answers some of these fast requests 429; count the pages.
        log.iter()
            .filter(|r| r.path == path && r.status == 200)
            .map(|r| r.query.clone())
            .collect()
    };
    let customers = queries("/v1/customers");
    assert_eq!(customers.len(), 21);
    assert!(customers
        .iter()
        .all(|q| q.starts_with("sort=customers.firstSeen&order=desc&offset=")));
    let chats = queries("/v1/chats");
    assert_eq!(chats.len(), 16);
    assert!(chats
        .iter()
        .all(|q| q.starts_with("sort=chats.lastCustomerMessageAt&order=asc&offset=")));
}

#[tokio::test]
async fn messages_of_a_chat_that_does_not_exist_are_a_typed_404() {
    let sim = account();
    let client = client_for(&sim, 600_000);
    // Every chat of the account has messages: 1,501 is past its 1,500 chats.
    let e = bounded(
        "messages",
        client.chat_messages(1_501).try_collect::<Vec<_>>(),
    )
    .await
    .unwrap_err();
    assert!(e.is_not_found(), "{e}");
    assert_eq!(e.api_errors()[0].message, "Chat not found");
    assert_eq!(sim.stats().requests, 1, "a 404 is not retried");
}

#[tokio::test]
async fn a_sort_the_endpoint_does_not_have_is_a_typed_400() {
    let sim = account();
    let client = client_for(&sim, 600_000);
    let e = bounded(
        "chats",
        client
            .paginate::<Chat>("chats")
            .query("sort", "chats.rating")
            .try_collect::<Vec<_>>(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.status(), Some(400), "{e}");
    assert_eq!(e.api_errors()[1].code, "sort");
}
