//! An agent and an agent's role.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::lenient;
use super::text_enum::text_enum;

text_enum! {
    /// An agent's role, as HelpCrunch spells it (`superviser` sic).
    ///
    /// ```
    /// use helpcrunch_pager::AgentRole;
    ///
    /// let roles: Vec<AgentRole> = serde_json::from_str(r#"["admin", "superviser", "owner"]"#).unwrap();
    /// assert_eq!(roles, [AgentRole::Admin, AgentRole::Supervisor, AgentRole::Unknown("owner".into())]);
    /// ```
    AgentRole {
        /// `agentChatOnly`: chats only.
        AgentChatOnly = "agentChatOnly",
        /// `agent`.
        Agent = "agent",
        /// `superviser`, as the API spells it (`supervisor` is read too).
        Supervisor = "superviser" | "supervisor",
        /// `admin`.
        Admin = "admin",
    }
}

/// An agent: from `GET /agents`, and as a chat's assignee, a chat's agents or a message's
/// author.
///
/// ```
/// use helpcrunch_pager::{Agent, AgentRole};
///
/// let a: Agent = serde_json::from_str(
///     r#"{"id": 4180, "name": "Sarah", "email": "sarah@example.com", "role": "superviser", "avatar": "a.png"}"#,
/// ).unwrap();
/// assert_eq!((a.id, a.role), (4180, Some(AgentRole::Supervisor)));
/// assert_eq!(a.extra["avatar"], "a.png");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Agent {
    /// The agent's id.
    #[serde(deserialize_with = "lenient::id")]
    pub id: u64,
    /// The agent's name.
    #[serde(default, deserialize_with = "lenient::string")]
    pub name: Option<String>,
    /// The agent's email.
    #[serde(default, deserialize_with = "lenient::string")]
    pub email: Option<String>,
    /// The agent's role.
    #[serde(default, deserialize_with = "lenient::text_enum")]
    pub role: Option<AgentRole>,
    /// Every field this model does not name, as the API sent it.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
