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

use crate::paging::scan::{IdOf, KeyOf, RecordId, SortKey};

/// How to read the id of a `T` the crate knows: its models, and `serde_json::Value` and raw
/// JSON records (the `id` field, as the API sent it). `None` for any other type.
pub(crate) fn known_ids<T: 'static>() -> Option<IdOf<T>> {
    fn by<T: 'static, M: 'static>(id: fn(&M) -> Option<RecordId>) -> Option<IdOf<T>> {
        (TypeId::of::<T>() == TypeId::of::<M>()).then(|| -> IdOf<T> {
            Arc::new(move |record: &T| (record as &dyn Any).downcast_ref::<M>().and_then(id))
        })
    }
    by::<T, Department>(|r| Some(RecordId::Number(r.id)))
        .or_else(|| by::<T, Agent>(|r| Some(RecordId::Number(r.id))))
        .or_else(|| by::<T, Customer>(|r| Some(RecordId::Number(r.id))))
        .or_else(|| by::<T, Chat>(|r| Some(RecordId::Number(r.id))))
        .or_else(|| by::<T, Message>(|r| Some(RecordId::Number(r.id))))
        .or_else(|| by::<T, serde_json::Value>(value_id))
        .or_else(raw::ids::<T>)
}

/// The `id` of a JSON record, as the API sent it: a number and a string are different ids.
pub(crate) fn value_id(record: &serde_json::Value) -> Option<RecordId> {
    RecordId::from_json(record.get("id")?)
}

/// How to read the sort key `field` (such as `lastMessageAt`) of a `T` the crate knows: chats
/// and customers by their fields (or their `extra` map, for a field they do not name),
/// `serde_json::Value` and raw JSON records by the field of that name. `None` for any other
/// type.
pub(crate) fn known_key<T: 'static>(field: &str) -> Option<KeyOf<T>> {
    fn by<T: 'static, M: 'static>(
        key: impl Fn(&M) -> Option<Timestamp> + Send + Sync + 'static,
    ) -> Option<KeyOf<T>> {
        (TypeId::of::<T>() == TypeId::of::<M>()).then(|| -> KeyOf<T> {
            Arc::new(move |record: &T| {
                (record as &dyn Any)
                    .downcast_ref::<M>()
                    .and_then(&key)
                    .map(sort_key)
            })
        })
    }
    let name: Arc<str> = field.into();
    let (chat, customer, value) = (name.clone(), name.clone(), name.clone());
    by::<T, Chat>(move |c| match &*chat {
        "lastMessageAt" => c.last_message_at,
        "lastCustomerMessageAt" => c.last_customer_message_at,
        "closedAt" => c.closed_at,
        "createdAt" => c.created_at,
        other => c.extra.get(other).and_then(timestamp),
    })
    .or_else(|| {
        by::<T, Customer>(move |c| match &*customer {
            "lastSeen" => c.last_seen,
            "firstSeen" => c.first_seen,
            other => c.extra.get(other).and_then(timestamp),
        })
    })
    .or_else(|| by::<T, serde_json::Value>(move |v| value_key(v, &value)))
    .or_else(|| raw::key::<T>(name))
}

/// A time as the scan compares it, to the nanosecond.
pub(crate) fn sort_key(time: Timestamp) -> SortKey {
    SortKey::new(time.unix_seconds(), time.subsec_nanos())
}

/// The timestamp in `field` of a JSON record, read as leniently as the models read theirs.
pub(crate) fn value_key(record: &serde_json::Value, field: &str) -> Option<Timestamp> {
    timestamp(record.get(field)?)
}

fn timestamp(value: &serde_json::Value) -> Option<Timestamp> {
    Timestamp::deserialize(value).ok()
}

/// Raw JSON records (`Box<RawValue>`, feature `raw_value`): their ids and sort keys, read
/// from the JSON text.
#[cfg(feature = "raw_value")]
mod raw {
    use std::any::{Any, TypeId};
    use std::sync::Arc;

    use serde_json::value::RawValue;

    use crate::paging::scan::{IdOf, KeyOf, RecordId};

    fn is_raw<T: 'static>() -> bool {
        TypeId::of::<T>() == TypeId::of::<Box<RawValue>>()
    }

    fn parsed<T: 'static>(record: &T) -> Option<serde_json::Value> {
        let raw = (record as &dyn Any).downcast_ref::<Box<RawValue>>()?;
        serde_json::from_str(raw.get()).ok()
    }

    pub(super) fn ids<T: 'static>() -> Option<IdOf<T>> {
        #[derive(serde::Deserialize)]
        struct Id {
            id: Option<serde_json::Value>,
        }
        is_raw::<T>().then(|| -> IdOf<T> {
            Arc::new(|record: &T| {
                let raw = (record as &dyn Any).downcast_ref::<Box<RawValue>>()?;
                RecordId::from_json(&serde_json::from_str::<Id>(raw.get()).ok()?.id?)
            })
        })
    }

    pub(super) fn key<T: 'static>(field: Arc<str>) -> Option<KeyOf<T>> {
        is_raw::<T>().then(|| -> KeyOf<T> {
            Arc::new(move |record: &T| {
                super::value_key(&parsed(record)?, &field).map(super::sort_key)
            })
        })
    }
}

#[cfg(not(feature = "raw_value"))]
mod raw {
    use std::sync::Arc;

    use crate::paging::scan::{IdOf, KeyOf};

    pub(super) fn ids<T: 'static>() -> Option<IdOf<T>> {
        None
    }

    pub(super) fn key<T: 'static>(_: Arc<str>) -> Option<KeyOf<T>> {
        None
    }
}
