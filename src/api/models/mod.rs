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

use crate::paging::scan::{IdOf, RecordId};

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

/// Raw JSON records (`Box<RawValue>`, feature `raw_value`): their ids, read from the JSON text.
#[cfg(feature = "raw_value")]
mod raw {
    use std::any::{Any, TypeId};
    use std::sync::Arc;

    use serde_json::value::RawValue;

    use crate::paging::scan::{IdOf, RecordId};

    pub(super) fn ids<T: 'static>() -> Option<IdOf<T>> {
        #[derive(serde::Deserialize)]
        struct Id {
            id: Option<serde_json::Value>,
        }
        (TypeId::of::<T>() == TypeId::of::<Box<RawValue>>()).then(|| -> IdOf<T> {
            Arc::new(|record: &T| {
                let raw = (record as &dyn Any).downcast_ref::<Box<RawValue>>()?;
                RecordId::from_json(&serde_json::from_str::<Id>(raw.get()).ok()?.id?)
            })
        })
    }
}

#[cfg(not(feature = "raw_value"))]
mod raw {
    use crate::paging::scan::IdOf;

    pub(super) fn ids<T: 'static>() -> Option<IdOf<T>> {
        None
    }
}
