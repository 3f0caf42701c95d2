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
use std::sync::Arc;

use crate::scan::IdOf;

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
