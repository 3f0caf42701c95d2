//! A chat, from `GET /chats` and `POST /chats/search`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::text_enum::text_enum;
use super::{lenient, timestamp, Agent, DepartmentRef, Timestamp};

text_enum! {
    /// A chat's status. `on hold` (the status-update docs' spelling) reads as
    /// [`OnHold`](Self::OnHold); the numeric codes search filters use are kept as
    /// `Unknown("3")`, since the docs do not say which number is which.
    ///
    /// ```
    /// use helpcrunch_pager::ChatStatus;
    ///
    /// assert_eq!(ChatStatus::from("on hold".to_owned()), ChatStatus::OnHold);
    /// assert_eq!(ChatStatus::OnHold.as_str(), "onhold");
    /// assert_eq!(ChatStatus::from("archived".to_owned()), ChatStatus::Unknown("archived".into()));
    /// ```
    ChatStatus {
        /// `new`.
        New = "new",
        /// `opened`.
        Opened = "opened",
        /// `pending`.
        Pending = "pending",
        /// `onhold` (also `on hold`).
        OnHold = "onhold" | "on hold",
        /// `no communication`.
        NoCommunication = "no communication",
        /// `closed`.
        Closed = "closed",
        /// `empty`.
        Empty = "empty",
    }
}

text_enum! {
    /// How the customer rated a closed chat.
    Rating {
        /// `great`.
        Great = "great",
        /// `average`.
        Average = "average",
        /// `poor`.
        Poor = "poor",
    }
}

text_enum! {
    /// Who closed a chat.
    ClosedBy {
        /// `customer`.
        Customer = "customer",
        /// `agent`.
        Agent = "agent",
    }
}

/// A chat.
///
/// Timestamps may come as integers or (fractional) strings; `assignee` and `department` may be
/// `null`; `agents` may be a list or, as one doc example shows, a single object.
///
/// ```
/// use helpcrunch_pager::{Chat, ChatStatus};
///
/// let chat: Chat = serde_json::from_str(r#"{
///     "id": 1568834, "status": "on hold", "createdAt": "1594139170.913",
///     "assignee": null, "department": {"id": 233048, "name": "Support"},
///     "customer": {"id": 6930456, "name": "Mike"}, "agents": []
/// }"#).unwrap();
/// assert_eq!(chat.status, Some(ChatStatus::OnHold));
/// assert_eq!(chat.created_at.unwrap().subsec_millis(), 913);
/// assert!(chat.assignee.is_none());
/// assert_eq!(chat.department.unwrap().id, 233048);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Chat {
    /// The chat's id.
    #[serde(deserialize_with = "lenient::id")]
    pub id: u64,
    /// Its status.
    #[serde(default, deserialize_with = "lenient::text_enum")]
    pub status: Option<ChatStatus>,
    /// The customer's rating, once closed.
    #[serde(default, deserialize_with = "lenient::text_enum")]
    pub rating: Option<Rating>,
    /// Who closed it.
    #[serde(default, deserialize_with = "lenient::text_enum")]
    pub closed_by: Option<ClosedBy>,
    /// When it was created.
    #[serde(default, deserialize_with = "timestamp::lenient")]
    pub created_at: Option<Timestamp>,
    /// When it was last updated ("date and time of the last chat update"): a new message,
    /// a change of status, assignee or department. What an incremental sync of chats reads
    /// changes by.
    #[serde(default, deserialize_with = "timestamp::lenient")]
    pub updated_at: Option<Timestamp>,
    /// When it was closed.
    #[serde(default, deserialize_with = "timestamp::lenient")]
    pub closed_at: Option<Timestamp>,
    /// When its last message was sent.
    #[serde(default, deserialize_with = "timestamp::lenient")]
    pub last_message_at: Option<Timestamp>,
    /// When the customer last wrote.
    #[serde(default, deserialize_with = "timestamp::lenient")]
    pub last_customer_message_at: Option<Timestamp>,
    /// Until when it is snoozed.
    #[serde(default, deserialize_with = "timestamp::lenient")]
    pub snoozed_until: Option<Timestamp>,
    /// The customer in the chat.
    #[serde(default, deserialize_with = "lenient::object")]
    pub customer: Option<ChatCustomer>,
    /// The agent it is assigned to.
    #[serde(default, deserialize_with = "lenient::object")]
    pub assignee: Option<Agent>,
    /// The department it is assigned to.
    #[serde(default, deserialize_with = "lenient::object")]
    pub department: Option<DepartmentRef>,
    /// The agents who wrote in it.
    #[serde(default, deserialize_with = "lenient::list")]
    #[cfg_attr(
        feature = "schemars",
        schemars(schema_with = "lenient::list_schema::<Agent>")
    )]
    pub agents: Vec<Agent>,
    /// The id of its last message.
    #[serde(default, deserialize_with = "lenient::uint")]
    pub last_message_id: Option<u64>,
    /// The text of its last message.
    #[serde(default, deserialize_with = "lenient::string")]
    pub last_message_text: Option<String>,
    /// The application (widget) it came through.
    #[serde(default, deserialize_with = "lenient::uint")]
    pub application_id: Option<u64>,
    /// The agent who last wrote in it.
    #[serde(default, deserialize_with = "lenient::uint")]
    pub last_communicated_agent_id: Option<u64>,
    /// What started it: `public_api`, `customer_message`, ...
    #[serde(default, deserialize_with = "lenient::string")]
    pub created_with: Option<String>,
    /// Notes on the chat.
    #[serde(default, deserialize_with = "lenient::string")]
    pub notes: Option<String>,
    /// Every field this model does not name, as the API sent it.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The customer as a chat names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ChatCustomer {
    /// The customer's id.
    #[serde(deserialize_with = "lenient::id")]
    pub id: u64,
    /// Name.
    #[serde(default, deserialize_with = "lenient::string")]
    pub name: Option<String>,
    /// Email.
    #[serde(default, deserialize_with = "lenient::string")]
    pub email: Option<String>,
    /// The account's own id for the customer.
    #[serde(default, deserialize_with = "lenient::string")]
    pub user_id: Option<String>,
}
