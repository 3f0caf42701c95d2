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
