//! An agent's role.

use serde::{Deserialize, Serialize};

/// An agent's role, as HelpCrunch spells it (`superviser` sic).
///
/// ```
/// use helpcrunch_pager::AgentRole;
///
/// let roles: Vec<AgentRole> = serde_json::from_str(r#"["admin", "superviser", "owner"]"#).unwrap();
/// assert_eq!(roles, [AgentRole::Admin, AgentRole::Supervisor, AgentRole::Unknown("owner".into())]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
#[non_exhaustive]
pub enum AgentRole {
    /// `agentChatOnly`: chats only.
    AgentChatOnly,
    /// `agent`.
    Agent,
    /// `superviser`, as the API spells it.
    Supervisor,
    /// `admin`.
    Admin,
    /// A role this crate does not know yet, kept as sent.
    Unknown(String),
}

impl From<String> for AgentRole {
    fn from(s: String) -> Self {
        match s.as_str() {
            "agentChatOnly" => Self::AgentChatOnly,
            "agent" => Self::Agent,
            "superviser" | "supervisor" => Self::Supervisor,
            "admin" => Self::Admin,
            _ => Self::Unknown(s),
        }
    }
}

impl From<AgentRole> for String {
    fn from(role: AgentRole) -> Self {
        match role {
            AgentRole::AgentChatOnly => "agentChatOnly".into(),
            AgentRole::Agent => "agent".into(),
            AgentRole::Supervisor => "superviser".into(),
            AgentRole::Admin => "admin".into(),
            AgentRole::Unknown(s) => s,
        }
    }
}
