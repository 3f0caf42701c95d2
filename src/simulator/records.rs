//! The simulated records, each a pure function of its id, in the shapes and with the quirks the
//! docs show: timestamps as integers, strings and fractional strings; `onhold` and `on hold`;
//! roles, statuses and ratings the crate does not know; `null` departments and assignees;
//! `agents` as one object instead of a list.
//!
//! Every time field grows with the id, so sorting by any of them is sorting by id, until a
//! record is touched: then its activity fields (`lastMessageAt`, `lastCustomerMessageAt`,
//! `lastSeen`) show the stamp the touch gave it instead.

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
    /// `{"name": "Record N"}`: an endpoint whose records carry no id.
    Anonymous,
    /// `{"id": N, "name": "Record N"}` up to 100, and past it `{"id": "00M", ...}` with
    /// `M = N - 100` zero-padded to three digits: ids sent as numbers and as strings that read
    /// alike (`7` and `"007"` are records 7 and 107).
    Spelled,
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

/// Writes record `id` of `kind` as JSON; `stamp`, where the record was touched, is its last
/// activity instead of [`last_activity`]'s.
pub(crate) fn render(kind: Kind, id: u64, stamp: Option<u64>, out: &mut String) -> fmt::Result {
    let active = stamp.or_else(|| last_activity(kind, id)).unwrap_or(0);
    match kind {
        Kind::Department => department(id, out),
        Kind::Agent => agent(id, out),
        Kind::Customer => customer(id, active, out),
        Kind::Chat => chat(id, active, out),
        Kind::Message => message(id, out),
        Kind::Generic => write!(out, r#"{{"id":{id},"name":"Record {id}"}}"#),
        Kind::Anonymous => write!(out, r#"{{"name":"Record {id}"}}"#),
        Kind::Spelled if id > 100 => {
            write!(out, r#"{{"id":"{:03}","name":"Record {id}"}}"#, id - 100)
        }
        Kind::Spelled => write!(out, r#"{{"id":{id},"name":"Record {id}"}}"#),
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

pub(crate) fn customer_first_seen(id: u64) -> Option<u64> {
    (!id.is_multiple_of(13)).then_some(EPOCH + id * 60)
}

pub(crate) fn customer_email(id: u64) -> Option<String> {
    (!id.is_multiple_of(11)).then(|| format!("customer{id}@example.com"))
}

/// The last activity of record `id` of `kind` while untouched: the value its activity fields
/// show (`lastMessageAt`, with `lastCustomerMessageAt` 100 seconds before it, or `lastSeen`),
/// growing with the id. `None` for kinds with no activity field.
pub(crate) fn last_activity(kind: Kind, id: u64) -> Option<u64> {
    match kind {
        Kind::Chat => Some(chat_created_at(id) + 300),
        Kind::Customer => Some(EPOCH + id * 60 + 3_600),
        _ => None,
    }
}

fn customer(id: u64, last_seen: u64, out: &mut String) -> fmt::Result {
    write!(out, r#"{{"id":{id},"name":"#)?;
    if id.is_multiple_of(7) {
        out.push_str("null");
    } else {
        write!(out, r#""Customer {id}""#)?;
    }
    match customer_email(id) {
        Some(email) => write!(out, r#","email":"{email}""#)?,
        None => out.push_str(r#","email":null"#),
    }
    if id.is_multiple_of(3) {
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
    time(last_seen, id + 1, out)?;
    write!(
        out,
        r#","location":{{"regionCode":"30","countryCode":"UA","city":"Kyiv"}},"device":{{"id":"{id}","ip":"192.0.2.{}","timezone":"Europe/Kyiv","platform":"web","userAgent":"Mozilla/5.0"}}"#,
        id % 250
    )?;
    write!(
        out,
        r#","unsubscribed":{},"blocked":false,"source":"widget","referer":null,"lastPage":"https://example.com/pricing","locale":"uk","createdFrom":"widget","integrationId":null,"notes":null"#,
        id.is_multiple_of(2)
    )?;
    out.push_str(r#","tags":["#);
    if id.is_multiple_of(4) {
        out.push_str(r##"{"name":"Paid","color":"#ff0000"}"##);
    }
    write!(
        out,
        r#"],"customData":{{"plan":"{}","seats":{}}}}}"#,
        if id.is_multiple_of(2) { "pro" } else { "free" },
        id % 10
    )
}

pub(crate) fn chat_status(id: u64) -> &'static str {
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

pub(crate) fn chat_created_at(id: u64) -> u64 {
    EPOCH + id * 120
}

pub(crate) fn chat_assignee(id: u64) -> Option<u64> {
    (!id.is_multiple_of(5)).then_some(100 + id % 4)
}

pub(crate) fn chat_department(id: u64) -> Option<u64> {
    (!id.is_multiple_of(6)).then_some(1 + id % 3)
}

pub(crate) fn chat_rating(id: u64) -> Option<&'static str> {
    (chat_status(id) == "closed")
        .then_some(["great", "average", "poor", "perfect"][(id % 4) as usize])
}

fn chat(id: u64, last_message: u64, out: &mut String) -> fmt::Result {
    let status = chat_status(id);
    let created = chat_created_at(id);
    write!(out, r#"{{"id":{id},"status":"{status}","createdAt":"#)?;
    time(created, id, out)?;
    out.push_str(r#","lastMessageAt":"#);
    time(last_message, id + 2, out)?;
    out.push_str(r#","lastCustomerMessageAt":"#);
    time(last_message - 100, id + 1, out)?;
    if status == "closed" {
        out.push_str(r#","closedAt":"#);
        time(created + 600, id, out)?;
        write!(
            out,
            r#","closedBy":"{}""#,
            if id.is_multiple_of(2) {
                "customer"
            } else {
                "agent"
            }
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
    if id.is_multiple_of(10) {
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
    let from_agent = n.is_multiple_of(2);
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
        !n.is_multiple_of(3)
    )?;
    if n.is_multiple_of(17) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn json(kind: Kind, id: u64) -> Value {
        let mut out = String::new();
        render(kind, id, None, &mut out).unwrap();
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
        assert_eq!(
            json(Kind::Anonymous, 7),
            serde_json::json!({"name": "Record 7"})
        );
        assert_eq!(json(Kind::Spelled, 7)["id"], 7);
        assert_eq!(json(Kind::Spelled, 107)["id"], "007");
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

    /// A timestamp in any of the three forms, to whole seconds.
    fn secs(v: &Value) -> u64 {
        v.as_u64().unwrap_or_else(|| {
            let s = v.as_str().unwrap();
            s.split('.').next().unwrap().parse().unwrap()
        })
    }

    fn stamped(kind: Kind, id: u64, stamp: u64) -> Value {
        let mut out = String::new();
        render(kind, id, Some(stamp), &mut out).unwrap();
        serde_json::from_str(&out).unwrap()
    }

    #[test]
    fn untouched_activity_grows_with_the_id() {
        for id in 1..=30 {
            let (c, next) = (json(Kind::Chat, id), json(Kind::Chat, id + 1));
            assert_eq!(
                secs(&c["lastMessageAt"]),
                last_activity(Kind::Chat, id).unwrap()
            );
            assert_eq!(
                secs(&c["lastCustomerMessageAt"]) + 100,
                secs(&c["lastMessageAt"])
            );
            assert!(secs(&next["lastMessageAt"]) > secs(&c["lastMessageAt"]));
            let u = json(Kind::Customer, id);
            assert_eq!(
                secs(&u["lastSeen"]),
                last_activity(Kind::Customer, id).unwrap()
            );
        }
        assert_eq!(last_activity(Kind::Department, 1), None);
    }

    #[test]
    fn a_stamp_shows_in_the_activity_fields_and_nowhere_else() {
        let stamp = 1_900_000_000;
        for id in 1..=9 {
            let (before, after) = (json(Kind::Chat, id), stamped(Kind::Chat, id, stamp));
            assert_eq!(secs(&after["lastMessageAt"]), stamp);
            assert_eq!(secs(&after["lastCustomerMessageAt"]), stamp - 100);
            assert_eq!(after["createdAt"], before["createdAt"]);
            assert_eq!(after["closedAt"], before["closedAt"]);
            let (before, after) = (json(Kind::Customer, id), stamped(Kind::Customer, id, stamp));
            assert_eq!(secs(&after["lastSeen"]), stamp);
            assert_eq!(after["firstSeen"], before["firstSeen"]);
        }
    }
}
