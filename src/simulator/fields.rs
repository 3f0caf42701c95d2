//! The fields a search can filter on and a sort can order by, per kind: each field's type,
//! record `id`'s value of it, and the order a sort by it serves.

use super::chats::{
    chat_assignee, chat_closed_at, chat_created_at, chat_department, chat_rating, chat_status,
};
use super::records::{customer_email, customer_first_seen, last_activity, Kind};

/// A field's value, for search filters.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FieldValue {
    Int(i64),
    Text(String),
    Null,
}

/// The orders a collection can be read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// The order records were created in, which the API lists by default and which
    /// `chats.createdAt`, `chats.closedAt` and `customers.firstSeen` follow.
    Creation,
    /// The order of last activity, which `chats.lastMessageAt`, `chats.lastCustomerMessageAt`
    /// and `customers.lastSeen` follow: a touched record moves to its end.
    Activity,
}

/// The type a searchable field has, which a filter's value must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldType {
    Integer,
    Date,
    Text,
}

/// The searchable fields of `kind` (without the `chats.`/`customers.` prefix), their types and
/// the value of record `id` (touched with `stamp`, if it was). A field [`is_activity`] shows
/// the stamp of a touched record.
pub(crate) fn field(
    kind: Kind,
    name: &str,
    id: u64,
    stamp: Option<u64>,
) -> Option<(FieldType, FieldValue)> {
    use FieldType::*;
    let int = |v: Option<u64>| v.map_or(FieldValue::Null, |v| FieldValue::Int(v as i64));
    let text = |v: Option<String>| v.map_or(FieldValue::Null, FieldValue::Text);
    Some(match (kind, name) {
        (Kind::Customer, "id") => (Integer, int(Some(id))),
        (Kind::Customer, "email") => (Text, text(customer_email(id))),
        (Kind::Customer, "name") => (
            Text,
            text((!id.is_multiple_of(7)).then(|| format!("Customer {id}"))),
        ),
        (Kind::Customer, "userId") => (
            Text,
            text(id.is_multiple_of(3).then(|| format!("user_{id}"))),
        ),
        (Kind::Customer, "firstSeen") => (Date, int(customer_first_seen(id))),
        (Kind::Customer, "lastSeen") => (Date, int(stamp.or(last_activity(kind, id)))),
        (Kind::Chat, "id") => (Integer, int(Some(id))),
        (Kind::Chat, "status") => (Text, text(Some(chat_status(id).to_owned()))),
        (Kind::Chat, "rating") => (Text, text(chat_rating(id).map(str::to_owned))),
        (Kind::Chat, "createdAt") => (Date, int(Some(chat_created_at(id)))),
        (Kind::Chat, "closedAt") => (Date, int(chat_closed_at(id))),
        (Kind::Chat, "lastMessageAt" | "updatedAt") => {
            (Date, int(stamp.or(last_activity(kind, id))))
        }
        (Kind::Chat, "lastCustomerMessageAt") => (
            Date,
            int(stamp.or(last_activity(kind, id).map(|t| t - 100))),
        ),
        (Kind::Chat, "assignee") => (Integer, int(chat_assignee(id))),
        (Kind::Chat, "department") => (Integer, int(chat_department(id))),
        (Kind::Chat, "customer") => (Integer, int(Some(id * 7))),
        (Kind::Chat, "customer.email") => {
            (Text, text(Some(format!("customer{}@example.com", id * 7))))
        }
        _ => return None,
    })
}

/// Whether field `name` of `kind` is one of last activity: a touched record's shows its stamp,
/// an untouched one's is at most the collection's untouched ceiling
/// (`Collection::untouched_ceiling`).
pub(crate) fn is_activity(kind: Kind, name: &str) -> bool {
    matches!(
        (kind, name),
        (Kind::Customer, "lastSeen")
            | (
                Kind::Chat,
                "lastMessageAt" | "lastCustomerMessageAt" | "updatedAt"
            )
    )
}

/// The order a sort by field `name` of `kind` (without the prefix) serves; `None` for a field
/// it cannot be sorted by.
pub(crate) fn sort_order(kind: Kind, name: &str) -> Option<Order> {
    match (kind, name) {
        (Kind::Customer, "firstSeen") | (Kind::Chat, "createdAt" | "closedAt") => {
            Some(Order::Creation)
        }
        (Kind::Customer, "lastSeen") | (Kind::Chat, "lastMessageAt" | "lastCustomerMessageAt") => {
            Some(Order::Activity)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::records::render;
    use serde_json::Value;

    fn json(kind: Kind, id: u64) -> Value {
        let mut out = String::new();
        render(kind, id, None, &mut out).unwrap();
        serde_json::from_str(&out).unwrap()
    }

    #[test]
    fn sort_fields_follow_the_creation_or_the_activity_order() {
        assert_eq!(sort_order(Kind::Chat, "createdAt"), Some(Order::Creation));
        assert_eq!(sort_order(Kind::Chat, "closedAt"), Some(Order::Creation));
        assert_eq!(
            sort_order(Kind::Chat, "lastMessageAt"),
            Some(Order::Activity)
        );
        assert_eq!(
            sort_order(Kind::Chat, "lastCustomerMessageAt"),
            Some(Order::Activity)
        );
        assert_eq!(
            sort_order(Kind::Customer, "firstSeen"),
            Some(Order::Creation)
        );
        assert_eq!(
            sort_order(Kind::Customer, "lastSeen"),
            Some(Order::Activity)
        );
        assert_eq!(sort_order(Kind::Chat, "rating"), None);
        assert_eq!(sort_order(Kind::Department, "createdAt"), None);
    }

    #[test]
    fn a_touched_customers_last_seen_is_its_stamp() {
        let (_, seen) = field(Kind::Customer, "lastSeen", 5, Some(1_900_000_000)).unwrap();
        assert_eq!(seen, FieldValue::Int(1_900_000_000));
        let (_, seen) = field(Kind::Customer, "lastSeen", 5, None).unwrap();
        assert_eq!(
            seen,
            FieldValue::Int(last_activity(Kind::Customer, 5).unwrap() as i64)
        );
    }

    fn secs(v: &Value) -> Option<i64> {
        match v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.split('.').next().unwrap().parse().ok(),
            _ => None,
        }
    }

    #[test]
    fn a_chats_time_fields_agree_with_the_rendered_record_touched_or_not() {
        for stamp in [None, Some(1_900_000_000)] {
            for id in 1..=30 {
                let mut out = String::new();
                render(Kind::Chat, id, stamp, &mut out).unwrap();
                let c: Value = serde_json::from_str(&out).unwrap();
                for name in [
                    "createdAt",
                    "closedAt",
                    "lastMessageAt",
                    "lastCustomerMessageAt",
                    "updatedAt",
                ] {
                    let (ty, value) = field(Kind::Chat, name, id, stamp).unwrap();
                    assert_eq!(ty, FieldType::Date);
                    match secs(&c[name]) {
                        Some(t) => assert_eq!(value, FieldValue::Int(t), "{name} of {id}"),
                        None => assert_eq!(value, FieldValue::Null, "{name} of {id}"),
                    }
                }
            }
        }
    }

    #[test]
    fn only_the_fields_a_touch_stamps_are_of_activity() {
        assert!(is_activity(Kind::Chat, "updatedAt"));
        assert!(is_activity(Kind::Customer, "lastSeen"));
        assert!(!is_activity(Kind::Chat, "closedAt"));
        assert!(!is_activity(Kind::Customer, "firstSeen"));
    }

    #[test]
    fn search_fields_agree_with_the_rendered_records() {
        for id in 1..=40 {
            let c = json(Kind::Chat, id);
            let (_, status) = field(Kind::Chat, "status", id, None).unwrap();
            assert_eq!(
                status,
                FieldValue::Text(c["status"].as_str().unwrap().into())
            );
            let (_, assignee) = field(Kind::Chat, "assignee", id, None).unwrap();
            match c["assignee"]["id"].as_u64() {
                Some(a) => assert_eq!(assignee, FieldValue::Int(a as i64)),
                None => assert_eq!(assignee, FieldValue::Null),
            }
            let u = json(Kind::Customer, id);
            let (_, email) = field(Kind::Customer, "email", id, None).unwrap();
            match u["email"].as_str() {
                Some(e) => assert_eq!(email, FieldValue::Text(e.into())),
                None => assert_eq!(email, FieldValue::Null),
            }
        }
    }
}
