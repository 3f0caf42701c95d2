//! The simulated records, each a pure function of its id (and of what happened to it while the
//! server ran), in the shapes and with the quirks the docs show: timestamps as integers,
//! strings and fractional strings; roles the crate does not know; `null` names and emails. A
//! chat and its messages are rendered in `chats.rs`.
//!
//! Every time field grows with the id, so sorting by any of them is sorting by id, until a
//! record is touched: then its activity fields (`lastMessageAt`, `lastCustomerMessageAt`,
//! `updatedAt`, `lastSeen`) show the stamp the touch gave it instead, the server's time of the
//! touch. A record built with the simulator is timed from [`EPOCH`] by its id, years before any
//! server clock, so a touched record is later than every untouched one.

use std::fmt::{self, Write};

use super::chats::{self, chat_last_activity, default_messages, newest_built};
use super::forms::{agent, time, EPOCH};

/// What kind of record a collection holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Department,
    Agent,
    Customer,
    Chat,
    /// A chat's messages; ids are `chat * MESSAGE_ID_SPACE + n`, `n` from 1 (oldest).
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

/// Writes record `id` of `kind` as JSON; `stamp`, where the record was touched, is its last
/// activity instead of [`last_activity`]'s. A chat and a message are written as built, with
/// the messages [`default_messages`] gives a chat: the collection that holds one knows
/// better (see `written.rs`).
pub(crate) fn render(kind: Kind, id: u64, stamp: Option<u64>, out: &mut String) -> fmt::Result {
    match kind {
        Kind::Department => department(id, out),
        Kind::Agent => agent(id, out),
        Kind::Customer => customer(id, stamp.unwrap_or(customer_last_seen(id)), out),
        Kind::Chat => chats::chat(id, stamp, newest_built(id, default_messages(id)), out),
        Kind::Message => {
            let chat = chats::message_parts(id).0;
            chats::message(id, default_messages(chat), stamp, out)
        }
        Kind::Generic => write!(out, r#"{{"id":{id},"name":"Record {id}"}}"#),
        Kind::Anonymous => write!(out, r#"{{"name":"Record {id}"}}"#),
        Kind::Spelled if id > 100 => {
            write!(out, r#"{{"id":"{:03}","name":"Record {id}"}}"#, id - 100)
        }
        Kind::Spelled => write!(out, r#"{{"id":{id},"name":"Record {id}"}}"#),
    }
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

pub(crate) fn customer_first_seen(id: u64) -> Option<u64> {
    (!id.is_multiple_of(13)).then_some(EPOCH + id * 60)
}

pub(crate) fn customer_email(id: u64) -> Option<String> {
    (!id.is_multiple_of(11)).then(|| format!("customer{id}@example.com"))
}

fn customer_last_seen(id: u64) -> u64 {
    EPOCH + id * 60 + 3_600
}

/// The last activity of record `id` of `kind` while untouched: the value its activity fields
/// show (`lastMessageAt` and `updatedAt`, with `lastCustomerMessageAt` 100 seconds before
/// them, or `lastSeen`), growing with the id. `None` for kinds with no activity field.
pub(crate) fn last_activity(kind: Kind, id: u64) -> Option<u64> {
    match kind {
        Kind::Chat => Some(chat_last_activity(id)),
        Kind::Customer => Some(customer_last_seen(id)),
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
            let id = 42 * chats::MESSAGE_ID_SPACE + n;
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

    #[test]
    fn untouched_activity_grows_with_the_id() {
        for id in 1..=30 {
            let (c, next) = (json(Kind::Chat, id), json(Kind::Chat, id + 1));
            assert_eq!(
                secs(&c["lastMessageAt"]),
                last_activity(Kind::Chat, id).unwrap()
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
    fn a_customers_stamp_shows_in_its_last_seen_and_nowhere_else() {
        let stamp = 1_900_000_000;
        for id in 1..=9 {
            let before = json(Kind::Customer, id);
            let mut out = String::new();
            render(Kind::Customer, id, Some(stamp), &mut out).unwrap();
            let after: Value = serde_json::from_str(&out).unwrap();
            assert_eq!(secs(&after["lastSeen"]), stamp);
            assert_eq!(after["firstSeen"], before["firstSeen"]);
        }
    }

    #[test]
    fn every_untouched_activity_is_long_before_any_server_clock() {
        // Two million customers or a million chats still end before 2025.
        let year_2025 = 1_735_689_600;
        assert!(last_activity(Kind::Customer, 2_000_000).unwrap() < year_2025);
        assert!(last_activity(Kind::Chat, 1_000_000).unwrap() < year_2025);
    }
}
