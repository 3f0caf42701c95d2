//! The simulated records, each a pure function of its id, in the shapes and with the quirks the
//! docs show: timestamps as integers, strings and fractional strings; `onhold` and `on hold`;
//! roles, statuses and ratings the crate does not know; `null` departments and assignees;
//! `agents` as one object instead of a list.
//!
//! Every time field grows with the id, so sorting by any of them is sorting by id.

use std::fmt::{self, Write};

/// What kind of record a collection holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Department,
    Agent,
    Customer,
    Chat,
    /// A chat's messages; ids are `chat * MESSAGES_PER_CHAT_ID + n`, `n` from 1 (oldest).
    Message,
    /// `{"id": N, "name": "Record N"}`: a stand-in for any other list endpoint.
    Generic,
}

/// The id space each chat's messages take.
pub(crate) const MESSAGE_ID_SPACE: u64 = 1_000_000;

const EPOCH: u64 = 1_600_000_000;
const ROLES: [&str; 5] = ["agentChatOnly", "agent", "superviser", "admin", "owner"];
/// The statuses a search's numeric `chats.status` codes 1 to 7 stand for, in the docs' order.
pub(crate) const CHAT_STATUSES: [&str; 7] = [
    "new",
    "opened",
    "pending",
    "onhold",
    "no communication",
    "closed",
    "empty",
];

/// A field's value, for search filters.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FieldValue {
    Int(i64),
    Text(String),
    Null,
}

/// Writes record `id` of `kind` as JSON.
pub(crate) fn render(kind: Kind, id: u64, out: &mut String) -> fmt::Result {
    match kind {
        Kind::Department => department(id, out),
        Kind::Agent => agent(id, out),
        Kind::Customer => customer(id, out),
        Kind::Chat => chat(id, out),
        Kind::Message => message(id, out),
        Kind::Generic => write!(out, r#"{{"id":{id},"name":"Record {id}"}}"#),
    }
}

fn agent(id: u64, out: &mut String) -> fmt::Result {
    write!(
        out,
        r#"{{"id":{id},"name":"Agent {id}","email":"agent{id}@example.com","role":"{}"}}"#,
        ROLES[(id % 5) as usize]
    )
}

fn department(id: u64, out: &mut String) -> fmt::Result {
    write!(out, r#"{{"id":{id},"name":"Department {id}","agents":["#)?;
    for k in 0..id % 3 {
        if k > 0 {
            out.push(',');
        }
        agent(id * 10 + k, out)?;
    }
    out.push_str("]}");
    Ok(())
}

/// A timestamp in one of the three forms the API uses, chosen by `form`.
fn time(secs: u64, form: u64, out: &mut String) -> fmt::Result {
    match form % 3 {
        0 => write!(out, "{secs}"),
        1 => write!(out, r#""{secs}""#),
        _ => write!(out, r#""{secs}.{:03}""#, form % 1000),
    }
}

fn customer_first_seen(id: u64) -> Option<u64> {
    (id % 13 != 0).then_some(EPOCH + id * 60)
}

fn customer_email(id: u64) -> Option<String> {
    (id % 11 != 0).then(|| format!("customer{id}@example.com"))
}

fn customer(id: u64, out: &mut String) -> fmt::Result {
    write!(out, r#"{{"id":{id},"name":"#)?;
    if id % 7 == 0 {
        out.push_str("null");
    } else {
        write!(out, r#""Customer {id}""#)?;
    }
    match customer_email(id) {
        Some(email) => write!(out, r#","email":"{email}""#)?,
        None => out.push_str(r#","email":null"#),
    }
    if id % 3 == 0 {
        write!(out, r#","userId":"user_{id}""#)?;
    } else {
        out.push_str(r#","userId":null"#);
    }
    out.push_str(r#","company":null,"phone":null,"firstSeen":"#);
    match customer_first_seen(id) {
        Some(t) => time(t, id, out)?,
        None => out.push_str("null"),
    }
    out.push_str(r#","lastSeen":"#);
    time(EPOCH + id * 60 + 3_600, id + 1, out)?;
    write!(
        out,
        r#","location":{{"regionCode":"30","countryCode":"UA","city":"Kyiv"}},"device":{{"id":"{id}","ip":"192.0.2.{}","timezone":"Europe/Kyiv","platform":"web","userAgent":"Mozilla/5.0"}}"#,
        id % 250
    )?;
    write!(
        out,
        r#","unsubscribed":{},"blocked":false,"source":"widget","referer":null,"lastPage":"https://example.com/pricing","locale":"uk","createdFrom":"widget","integrationId":null,"notes":null"#,
        id % 2 == 0
    )?;
    out.push_str(r#","tags":["#);
    if id % 4 == 0 {
        out.push_str(r##"{"name":"Paid","color":"#ff0000"}"##);
    }
    write!(
        out,
        r#"],"customData":{{"plan":"{}","seats":{}}}}}"#,
        if id % 2 == 0 { "pro" } else { "free" },
        id % 10
    )
}

fn chat_status(id: u64) -> &'static str {
    [
        "new",
        "opened",
        "pending",
        "onhold",
        "on hold",
        "no communication",
        "closed",
        "empty",
        "archived",
    ][(id % 9) as usize]
}

fn chat_created_at(id: u64) -> u64 {
    EPOCH + id * 120
}

fn chat_assignee(id: u64) -> Option<u64> {
    (id % 5 != 0).then_some(100 + id % 4)
}

fn chat_department(id: u64) -> Option<u64> {
    (id % 6 != 0).then_some(1 + id % 3)
}

fn chat_rating(id: u64) -> Option<&'static str> {
    (chat_status(id) == "closed")
        .then_some(["great", "average", "poor", "perfect"][(id % 4) as usize])
}

fn chat(id: u64, out: &mut String) -> fmt::Result {
    let status = chat_status(id);
    let created = chat_created_at(id);
    write!(out, r#"{{"id":{id},"status":"{status}","createdAt":"#)?;
    time(created, id, out)?;
    out.push_str(r#","lastMessageAt":"#);
    time(created + 300, id + 2, out)?;
    out.push_str(r#","lastCustomerMessageAt":"#);
    time(created + 200, id + 1, out)?;
    if status == "closed" {
        out.push_str(r#","closedAt":"#);
        time(created + 600, id, out)?;
        write!(
            out,
            r#","closedBy":"{}""#,
            if id % 2 == 0 { "customer" } else { "agent" }
        )?;
    } else {
        out.push_str(r#","closedAt":null,"closedBy":null"#);
    }
    match chat_rating(id) {
        Some(r) => write!(out, r#","rating":"{r}""#)?,
        None => out.push_str(r#","rating":null"#),
    }
    out.push_str(r#","snoozedUntil":null"#);
    let customer = id * 7;
    write!(
        out,
        r#","customer":{{"id":{customer},"name":"Customer {customer}","email":"customer{customer}@example.com","userId":null}}"#
    )?;
    out.push_str(r#","assignee":"#);
    match chat_assignee(id) {
        Some(a) => agent(a, out)?,
        None => out.push_str("null"),
    }
    out.push_str(r#","department":"#);
    match chat_department(id) {
        Some(d) => write!(out, r#"{{"id":{d},"name":"Department {d}"}}"#)?,
        None => out.push_str("null"),
    }
    out.push_str(r#","agents":"#);
    if id % 10 == 0 {
        // One doc example shows a single agent object where a list belongs.
        agent(100 + id % 4, out)?;
    } else {
        out.push('[');
        for k in 0..id % 3 {
            if k > 0 {
                out.push(',');
            }
            agent(100 + (id + k) % 4, out)?;
        }
        out.push(']');
    }
    write!(
        out,
        r#","lastMessageId":{},"lastMessageText":"Message in chat {id}","applicationId":1,"lastCommunicatedAgentId":{},"createdWith":"customer_message","readByAgent":true}}"#,
        id * MESSAGE_ID_SPACE + 1,
        100 + id % 4
    )
}

fn message(id: u64, out: &mut String) -> fmt::Result {
    let (chat, n) = (id / MESSAGE_ID_SPACE, id % MESSAGE_ID_SPACE);
    let from_agent = n % 2 == 0;
    let kind = [
        "message",
        "tech",
        "email",
        "knowledgeBase",
        "private",
        "widget",
    ][(n % 6) as usize];
    write!(
        out,
        r#"{{"id":{id},"chat":{chat},"from":"{}","type":"{kind}","text":"Message {n} in chat {chat}","read":{},"edited":false,"createdAt":"#,
        if from_agent { "agent" } else { "customer" },
        n % 3 != 0
    )?;
    if n % 17 == 0 {
        out.push_str("null");
    } else {
        time(EPOCH + chat * 120 + n * 30, n, out)?;
    }
    out.push_str(r#","updatedAt":null,"agent":"#);
    if from_agent {
        agent(100 + n % 4, out)?;
    } else {
        out.push_str("null");
    }
    out.push_str(r#","broadcastType":"#);
    match n % 7 {
        0 => out.push_str(r#""auto chat""#),
        3 => out.push_str(r#""manual email""#),
        _ => out.push_str("null"),
    }
    out.push('}');
    Ok(())
}

/// The type a searchable field has, which a filter's value must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldType {
    Integer,
    Date,
    Text,
}

/// The searchable fields of `kind` (without the `chats.`/`customers.` prefix), their types and
/// the value of record `id`.
pub(crate) fn field(kind: Kind, name: &str, id: u64) -> Option<(FieldType, FieldValue)> {
    use FieldType::*;
    let int = |v: Option<u64>| v.map_or(FieldValue::Null, |v| FieldValue::Int(v as i64));
    let text = |v: Option<String>| v.map_or(FieldValue::Null, FieldValue::Text);
    Some(match (kind, name) {
        (Kind::Customer, "id") => (Integer, int(Some(id))),
        (Kind::Customer, "email") => (Text, text(customer_email(id))),
        (Kind::Customer, "name") => (Text, text((id % 7 != 0).then(|| format!("Customer {id}")))),
        (Kind::Customer, "userId") => (Text, text((id % 3 == 0).then(|| format!("user_{id}")))),
        (Kind::Customer, "firstSeen") => (Date, int(customer_first_seen(id))),
        (Kind::Customer, "lastSeen") => (Date, int(Some(EPOCH + id * 60 + 3_600))),
        (Kind::Chat, "id") => (Integer, int(Some(id))),
        (Kind::Chat, "status") => (Text, text(Some(chat_status(id).to_owned()))),
        (Kind::Chat, "rating") => (Text, text(chat_rating(id).map(str::to_owned))),
        (Kind::Chat, "createdAt") => (Date, int(Some(chat_created_at(id)))),
        (Kind::Chat, "assignee") => (Integer, int(chat_assignee(id))),
        (Kind::Chat, "department") => (Integer, int(chat_department(id))),
        (Kind::Chat, "customer") => (Integer, int(Some(id * 7))),
        (Kind::Chat, "customer.email") => {
            (Text, text(Some(format!("customer{}@example.com", id * 7))))
        }
        _ => return None,
    })
}

/// The fields `kind` can be sorted by (without the prefix).
pub(crate) fn sortable(kind: Kind, name: &str) -> bool {
    match kind {
        Kind::Customer => matches!(name, "firstSeen" | "lastSeen"),
        Kind::Chat => matches!(
            name,
            "createdAt" | "lastCustomerMessageAt" | "lastMessageAt" | "closedAt"
        ),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn json(kind: Kind, id: u64) -> Value {
        let mut out = String::new();
        render(kind, id, &mut out).unwrap();
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{kind:?} {id}: {e}\n{out}"))
    }

    #[test]
    fn every_record_of_every_kind_is_valid_json_with_its_id() {
        for kind in [
            Kind::Department,
            Kind::Agent,
            Kind::Customer,
            Kind::Chat,
            Kind::Generic,
        ] {
            for id in 1..=60 {
                assert_eq!(json(kind, id)["id"], id, "{kind:?}");
            }
        }
        for n in 1..=60 {
            let id = 42 * MESSAGE_ID_SPACE + n;
            let m = json(Kind::Message, id);
            assert_eq!((m["id"].as_u64(), m["chat"].as_u64()), (Some(id), Some(42)));
        }
    }

    #[test]
    fn records_carry_the_documented_quirks() {
        assert_eq!(json(Kind::Chat, 4)["status"], "on hold");
        assert_eq!(json(Kind::Chat, 3)["status"], "onhold");
        assert!(json(Kind::Chat, 5)["assignee"].is_null());
        assert!(json(Kind::Chat, 6)["department"].is_null());
        assert!(json(Kind::Chat, 10)["agents"].is_object());
        assert!(json(Kind::Chat, 2)["createdAt"].is_string());
        assert!(json(Kind::Chat, 3)["createdAt"].is_number());
        assert!(json(Kind::Customer, 7)["name"].is_null());
        assert_eq!(json(Kind::Customer, 4)["customData"]["plan"], "pro");
    }

    #[test]
    fn search_fields_agree_with_the_rendered_records() {
        for id in 1..=40 {
            let c = json(Kind::Chat, id);
            let (_, status) = field(Kind::Chat, "status", id).unwrap();
            assert_eq!(
                status,
                FieldValue::Text(c["status"].as_str().unwrap().into())
            );
            let (_, assignee) = field(Kind::Chat, "assignee", id).unwrap();
            match c["assignee"]["id"].as_u64() {
                Some(a) => assert_eq!(assignee, FieldValue::Int(a as i64)),
                None => assert_eq!(assignee, FieldValue::Null),
            }
            let u = json(Kind::Customer, id);
            let (_, email) = field(Kind::Customer, "email", id).unwrap();
            match u["email"].as_str() {
                Some(e) => assert_eq!(email, FieldValue::Text(e.into())),
                None => assert_eq!(email, FieldValue::Null),
            }
        }
    }
}
