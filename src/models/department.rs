//! A department and the agents in it.

use serde::{Deserialize, Serialize};

use super::lenient::null_as_default;
use super::AgentRole;

/// A department, from `GET /departments`.
///
/// ```
/// use helpcrunch_pager::{AgentRole, Department};
///
/// let d: Department = serde_json::from_str(
///     r#"{"id": 542335, "name": "Sales",
///         "agents": [{"id": 7, "name": "Ann", "email": "ann@example.com", "role": "admin"}]}"#,
/// ).unwrap();
/// assert_eq!(d.id, 542335);
/// assert_eq!(d.agents[0].role, Some(AgentRole::Admin));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Department {
    /// The department's id.
    pub id: u64,
    /// Its name (empty where the API sent none).
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// The agents in it.
    #[serde(default, deserialize_with = "null_as_default")]
    pub agents: Vec<DepartmentAgent>,
}

/// An agent as listed inside a department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DepartmentAgent {
    /// The agent's id.
    pub id: u64,
    /// The agent's name.
    #[serde(default)]
    pub name: Option<String>,
    /// The agent's email.
    #[serde(default)]
    pub email: Option<String>,
    /// The agent's role.
    #[serde(default)]
    pub role: Option<AgentRole>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_missing_fields_and_unknown_extras_do_not_fail_a_department() {
        let d: Department =
            serde_json::from_str(r#"{"id": 1, "name": null, "agents": null, "color": "red"}"#)
                .unwrap();
        assert_eq!((d.id, d.name.as_str(), d.agents.len()), (1, "", 0));
        let d: Department =
            serde_json::from_str(r#"{"id": 2, "agents": [{"id": 3, "role": null}]}"#).unwrap();
        assert_eq!(d.agents[0].role, None);
        assert_eq!(d.agents[0].name, None);
    }
}
