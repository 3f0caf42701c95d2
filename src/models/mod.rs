//! Typed HelpCrunch records. Decoding is lenient: a missing, `null` or odd optional field is
//! `None` (or empty), an enum value the crate does not know is kept as `Unknown(String)`, a
//! timestamp may be an integer or a (fractional) string, and fields a model does not name are
//! kept in its `extra` map, so that one odd record never fails a whole page. Only `id` is
//! required: a record without one fails its page.

mod agent;
mod chat;
mod customer;
mod department;
mod lenient;
mod message;
mod text_enum;
mod timestamp;

pub use agent::{Agent, AgentRole};
pub use chat::{Chat, ChatCustomer, ChatStatus, ClosedBy, Rating};
pub use customer::{Customer, Device, Location, Tag};
pub use department::{Department, DepartmentAgent, DepartmentRef};
pub use message::{BroadcastType, Message, MessageType, Sender};
pub use timestamp::Timestamp;

use std::any::{Any, TypeId};

use serde::Deserialize;
use std::sync::Arc;

use crate::scan::{IdOf, KeyOf};

/// How to read the id of a `T` the crate knows: its models, and `serde_json::Value` (the `id`
/// field, a number or a string of digits). `None` for any other type.
pub(crate) fn known_ids<T: 'static>() -> Option<IdOf<T>> {
    fn by<T: 'static, M: 'static>(id: fn(&M) -> Option<u64>) -> Option<IdOf<T>> {
        (TypeId::of::<T>() == TypeId::of::<M>()).then(|| -> IdOf<T> {
            Arc::new(move |record: &T| (record as &dyn Any).downcast_ref::<M>().and_then(id))
        })
    }
    by::<T, Department>(|r| Some(r.id))
        .or_else(|| by::<T, Agent>(|r| Some(r.id)))
        .or_else(|| by::<T, Customer>(|r| Some(r.id)))
        .or_else(|| by::<T, Chat>(|r| Some(r.id)))
        .or_else(|| by::<T, Message>(|r| Some(r.id)))
        .or_else(|| by::<T, serde_json::Value>(value_id))
}

/// The `id` of a JSON record: a non-negative integer or a string of digits.
pub(crate) fn value_id(record: &serde_json::Value) -> Option<u64> {
    match record.get("id")? {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// How to read the sort key `field` (such as `lastMessageAt`) of a `T` the crate knows: chats
/// and customers by their moving fields, and `serde_json::Value` by the field of that name.
/// `None` for any other type or field.
pub(crate) fn known_key<T: 'static>(field: &'static str) -> Option<KeyOf<T>> {
    fn by<T: 'static, M: 'static>(
        key: impl Fn(&M) -> Option<Timestamp> + Send + Sync + 'static,
    ) -> Option<KeyOf<T>> {
        (TypeId::of::<T>() == TypeId::of::<M>()).then(|| -> KeyOf<T> {
            Arc::new(move |record: &T| (record as &dyn Any).downcast_ref::<M>().and_then(&key))
        })
    }
    let chat: Option<fn(&Chat) -> Option<Timestamp>> = match field {
        "lastMessageAt" => Some(|c: &Chat| c.last_message_at),
        "lastCustomerMessageAt" => Some(|c: &Chat| c.last_customer_message_at),
        "closedAt" => Some(|c: &Chat| c.closed_at),
        _ => None,
    };
    chat.and_then(by::<T, Chat>)
        .or_else(|| {
            (field == "lastSeen")
                .then_some(())
                .and_then(|()| by::<T, Customer>(|c| c.last_seen))
        })
        .or_else(|| by::<T, serde_json::Value>(move |v| value_key(v, field)))
        .or_else(|| raw_key::<T>(field))
}

/// The sort key of raw JSON records, read from the field of that name.
#[cfg(feature = "raw_value")]
fn raw_key<T: 'static>(field: &'static str) -> Option<KeyOf<T>> {
    use serde_json::value::RawValue;
    (TypeId::of::<T>() == TypeId::of::<Box<RawValue>>()).then(|| -> KeyOf<T> {
        Arc::new(move |record: &T| {
            let raw = (record as &dyn Any).downcast_ref::<Box<RawValue>>()?;
            value_key(&serde_json::from_str(raw.get()).ok()?, field)
        })
    })
}

#[cfg(not(feature = "raw_value"))]
fn raw_key<T: 'static>(_: &'static str) -> Option<KeyOf<T>> {
    None
}

/// The timestamp in `field` of a JSON record, read as leniently as the models read theirs.
pub(crate) fn value_key(record: &serde_json::Value, field: &str) -> Option<Timestamp> {
    Timestamp::deserialize(record.get(field)?).ok()
}
