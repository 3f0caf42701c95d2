//! Decoding every variant the docs show: fixtures of each model's pages, the older error
//! shapes over HTTP, and a proptest that random extra fields, nulls and odd values in optional
//! places never fail a page.

mod support;

use futures::TryStreamExt;
use helpcrunch_pager::simulator::{Fault, Simulator};
use helpcrunch_pager::{
    Agent, AgentRole, BroadcastType, Chat, ChatStatus, ClosedBy, Customer, Department, Message,
    MessageType, Page, Rating, Sender,
};
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Map, Value};
use support::*;

const DEPARTMENTS: &str = include_str!("fixtures/departments-docs-example.json");
const AGENTS: &str = include_str!("fixtures/agents-docs-example.json");
const CUSTOMERS: &str = include_str!("fixtures/customers-page.json");
const CHATS: &str = include_str!("fixtures/chats-page.json");
const MESSAGES: &str = include_str!("fixtures/messages-old-shape.json");

fn page<T: DeserializeOwned>(body: &str) -> Page<T> {
    Page::from_json(body.as_bytes(), 0, 100).unwrap_or_else(|e| panic!("{e}"))
}

/// Writing a record and reading it back gives the same record, with the API's field names.
fn round_trips<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(items: &[T]) {
    for item in items {
        let written = serde_json::to_value(item).unwrap();
        let back: T = serde_json::from_value(written.clone()).unwrap();
        assert_eq!(&back, item, "{written}");
    }
}

#[test]
fn the_seed_pages_department_example_decodes_with_its_total_of_zero() {
    let p: Page<Department> = page(DEPARTMENTS);
    assert_eq!((p.total, p.items.len()), (0, 1));
    let d = &p.items[0];
    assert_eq!((d.id, d.name.as_str()), (542335, "string"));
    assert_eq!(d.agents[0].role, Some(AgentRole::Unknown("string".into())));
    round_trips(&p.items);
}

#[test]
fn the_agents_example_decodes_every_role_and_its_total_of_five_for_four() {
    let p: Page<Agent> = page(AGENTS);
    assert_eq!((p.total, p.items.len()), (5, 4));
    let roles: Vec<_> = p.items.iter().map(|a| a.role.clone().unwrap()).collect();
    assert_eq!(
        roles,
        [
            AgentRole::AgentChatOnly,
            AgentRole::Agent,
            AgentRole::Supervisor,
            AgentRole::Admin
        ]
    );
    assert_eq!(p.items[3].email, None);
    assert_eq!(p.items[3].extra["avatar"], "https://example.com/d.png");
    let written = serde_json::to_value(&p.items[2]).unwrap();
    assert_eq!(
        written["role"], "superviser",
        "written back as the API spells it"
    );
    round_trips(&p.items);
}

#[test]
fn customers_decode_every_timestamp_form_nulls_and_php_empty_objects() {
    let p: Page<Customer> = page(CUSTOMERS);
    assert_eq!(p.total, 3, "the top-level total");
    let [full, sparse, odd] = &p.items[..] else {
        panic!("three customers")
    };
    assert_eq!(full.first_seen.unwrap().unix_seconds(), 1594322706);
    assert_eq!(full.last_seen.unwrap().unix_seconds(), 1601477718);
    assert_eq!(full.device.as_ref().unwrap().id.as_deref(), Some("99"));
    assert_eq!(
        full.location.as_ref().unwrap().country_code.as_deref(),
        Some("UA")
    );
    assert_eq!(full.tags.len(), 2);
    assert_eq!(full.tags[1].color, None);
    assert_eq!(
        full.custom_data,
        Some(json!({"plan": "pro", "seats": 12, "nested": {"a": [1, 2]}}))
    );

    assert_eq!(sparse.id, 6930457, "an id sent as a string");
    assert_eq!((sparse.name.as_ref(), sparse.email.as_ref()), (None, None));
    let t = sparse.first_seen.unwrap();
    assert_eq!((t.unix_seconds(), t.subsec_millis()), (1594139170, 913));
    assert_eq!(sparse.last_seen, None);
    assert_eq!(sparse.location, None, "PHP's [] for an empty object");
    assert_eq!(
        (sparse.unsubscribed, sparse.blocked),
        (Some(true), Some(false))
    );
    assert!(sparse.tags.is_empty());
    assert_eq!(sparse.custom_data, None);
    assert_eq!(sparse.extra["visits"], 4, "an unknown field is kept");

    assert_eq!(odd.first_seen, None, "an empty string");
    assert_eq!(odd.last_seen.unwrap().subsec_millis(), 250);
    round_trips(&p.items);
}

#[test]
fn chats_decode_every_status_spelling_rating_and_null_relation() {
    let p: Page<Chat> = page(CHATS);
    assert_eq!(p.total, 10);
    let statuses: Vec<_> = p.items.iter().map(|c| c.status.clone().unwrap()).collect();
    assert_eq!(
        statuses,
        [
            ChatStatus::Closed,
            ChatStatus::New,
            ChatStatus::OnHold,
            ChatStatus::OnHold,
            ChatStatus::NoCommunication,
            ChatStatus::Pending,
            ChatStatus::Opened,
            ChatStatus::Empty,
            ChatStatus::Unknown("archived".into()),
            ChatStatus::Unknown("3".into()),
        ]
    );
    let ratings: Vec<_> = p.items.iter().map(|c| c.rating.clone()).collect();
    assert_eq!(
        ratings[..6],
        [
            Some(Rating::Great),
            Some(Rating::Unknown("perfect".into())),
            None,
            None,
            Some(Rating::Average),
            Some(Rating::Poor)
        ]
    );
    let [docs, model, onhold, on_hold, ..] = &p.items[..] else {
        panic!("ten chats")
    };
    assert_eq!(
        docs.agents.len(),
        1,
        "a single agent object is a list of one"
    );
    assert_eq!(docs.agents[0].id, 4180);
    assert_eq!(docs.closed_by, Some(ClosedBy::Customer));
    assert_eq!(docs.assignee.as_ref().unwrap().role, Some(AgentRole::Admin));
    assert_eq!(
        docs.department.as_ref().unwrap().name.as_deref(),
        Some("Test Department")
    );
    assert_eq!(
        docs.customer.as_ref().unwrap().user_id.as_deref(),
        Some("company_4180")
    );
    assert_eq!(model.closed_by, Some(ClosedBy::Unknown("string".into())));
    assert_eq!(model.created_at.unwrap().unix_seconds(), 1603885746);
    assert_eq!(model.extra["readByAgent"], true);
    assert_eq!(onhold.created_at.unwrap().subsec_millis(), 913);
    assert!(onhold.assignee.is_none() && onhold.department.is_none());
    assert_eq!((on_hold.created_at, on_hold.closed_at), (None, None));
    assert!(
        p.items[9].department.is_none(),
        "PHP's [] for no department"
    );
    round_trips(&p.items);
}

#[test]
fn messages_decode_from_the_older_messages_key_with_every_type_and_broadcast() {
    let p: Page<Message> = page(MESSAGES);
    assert_eq!((p.total, p.items.len()), (7, 7));
    let ids: Vec<u64> = p.items.iter().map(|m| m.id).collect();
    assert_eq!(ids, [17, 16, 15, 14, 13, 12, 11], "newest first, as sent");
    let types: Vec<_> = p
        .items
        .iter()
        .map(|m| m.message_type.clone().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            MessageType::Message,
            MessageType::Email,
            MessageType::KnowledgeBase,
            MessageType::Private,
            MessageType::Tech,
            MessageType::Unknown("sticker".into()),
            MessageType::Message,
        ]
    );
    let broadcasts: Vec<_> = p.items.iter().map(|m| m.broadcast_type.clone()).collect();
    assert_eq!(
        broadcasts,
        [
            None,
            Some(BroadcastType::Trigger),
            Some(BroadcastType::AutoChat),
            Some(BroadcastType::AutoEmail),
            Some(BroadcastType::ManualChat),
            Some(BroadcastType::ManualEmail),
            Some(BroadcastType::Unknown("push".into())),
        ]
    );
    let first = &p.items[0];
    assert_eq!(first.from, Some(Sender::Agent));
    assert_eq!(first.created_at.unwrap().subsec_millis(), 913);
    assert_eq!(first.agent.as_ref().unwrap().name.as_deref(), Some("Sarah"));
    assert_eq!(p.items[1].agent, None);
    assert_eq!(p.items[2].chat, Some(1568834), "a chat id sent as a string");
    assert_eq!(p.items[4].from, Some(Sender::Unknown("bot".into())));
    assert_eq!(p.items[5].updated_at.unwrap().subsec_millis(), 500);
    let written = serde_json::to_value(first).unwrap();
    assert_eq!(written["type"], "message");
    assert_eq!(written["createdAt"], "1594139170.913");
    round_trips(&p.items);
}

/// An older or newer error body, served as the answer to the first request.
async fn first_answer(status: u16, body: Value) -> (Simulator, helpcrunch_pager::Error) {
    let sim = Simulator::builder()
        .departments(10)
        .fault(1, Fault::Answer(status, body.to_string()))
        .start()
        .unwrap();
    let client = client_for(&sim, 600_000);
    let e = bounded("scan", client.departments().try_collect::<Vec<_>>())
        .await
        .unwrap_err();
    (sim, e)
}

#[tokio::test]
async fn the_older_invalid_token_shape_is_unauthorized() {
    let (_, e) = first_answer(
        401,
        json!({"errors": [{"code": "invalid_token", "message": "Invalid token"}]}),
    )
    .await;
    assert!(e.is_unauthorized(), "{e}");
    assert_eq!(e.api_errors()[0].code, "invalid_token");
    assert_eq!(e.api_errors()[0].message, "Invalid token");
}

#[tokio::test]
async fn the_older_rate_limit_shape_is_retried_like_the_newer() {
    let sim = Simulator::builder()
        .departments(10)
        .fault(
            1,
            Fault::Answer(
                429,
                json!({"errors": [{"code": "too_many_requests",
                                   "message": "You have exceeded your requests limit"}]})
                .to_string(),
            ),
        )
        .start()
        .unwrap();
    let client = client_for(&sim, 600_000);
    let got: Vec<Department> = bounded("scan", client.departments().try_collect())
        .await
        .unwrap();
    assert_eq!(got.len(), 10);
    assert_eq!(sim.stats().requests, 2);
}

#[tokio::test]
async fn not_found_shapes_and_field_errors_are_kept_typed() {
    let (_, e) = first_answer(
        404,
        json!({"errors": [{"code": "entity_not_found", "message": "Department not found"}]}),
    )
    .await;
    assert!(e.is_not_found());
    assert_eq!(e.api_errors()[0].code, "entity_not_found");

    let (sim, e) = first_answer(
        400,
        json!({"errors": [{"code": "invalid_request", "message": "Invalid request"},
                          {"code": "customer", "message": "This value should be of type numeric."},
                          {"code": "filter[0].field", "message": "This value should not be blank."}]}),
    )
    .await;
    assert_eq!(e.status(), Some(400));
    let codes: Vec<_> = e.api_errors().iter().map(|x| x.code.as_str()).collect();
    assert_eq!(codes, ["invalid_request", "customer", "filter[0].field"]);
    assert_eq!(sim.stats().requests, 1, "a 400 is not retried");
}

// ---- Random extra fields, nulls and odd values never fail a page ----

#[derive(Debug, Clone)]
enum Change {
    /// Set a field to `null`.
    Null,
    /// Drop a field.
    Remove,
    /// Give a field a random value of any type.
    Replace(Value),
}

/// A change to one record: which record, which field (and, where the field holds an object
/// or a list of them, whether to reach one level into it), and what.
#[derive(Debug, Clone)]
struct Edit {
    record: usize,
    field: usize,
    nested: Option<usize>,
    change: Change,
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let change = prop_oneof![
        Just(Change::Null),
        Just(Change::Remove),
        any_json().prop_map(Change::Replace),
    ];
    let edit = (
        any::<usize>(),
        any::<usize>(),
        prop::option::of(any::<usize>()),
        change,
    )
        .prop_map(|(record, field, nested, change)| Edit {
            record,
            field,
            nested,
            change,
        });
    prop::collection::vec(edit, 0..24)
}

fn extras() -> impl Strategy<Value = Vec<(usize, String, Value)>> {
    prop::collection::vec((any::<usize>(), "x_[a-z]{1,6}", any_json()), 0..8)
}

fn apply(target: &mut Map<String, Value>, key_pick: usize, change: &Change, skip_id: bool) {
    let keys: Vec<String> = target
        .keys()
        .filter(|k| !(skip_id && *k == "id"))
        .cloned()
        .collect();
    if keys.is_empty() {
        return;
    }
    let key = &keys[key_pick % keys.len()];
    match change {
        Change::Null => {
            target.insert(key.clone(), Value::Null);
        }
        Change::Remove => {
            target.remove(key);
        }
        Change::Replace(v) => {
            target.insert(key.clone(), v.clone());
        }
    }
}

/// Applies the edits and extras to a page's records: top-level `id`s are never touched;
/// everything else, including ids of nested objects, may be.
fn mutate(body: &str, edits: &[Edit], extras: &[(usize, String, Value)]) -> (String, Vec<u64>) {
    let mut page: Value = serde_json::from_str(body).unwrap();
    let key = if page.get("data").is_some() {
        "data"
    } else {
        "messages"
    };
    let records = page[key].as_array_mut().unwrap();
    let n = records.len();
    for edit in edits {
        let record = records[edit.record % n].as_object_mut().unwrap();
        match edit.nested {
            None => apply(record, edit.field, &edit.change, true),
            Some(inner) => {
                let keys: Vec<String> = record.keys().cloned().collect();
                let field = &keys[edit.field % keys.len()];
                let target = match record.get_mut(field) {
                    Some(Value::Object(obj)) => Some(obj),
                    Some(Value::Array(list)) => list.first_mut().and_then(Value::as_object_mut),
                    _ => None,
                };
                if let Some(obj) = target {
                    apply(obj, inner, &edit.change, false);
                }
            }
        }
    }
    for (i, name, value) in extras {
        records[i % n]
            .as_object_mut()
            .unwrap()
            .insert(name.clone(), value.clone());
    }
    let ids = records
        .iter()
        .map(|r| {
            r["id"]
                .as_u64()
                .unwrap_or_else(|| r["id"].as_str().unwrap().parse().unwrap())
        })
        .collect();
    (page.to_string(), ids)
}

fn survives<T: DeserializeOwned>(
    fixture: &str,
    edits: &[Edit],
    extras: &[(usize, String, Value)],
    id: fn(&T) -> u64,
    extra: fn(&T) -> Option<&Map<String, Value>>,
) -> Result<(), TestCaseError> {
    let (body, ids) = mutate(fixture, edits, extras);
    let page: Page<T> = Page::from_json(body.as_bytes(), 0, 100)
        .map_err(|e| TestCaseError::fail(format!("{e}\n{body}")))?;
    prop_assert_eq!(page.items.iter().map(id).collect::<Vec<_>>(), ids.clone());
    // The last value given to a name on a record is the one sent.
    let mut expected = std::collections::BTreeMap::new();
    for (i, name, value) in extras {
        expected.insert((i % ids.len(), name), value);
    }
    for ((i, name), value) in expected {
        if let Some(map) = extra(&page.items[i]) {
            prop_assert_eq!(map.get(name), Some(value), "extra field {} kept", name);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn odd_customers_never_fail_a_page(edits in edits(), extras in extras()) {
        survives::<Customer>(CUSTOMERS, &edits, &extras, |c| c.id, |c| Some(&c.extra))?;
    }

    #[test]
    fn odd_chats_never_fail_a_page(edits in edits(), extras in extras()) {
        survives::<Chat>(CHATS, &edits, &extras, |c| c.id, |c| Some(&c.extra))?;
    }

    #[test]
    fn odd_messages_never_fail_a_page(edits in edits(), extras in extras()) {
        survives::<Message>(MESSAGES, &edits, &extras, |m| m.id, |m| Some(&m.extra))?;
    }

    #[test]
    fn odd_agents_and_departments_never_fail_a_page(edits in edits(), extras in extras()) {
        survives::<Agent>(AGENTS, &edits, &extras, |a| a.id, |a| Some(&a.extra))?;
        survives::<Department>(DEPARTMENTS, &edits, &extras, |d| d.id, |d| Some(&d.extra))?;
    }
}
