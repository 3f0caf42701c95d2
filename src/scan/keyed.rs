//! A page decoded with what the scan knows each record by: its id, or where it has none, the
//! whole record. Pages whose records all have ids cost nothing more than their ids; a page
//! with records without one is read a second time, as JSON values, for their canonical text.

use serde::de::DeserializeOwned;

use crate::envelope::{self, DecodeError, Page};
use crate::window::Window;

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
        // however the server spaced or ordered its fields.
        let values = envelope::decode::<serde_json::Value>(body, window.offset, window.limit)?;
        for (key, value) in keys.iter_mut().zip(values.items) {
            key.get_or_insert_with(|| Key::Whole(value.to_string().into()));
        }
    }
    let keys = keys
        .into_iter()
        .map(|key| key.expect("each record has its id or its whole text"))
        .collect();
    Ok(Keyed { page, keys })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::scan::RecordId;

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
}
