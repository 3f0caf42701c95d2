//! [`RecordId`]: a record's id as the API sent it, the identity a scan follows records by.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A record's id as the API sent it: a JSON number or a JSON string, compared exactly.
///
/// A number and a string are different ids even where they read alike: `7`, `"7"` and `"007"`
/// are three records, not one. An id given through [`Paginator::ids`](crate::Paginator::ids)
/// is a number, the caller's own reading of the record.
///
/// It serializes as the JSON it came as, so a [`ScanPosition`](crate::ScanPosition) keeps its
/// anchor's spelling:
///
/// ```
/// use helpcrunch_pager::RecordId;
///
/// let ids: Vec<RecordId> = serde_json::from_str(r#"[7, "007", "c-12"]"#)?;
/// assert_eq!(ids, [RecordId::from(7), RecordId::from("007"), RecordId::from("c-12")]);
/// assert_ne!(RecordId::from(7), RecordId::from("7"));
/// assert_eq!(serde_json::to_string(&ids)?, r#"[7,"007","c-12"]"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum RecordId {
    /// An id sent as a non-negative integer.
    Number(u64),
    /// An id sent as a string, exactly as sent (`"007"` keeps its zeros).
    Text(String),
}

impl RecordId {
    /// An id as JSON holds it, kept as the API sent it: a non-negative integer or a string.
    /// `None` for any other value (a record whose `id` is such is followed as a record
    /// without one).
    ///
    /// ```
    /// use helpcrunch_pager::RecordId;
    /// use serde_json::json;
    ///
    /// assert_eq!(RecordId::from_json(&json!(7)), Some(RecordId::Number(7)));
    /// assert_eq!(RecordId::from_json(&json!("007")), Some(RecordId::Text("007".into())));
    /// assert_eq!(RecordId::from_json(&json!(null)), None);
    /// ```
    pub fn from_json(id: &serde_json::Value) -> Option<Self> {
        match id {
            serde_json::Value::Number(n) => n.as_u64().map(Self::Number),
            serde_json::Value::String(s) => Some(Self::Text(s.clone())),
            _ => None,
        }
    }
}

impl From<u64> for RecordId {
    fn from(id: u64) -> Self {
        Self::Number(id)
    }
}

impl From<String> for RecordId {
    fn from(id: String) -> Self {
        Self::Text(id)
    }
}

impl From<&str> for RecordId {
    fn from(id: &str) -> Self {
        Self::Text(id.to_owned())
    }
}

impl fmt::Display for RecordId {
    /// A number as its digits, a string in quotes: `7` and `"007"` read apart in messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(n) => write!(f, "{n}"),
            Self::Text(s) => write!(f, "{s:?}"),
        }
    }
}
