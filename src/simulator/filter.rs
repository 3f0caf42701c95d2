//! One filter of a search body, `{"field", "operator", "value"}`: the field it names, which
//! must be one the search can filter on, the operators its type allows, a value of that type
//! (a whole number, or a string of one, for an integer or a date), and whether a record
//! matches. A record whose field is `null` matches no comparison.

use serde_json::Value;

use super::chats::CHAT_STATUSES;
use super::fields::{self, FieldType, FieldValue};
use super::records::Kind;

/// A field error as the API reports it: `("filter[0].field", "This value should not be blank.")`.
pub(crate) type FieldError = (String, &'static str);

/// The API's message for a field, operator or value that is not one it knows.
pub(crate) const NOT_A_CHOICE: &str = "The value you selected is not a valid choice.";

/// One filter the API would accept.
#[derive(Debug)]
pub(crate) struct Filter {
    field: String,
    operator: String,
    value: FieldValue,
}

impl Filter {
    /// Reads filter `i` of a search over `kind`, or the field error the API answers with.
    pub(crate) fn parse(kind: Kind, i: usize, raw: &Value) -> Result<Self, FieldError> {
        let at = |part: &str| format!("filter[{i}].{part}");
        let field = raw
            .get("field")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim();
        if field.is_empty() {
            return Err((at("field"), "This value should not be blank."));
        }
        let name = field.strip_prefix(prefix(kind)).unwrap_or("");
        let Some((ty, _)) = fields::field(kind, name, 1, None) else {
            return Err((at("field"), NOT_A_CHOICE));
        };
        let operator = raw.get("operator").and_then(Value::as_str).unwrap_or("");
        let allowed: &[&str] = match ty {
            FieldType::Text => &["=", "!=", ">", "<", ">=", "<=", "~", "!~"],
            FieldType::Integer | FieldType::Date => &["=", "!=", ">", "<", ">=", "<="],
        };
        if !allowed.contains(&operator) {
            return Err((at("operator"), NOT_A_CHOICE));
        }
        let value = match (ty, raw.get("value")) {
            (FieldType::Text, Some(Value::String(s))) if name == "status" => {
                FieldValue::Text(status_name(s))
            }
            (FieldType::Text, Some(Value::String(s))) => FieldValue::Text(s.clone()),
            (FieldType::Text, _) => {
                return Err((at("value"), "This value should be of type string."))
            }
            (_, Some(v)) => match as_int(v) {
                Some(n) => FieldValue::Int(n),
                None => return Err((at("value"), "This value should be of type numeric.")),
            },
            (_, None) => return Err((at("value"), "This value should not be blank.")),
        };
        Ok(Self {
            field: name.to_owned(),
            operator: operator.to_owned(),
            value,
        })
    }

    /// The least value this filter lets a matching record's field have, where it sets one (`>`,
    /// `>=` or `=` a number): `("id", 101)` for `id > 100`.
    pub(crate) fn floor(&self) -> Option<(&str, i64)> {
        match (&self.value, self.operator.as_str()) {
            (FieldValue::Int(v), ">") => Some((&self.field, v.saturating_add(1))),
            (FieldValue::Int(v), ">=" | "=") => Some((&self.field, *v)),
            _ => None,
        }
    }

    /// Whether record `id` of `kind` (touched with `stamp`, if it was) matches.
    pub(crate) fn matches(&self, kind: Kind, id: u64, stamp: Option<u64>) -> bool {
        use std::cmp::Ordering::*;
        let Some((_, actual)) = fields::field(kind, &self.field, id, stamp) else {
            return false;
        };
        let actual = match actual {
            FieldValue::Text(s) if self.field == "status" => FieldValue::Text(status_name(&s)),
            other => other,
        };
        let ordering = match (&actual, &self.value) {
            (FieldValue::Int(a), FieldValue::Int(b)) => a.cmp(b),
            (FieldValue::Text(a), FieldValue::Text(b)) => match self.operator.as_str() {
                "~" => return a.contains(b.as_str()),
                "!~" => return !a.contains(b.as_str()),
                _ => a.cmp(b),
            },
            // A missing value matches nothing, as in SQL.
            _ => return false,
        };
        match self.operator.as_str() {
            "=" => ordering == Equal,
            "!=" => ordering != Equal,
            ">" => ordering == Greater,
            "<" => ordering == Less,
            ">=" => ordering != Less,
            "<=" => ordering != Greater,
            _ => false,
        }
    }
}

/// The prefix of `kind`'s field names in a search: `chats.`, `customers.`.
pub(crate) fn prefix(kind: Kind) -> &'static str {
    match kind {
        Kind::Customer => "customers.",
        Kind::Chat => "chats.",
        _ => "\0",
    }
}

/// A status as one spelling: `on hold` is `onhold`, and a numeric code 1 to 7 is the status it
/// stands for in the docs' order (an assumption: the docs do not list the codes).
fn status_name(s: &str) -> String {
    if let Ok(code @ 1..=7) = s.trim().parse::<usize>() {
        return CHAT_STATUSES[code - 1].to_owned();
    }
    if s == "on hold" {
        "onhold".to_owned()
    } else {
        s.to_owned()
    }
}

/// A whole number, or a string of one.
pub(crate) fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}
