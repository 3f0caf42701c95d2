//! A department and the agents in it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{lenient, Agent};

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
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Department {
    /// The department's id.
    #[serde(deserialize_with = "lenient::id")]
    pub id: u64,
    /// Its name (empty where the API sent none).
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    #[cfg_attr(
        feature = "schemars",
        schemars(schema_with = "lenient::nullable_schema::<String>")
    )]
    pub name: String,
    /// The agents in it.
    #[serde(default, deserialize_with = "lenient::list")]
    #[cfg_attr(
        feature = "schemars",
        schemars(schema_with = "lenient::list_schema::<DepartmentAgent>")
    )]
    pub agents: Vec<DepartmentAgent>,
    /// Every field this model does not name, as the API sent it.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An agent as listed inside a department: `{id, name, email, role}`, the same shape as
/// [`Agent`].
pub type DepartmentAgent = Agent;

/// A department as a chat names it: `{id, name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct DepartmentRef {
    /// The department's id.
    #[serde(deserialize_with = "lenient::id")]
    pub id: u64,
    /// Its name.
    #[serde(default, deserialize_with = "lenient::string")]
    pub name: Option<String>,
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
        assert_eq!(d.extra["color"], "red");
        let d: Department =
            serde_json::from_str(r#"{"id": "2", "agents": [{"id": 3, "role": null}]}"#).unwrap();
        assert_eq!(d.id, 2);
        assert_eq!(d.agents[0].role, None);
        assert_eq!(d.agents[0].name, None);
    }

    #[test]
    fn a_department_without_an_id_fails() {
        assert!(serde_json::from_str::<Department>(r#"{"name": "Sales"}"#).is_err());
        assert!(serde_json::from_str::<Department>(r#"{"id": null}"#).is_err());
    }
}
