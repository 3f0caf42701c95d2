//! A message in a chat, from `GET /chats/{id}/messages`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::text_enum::text_enum;
use super::{lenient, timestamp, Agent, Timestamp};

text_enum! {
    /// Who wrote a message.
    Sender {
        /// `agent`.
        Agent = "agent",
        /// `customer`.
        Customer = "customer",
    }
}

text_enum! {
    /// What kind of message it is.
    MessageType {
        /// `message`: an ordinary message.
        Message = "message",
        /// `tech`: a system notice.
        Tech = "tech",
        /// `email`.
        Email = "email",
        /// `knowledgeBase`: a knowledge-base article.
        KnowledgeBase = "knowledgeBase",
        /// `private`: a note only agents see.
        Private = "private",
    }
}

text_enum! {
    /// The broadcast a message belongs to.
    BroadcastType {
        /// `trigger`.
        Trigger = "trigger",
        /// `auto chat`.
        AutoChat = "auto chat",
        /// `auto email`.
        AutoEmail = "auto email",
        /// `manual chat`.
        ManualChat = "manual chat",
        /// `manual email`.
        ManualEmail = "manual email",
    }
}

/// A message. The API lists a chat's messages newest first.
///
/// ```
/// use helpcrunch_pager::{Message, MessageType, Sender};
///
/// let m: Message = serde_json::from_str(r#"{
///     "id": 8793611, "chat": 1568834, "from": "agent", "type": "knowledgeBase",
///     "text": "Hello", "read": true, "createdAt": 1601477718, "agent": null,
///     "broadcastType": null
/// }"#).unwrap();
/// assert_eq!(m.from, Some(Sender::Agent));
/// assert_eq!(m.message_type, Some(MessageType::KnowledgeBase));
/// assert_eq!(m.created_at.unwrap().unix_seconds(), 1601477718);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Message {
    /// The message's id.
    #[serde(deserialize_with = "lenient::id")]
    pub id: u64,
    /// The chat it belongs to.
    #[serde(default, deserialize_with = "lenient::uint")]
    pub chat: Option<u64>,
    /// Who wrote it.
    #[serde(default, deserialize_with = "lenient::text_enum")]
    pub from: Option<Sender>,
    /// What kind it is (`type` in the API).
    #[serde(rename = "type", default, deserialize_with = "lenient::text_enum")]
    pub message_type: Option<MessageType>,
    /// Its text (HTML for some types).
    #[serde(default, deserialize_with = "lenient::string")]
    pub text: Option<String>,
    /// Whether it was read.
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub read: Option<bool>,
    /// Whether it was edited.
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub edited: Option<bool>,
    /// When it was sent.
    #[serde(default, deserialize_with = "timestamp::lenient")]
    pub created_at: Option<Timestamp>,
    /// When it was last changed.
    #[serde(default, deserialize_with = "timestamp::lenient")]
    pub updated_at: Option<Timestamp>,
    /// The agent who wrote it, for an agent's message.
    #[serde(default, deserialize_with = "lenient::object")]
    pub agent: Option<Agent>,
    /// The broadcast it belongs to, if any.
    #[serde(default, deserialize_with = "lenient::text_enum")]
    pub broadcast_type: Option<BroadcastType>,
    /// Every field this model does not name, as the API sent it.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
