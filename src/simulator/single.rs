//! Requests for one record, as the API answers them: `GET`, `PUT`, `PATCH` and `DELETE` on
//! `/{collection}/{id}`, and `POST /{collection}` to create one.
//!
//! - `GET`: `200` with the record itself, a JSON object (no envelope).
//! - `POST`: a new record from the body's fields with the next id (one past the largest so
//!   far), placed where the collection's default order puts a new one, so a later scan reads
//!   it; `200` with the record.
//! - `PUT`, `PATCH`: the body's fields set on the record (all but `id`); `200` with the record.
//! - `DELETE`: the record removed; `204 No Content`, no body.
//! - A record the collection does not hold: `404` with the API's body for its kind
//!   (`entity_not_found`/"Department not found"; `not_found`/"Chat not found" for chats and
//!   messages). A body that is not a JSON object: `400` `invalid_request`.
//!
//! Records created are listed in [`Changes::inserted`], records deleted in
//! [`Changes::deleted`].

use hyper::Method;
use serde_json::{Map, Value};

use super::data::Collection;
use super::errors::errors_json;
use super::mutation::Changes;
use super::records::Kind;

/// The collection and the record (`None`: a create) a request for one record is for, or
/// `None` for any other request.
pub(crate) fn route<'p>(
    has: impl Fn(&str) -> bool,
    method: &Method,
    path: &'p str,
) -> Option<(&'p str, Option<u64>)> {
    if *method == Method::POST {
        return has(path).then_some((path, None));
    }
    if !matches!(
        *method,
        Method::GET | Method::PUT | Method::PATCH | Method::DELETE
    ) {
        return None;
    }
    let (key, id) = path.rsplit_once('/')?;
    let id = id.parse().ok()?;
    has(key).then_some((key, Some(id)))
}

/// The status and body answering `method` on record `id` of `c` (`None`: a create).
pub(crate) fn answer(
    c: &mut Collection,
    method: &Method,
    id: Option<u64>,
    body: &[u8],
    changes: &mut Changes,
) -> (u16, String) {
    let kind = c.kind;
    let found = |json: Option<String>| match json {
        Some(json) => (200, json),
        None => not_found(kind),
    };
    match (method, id) {
        (&Method::POST, None) => match object(body) {
            Some(fields) => {
                let (id, json) = c.create(fields);
                changes.inserted.push(id);
                (200, json)
            }
            None => invalid(),
        },
        (&Method::GET, Some(id)) => found(c.record(id)),
        (&Method::PUT | &Method::PATCH, Some(id)) => match object(body) {
            Some(fields) => found(c.update(id, fields)),
            None if c.record(id).is_none() => not_found(kind),
            None => invalid(),
        },
        (&Method::DELETE, Some(id)) if c.remove(id) => {
            changes.deleted.push(id);
            (204, String::new())
        }
        _ => not_found(kind),
    }
}

fn object(body: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(fields)) => Some(fields),
        _ => None,
    }
}

fn invalid() -> (u16, String) {
    let entries = [
        ("invalid_request", "Invalid request"),
        ("body", "This value should be a JSON object."),
    ];
    (400, errors_json(&entries))
}

/// The 404 the API answers for a record of `kind` it does not hold.
fn not_found(kind: Kind) -> (u16, String) {
    let entry = match kind {
        Kind::Department => ("entity_not_found", "Department not found"),
        Kind::Agent => ("entity_not_found", "Agent not found"),
        Kind::Customer => ("entity_not_found", "Customer not found"),
        Kind::Chat => ("not_found", "Chat not found"),
        Kind::Message => ("not_found", "Message not found"),
        Kind::Generic | Kind::Anonymous | Kind::Spelled => ("entity_not_found", "Entity not found"),
    };
    (404, errors_json(&[entry]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::data::TotalStyle;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn collections() -> BTreeMap<String, Collection> {
        let mut all = BTreeMap::new();
        for (key, kind) in [
            ("chats", Kind::Chat),
            ("chats/7/messages", Kind::Message),
            ("departments", Kind::Department),
        ] {
            let c = Collection::new(kind, TotalStyle::Meta, (1..=3).collect());
            all.insert(key.to_owned(), c);
        }
        all
    }

    #[test]
    fn routes_name_a_collection_and_a_numeric_id_or_a_create() {
        let all = collections();
        let route = |m: Method, p| route(|k: &str| all.contains_key(k), &m, p);
        assert_eq!(route(Method::GET, "chats/3"), Some(("chats", Some(3))));
        assert_eq!(
            route(Method::DELETE, "chats/7/messages/5"),
            Some(("chats/7/messages", Some(5)))
        );
        assert_eq!(
            route(Method::POST, "departments"),
            Some(("departments", None))
        );
        assert_eq!(route(Method::GET, "departments"), None, "a list");
        assert_eq!(route(Method::POST, "chats/search"), None, "a search");
        assert_eq!(route(Method::GET, "chats/7/messages"), None);
        assert_eq!(route(Method::GET, "chats/x"), None);
        assert_eq!(route(Method::GET, "agents/1"), None, "no such collection");
        assert_eq!(route(Method::HEAD, "chats/1"), None);
    }

    fn body(answer: &(u16, String)) -> Value {
        serde_json::from_str(&answer.1).unwrap()
    }

    #[test]
    fn a_missing_record_is_the_apis_404_for_its_kind() {
        let mut all = collections();
        let mut changes = Changes::default();
        let departments = all.get_mut("departments").unwrap();
        let missing = answer(departments, &Method::GET, Some(9), b"", &mut changes);
        assert_eq!(missing.0, 404);
        assert_eq!(
            body(&missing),
            json!({"errors": [{"code": "entity_not_found", "message": "Department not found"}]})
        );
        let chats = all.get_mut("chats").unwrap();
        let missing = answer(chats, &Method::DELETE, Some(9), b"", &mut changes);
        assert_eq!(body(&missing)["errors"][0]["message"], "Chat not found");
        let missing = answer(chats, &Method::PATCH, Some(9), b"[]", &mut changes);
        assert_eq!(missing.0, 404, "missing before malformed");
        assert_eq!(changes, Changes::default());
    }

    #[test]
    fn writes_answer_the_record_and_are_listed_in_the_changes() {
        let mut all = collections();
        let mut changes = Changes::default();
        let c = all.get_mut("departments").unwrap();
        let created = answer(c, &Method::POST, None, br#"{"name":"Sales"}"#, &mut changes);
        assert_eq!(
            (created.0, body(&created)),
            (200, json!({"id": 4, "name": "Sales"}))
        );
        let put = answer(
            c,
            &Method::PUT,
            Some(4),
            br#"{"name":"Support"}"#,
            &mut changes,
        );
        assert_eq!(body(&put)["name"], "Support");
        assert_eq!(
            answer(c, &Method::DELETE, Some(4), b"", &mut changes),
            (204, String::new())
        );
        assert_eq!(answer(c, &Method::GET, Some(4), b"", &mut changes).0, 404);
        assert_eq!((changes.inserted, changes.deleted), (vec![4], vec![4]));
    }

    #[test]
    fn a_body_that_is_not_a_json_object_is_a_400() {
        let mut all = collections();
        let mut changes = Changes::default();
        let c = all.get_mut("departments").unwrap();
        for bad in [&b"[1]"[..], b"not json", b""] {
            let refused = answer(c, &Method::POST, None, bad, &mut changes);
            assert_eq!(refused.0, 400);
            assert_eq!(body(&refused)["errors"][0]["code"], "invalid_request");
            assert_eq!(answer(c, &Method::PATCH, Some(1), bad, &mut changes).0, 400);
        }
        assert_eq!(c.ids, [1, 2, 3], "nothing created");
    }
}
