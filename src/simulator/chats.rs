//! A chat and its messages, rendered from their ids, with the quirks the docs show (`onhold`
//! and `on hold`, statuses and ratings the crate does not know, `null` departments and
//! assignees, `agents` as one object instead of a list, message types and broadcasts it does not
//! know, a message with no time).
//!
//! Their times agree: a chat built with `m` messages has its newest created at the chat's last
//! activity (`lastMessageAt`, and `updatedAt`, the time of its last update), the older ones
//! evenly before it, no earlier than the chat's `createdAt` while there are at most 300 of them.
//! A chat that changes does so with a message: it is touched, and its activity fields and its
//! newest message show the time of the touch (see `account.rs`).

use std::fmt::{self, Write};

use super::forms::{agent, time, EPOCH};

/// The id space each chat's messages take: message `n` of chat `c` is `c * MESSAGE_ID_SPACE + n`.
pub(crate) const MESSAGE_ID_SPACE: u64 = 1_000_000;

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

/// The seconds between a chat's `createdAt` and its last activity, while untouched.
const ACTIVE_FOR: u64 = 300;

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

/// A chat's last activity while untouched: its `lastMessageAt` and `updatedAt`, and its
/// newest message's `createdAt`.
pub(crate) fn chat_last_activity(id: u64) -> u64 {
    chat_created_at(id) + ACTIVE_FOR
}

/// A closed chat's `closedAt`; `None` for a chat that is not closed.
pub(crate) fn chat_closed_at(id: u64) -> Option<u64> {
    (chat_status(id) == "closed").then(|| chat_created_at(id) + 600)
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

/// How many messages chat `id` is built with unless told otherwise: 1 to 5.
pub(crate) fn default_messages(id: u64) -> u64 {
    1 + id % 5
}

/// The id of the newest of the `count` messages chat `id` is built with; `None` for none.
pub(crate) fn newest_built(id: u64, count: u64) -> Option<u64> {
    (count > 0).then(|| id * MESSAGE_ID_SPACE + count)
}

/// Writes chat `id` as JSON. `stamp`, where it was touched, is its last activity instead of its
/// own (`lastMessageAt`, `lastCustomerMessageAt` and `updatedAt` all show it: a touch is a
/// customer's message); `newest` is its newest message, `None` where it has none.
pub(crate) fn chat(
    id: u64,
    stamp: Option<u64>,
    newest: Option<u64>,
    out: &mut String,
) -> fmt::Result {
    let status = chat_status(id);
    let created = chat_created_at(id);
    let last_message = stamp.unwrap_or(chat_last_activity(id));
    let last_customer_message = stamp.unwrap_or(last_message - 100);
    write!(out, r#"{{"id":{id},"status":"{status}","createdAt":"#)?;
    time(created, id, out)?;
    out.push_str(r#","lastMessageAt":"#);
    time(last_message, id + 2, out)?;
    out.push_str(r#","lastCustomerMessageAt":"#);
    time(last_customer_message, id + 1, out)?;
    // The same form as lastMessageAt: one time, read alike from either field.
    out.push_str(r#","updatedAt":"#);
    time(last_message, id + 2, out)?;
    match chat_closed_at(id) {
        Some(closed) => {
            out.push_str(r#","closedAt":"#);
            time(closed, id, out)?;
            let by = if id.is_multiple_of(2) {
                "customer"
            } else {
                "agent"
            };
            write!(out, r#","closedBy":"{by}""#)?;
        }
        None => out.push_str(r#","closedAt":null,"closedBy":null"#),
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
    match newest {
        Some(m) => write!(
            out,
            r#","lastMessageId":{m},"lastMessageText":"{}""#,
            message_text(m)
        )?,
        None => out.push_str(r#","lastMessageId":null,"lastMessageText":null"#),
    }
    write!(
        out,
        r#","applicationId":1,"lastCommunicatedAgentId":{},"createdWith":"customer_message","readByAgent":true}}"#,
        100 + id % 4
    )
}

/// The chat message `id` belongs to, and its number `n` in that chat, from 1 (the oldest).
pub(crate) fn message_parts(id: u64) -> (u64, u64) {
    (id / MESSAGE_ID_SPACE, id % MESSAGE_ID_SPACE)
}

fn message_text(id: u64) -> String {
    let (chat, n) = message_parts(id);
    format!("Message {n} in chat {chat}")
}

/// When message `id` was created: at `born`, where it was created while the server ran; else
/// by its number, its chat having been built with `built` messages, the newest at the chat's
/// last activity and the others evenly before it. `None` for every 17th but the newest, which
/// the API sends with no time.
pub(crate) fn message_created_at(id: u64, built: u64, born: Option<u64>) -> Option<u64> {
    if born.is_some() {
        return born;
    }
    let (chat, n) = message_parts(id);
    if n.is_multiple_of(17) && n != built {
        return None;
    }
    let spacing = (ACTIVE_FOR / built.max(1)).max(1);
    let older_by = built.saturating_sub(n) * spacing;
    Some(chat_last_activity(chat).saturating_sub(older_by))
}

/// Writes message `id` as JSON, its chat built with `built` messages: a message created while
/// the server ran (at `born`) is a customer's; the others vary by their number.
pub(crate) fn message(id: u64, built: u64, born: Option<u64>, out: &mut String) -> fmt::Result {
    let (chat, n) = message_parts(id);
    let from_agent = born.is_none() && n.is_multiple_of(2);
    let kind = match born {
        Some(_) => "message",
        None => [
            "message",
            "tech",
            "email",
            "knowledgeBase",
            "private",
            "widget",
        ][(n % 6) as usize],
    };
    write!(
        out,
        r#"{{"id":{id},"chat":{chat},"from":"{}","type":"{kind}","text":"{}","read":{},"edited":false"#,
        if from_agent { "agent" } else { "customer" },
        message_text(id),
        born.is_none() && !n.is_multiple_of(3)
    )?;
    let created = message_created_at(id, built, born);
    for field in ["createdAt", "updatedAt"] {
        write!(out, r#","{field}":"#)?;
        match created {
            Some(t) => time(t, n, out)?,
            None => out.push_str("null"),
        }
    }
    out.push_str(r#","agent":"#);
    if from_agent {
        agent(100 + n % 4, out)?;
    } else {
        out.push_str("null");
    }
    out.push_str(r#","broadcastType":"#);
    match (born, n % 7) {
        (None, 0) => out.push_str(r#""auto chat""#),
        (None, 3) => out.push_str(r#""manual email""#),
        _ => out.push_str("null"),
    }
    out.push('}');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn parse(out: &str) -> Value {
        serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}\n{out}"))
    }

    fn chat_json(id: u64, stamp: Option<u64>) -> Value {
        let mut out = String::new();
        chat(id, stamp, newest_built(id, default_messages(id)), &mut out).unwrap();
        parse(&out)
    }

    fn message_json(id: u64, built: u64, born: Option<u64>) -> Value {
        let mut out = String::new();
        message(id, built, born, &mut out).unwrap();
        parse(&out)
    }

    /// A timestamp in any of the three forms, to whole seconds.
    fn secs(v: &Value) -> u64 {
        v.as_u64().unwrap_or_else(|| {
            let s = v.as_str().unwrap();
            s.split('.').next().unwrap().parse().unwrap()
        })
    }

    #[test]
    fn a_chat_was_last_updated_at_its_last_message_in_the_same_form() {
        for id in 1..=30 {
            let c = chat_json(id, None);
            assert_eq!(c["updatedAt"], c["lastMessageAt"]);
            assert_eq!(secs(&c["lastMessageAt"]), chat_last_activity(id));
            assert_eq!(
                secs(&c["lastCustomerMessageAt"]) + 100,
                secs(&c["lastMessageAt"])
            );
        }
    }

    #[test]
    fn a_stamp_shows_in_the_activity_fields_and_nowhere_else() {
        let stamp = 1_900_000_000;
        for id in 1..=9 {
            let (before, after) = (chat_json(id, None), chat_json(id, Some(stamp)));
            for field in ["lastMessageAt", "lastCustomerMessageAt", "updatedAt"] {
                assert_eq!(secs(&after[field]), stamp, "{field}");
            }
            assert_eq!(after["createdAt"], before["createdAt"]);
            assert_eq!(after["closedAt"], before["closedAt"]);
        }
    }

    #[test]
    fn a_chat_names_its_newest_message_and_only_a_closed_one_has_closed_at() {
        let c = chat_json(7, None);
        assert_eq!(
            c["lastMessageId"], 7_000_003,
            "chat 7 has 1 + 7 % 5 messages"
        );
        assert_eq!(c["lastMessageText"], "Message 3 in chat 7");
        let mut out = String::new();
        chat(7, None, None, &mut out).unwrap();
        assert!(parse(&out)["lastMessageId"].is_null());
        for id in 1..=18 {
            let c = chat_json(id, None);
            assert_eq!(c["status"] == "closed", !c["closedAt"].is_null(), "{id}");
            assert_eq!(c["closedAt"].is_null(), chat_closed_at(id).is_none());
        }
    }

    #[test]
    fn messages_end_at_their_chats_last_activity_each_older_one_earlier() {
        for (chat, built) in [(1, 1), (7, 3), (9, 5), (42, 300), (43, 1_000)] {
            let times: Vec<Option<u64>> = (1..=built)
                .map(|n| message_created_at(chat * MESSAGE_ID_SPACE + n, built, None))
                .collect();
            assert_eq!(times.last(), Some(&Some(chat_last_activity(chat))));
            let known: Vec<u64> = times.iter().flatten().copied().collect();
            assert!(known.windows(2).all(|w| w[0] < w[1]), "{chat}: {known:?}");
            if built <= 300 {
                assert!(known[0] >= chat_created_at(chat), "{chat}: {}", known[0]);
            }
        }
    }

    #[test]
    fn a_message_created_while_the_server_ran_is_a_customers_at_its_time() {
        let m = message_json(7_000_004, 3, Some(1_900_000_000));
        assert_eq!(
            (secs(&m["createdAt"]), secs(&m["updatedAt"])),
            (1_900_000_000, 1_900_000_000)
        );
        assert_eq!(
            (m["from"].as_str(), m["chat"].as_u64()),
            (Some("customer"), Some(7))
        );
        assert!(m["agent"].is_null());
    }

    #[test]
    fn messages_carry_the_documented_quirks() {
        let all: Vec<Value> = (1..=60)
            .map(|n| message_json(42_000_000 + n, 60, None))
            .collect();
        assert!(all.iter().all(|m| m["chat"] == 42));
        assert!(all[16]["createdAt"].is_null(), "message 17 has no time");
        assert!(all.iter().any(|m| m["type"] == "widget"));
        assert!(all.iter().any(|m| m["broadcastType"] == "auto chat"));
        assert!(all[1]["agent"].is_object());
    }
}
