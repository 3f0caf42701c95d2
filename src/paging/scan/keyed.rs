//! A page decoded with what the scan knows each record by: its id, or where it has none, the
//! whole record. Pages whose records all have ids cost nothing more than their ids; a page
//! with records without one is read a second time, as JSON values, for their canonical text.

use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::paging::envelope::{self, DecodeError, Page};
use crate::paging::window::Window;

use super::ledger::{IdOf, Key};

/// A page and its records' keys, one each, in order.
#[derive(Debug)]
pub(crate) struct Keyed<T> {
    pub(crate) page: Page<T>,
    pub(crate) keys: Vec<Key>,
}

/// Decodes the page body for `window`, and each record's key by `ids`.
pub(crate) fn decode<T: DeserializeOwned>(
    body: &[u8],
    window: Window,
    ids: Option<&IdOf<T>>,
) -> Result<Keyed<T>, DecodeError> {
    let page = envelope::decode::<T>(body, window.offset, window.limit)?;
    let mut keys: Vec<Option<Key>> = match ids {
        Some(id_of) => page.items.iter().map(|r| id_of(r).map(Key::Id)).collect(),
        None => page.items.iter().map(|_| None).collect(),
    };
    if keys.iter().any(Option::is_none) {
        // Canonical (keys sorted, numbers as read): two reads of a record compare equal
        // however the server spaced or ordered its fields. JSON that `Value` refuses and the
        // page's own type took (a lone UTF-16 surrogate, a cut emoji) is known by its text as
        // sent, that record alone: a record is never a reason to refuse its page.
        let raw = envelope::decode::<Box<RawValue>>(body, window.offset, window.limit)?;
        for (key, record) in keys.iter_mut().zip(raw.items) {
            key.get_or_insert_with(|| {
                Key::Whole(match serde_json::from_str::<Value>(record.get()) {
                    Ok(value) => canonical(&value).into(),
                    Err(_) => record.get().into(),
                })
            });
        }
    }
    let keys = keys
        .into_iter()
        .map(|key| key.expect("each record has its id or its whole text"))
        .collect();
    Ok(Keyed { page, keys })
}

/// `value` as JSON text with every object's keys sorted and no spaces, whatever order the
/// `Value` map keeps (serde_json's `preserve_order`, enabled anywhere in a build, keeps the
/// order received).
fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write(value, &mut out);
    out
}

fn write(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut fields: Vec<(&String, &Value)> = map.iter().collect();
            fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (name, field)) in fields.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::from(name.as_str()).to_string());
                out.push(':');
                write(field, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::paging::scan::RecordId;

    fn window() -> Window {
        Window {
            offset: 0,
            limit: 10,
        }
    }

    #[test]
    fn records_without_ids_are_known_whole_and_canonically() {
        let body = br#"{"data": [{"id": 7}, {"b": 1, "a": [2, 3]}, {"id": "007"}], "total": 3}"#;
        let ids: IdOf<serde_json::Value> =
            Arc::new(|v: &serde_json::Value| RecordId::from_json(v.get("id")?));
        let keyed = decode::<serde_json::Value>(body, window(), Some(&ids)).unwrap();
        assert_eq!(
            keyed.keys,
            [
                Key::Id(RecordId::Number(7)),
                Key::Whole(r#"{"a":[2,3],"b":1}"#.into()),
                Key::Id(RecordId::from("007")),
            ]
        );
        let keyed = decode::<serde_json::Value>(body, window(), None).unwrap();
        assert_eq!(keyed.keys[0], Key::Whole(r#"{"id":7}"#.into()));
    }

    #[test]
    fn a_record_value_refuses_is_known_by_its_text() {
        // A cut emoji: a lone UTF-16 surrogate, which the caller's type may well accept.
        let body = br#"{"data": [{"text": "cut \ud83d"}, {"b": 1, "a": 2}], "total": 2}"#;
        let keyed = decode::<Box<RawValue>>(body, window(), None).unwrap();
        assert_eq!(
            keyed.keys,
            [
                Key::Whole(r#"{"text": "cut \ud83d"}"#.into()),
                Key::Whole(r#"{"a":2,"b":1}"#.into()),
            ],
            "the text as sent for that record alone; the page's others canonical"
        );
    }

    #[test]
    fn canonical_text_sorts_keys_at_every_depth() {
        let value: Value =
            serde_json::from_str(r#"{"b": [{"z": 1, "y": "\n"}], "a": null}"#).unwrap();
        assert_eq!(canonical(&value), r#"{"a":null,"b":[{"y":"\n","z":1}]}"#);
    }
}
