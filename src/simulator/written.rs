//! Records written through the API: created by a `POST`, changed by a `PUT` or `PATCH`. Each
//! is kept whole, as the JSON object it now is, while every other record is still rendered
//! from its id. A written record keeps its place in every order, and a search still filters it
//! by the fields its id gives it: the simulator serves the writes back, it does not index them.

use std::collections::hash_map::Entry;
use std::fmt;

use serde_json::{Map, Value};

use super::data::Collection;
use super::records::Kind;

impl Collection {
    /// Writes record `id` as JSON: as it was written, or as its id renders it.
    pub(crate) fn render(&self, id: u64, out: &mut String) -> fmt::Result {
        match self.written.get(&id) {
            Some(fields) => {
                out.push_str(&serde_json::to_string(fields).map_err(|_| fmt::Error)?);
                Ok(())
            }
            None => self.render_built(id, out),
        }
    }

    /// Record `id` as JSON, if the collection holds it.
    pub(crate) fn record(&self, id: u64) -> Option<String> {
        if !self.ids.contains(&id) {
            return None;
        }
        let mut out = String::new();
        self.render(id, &mut out)
            .expect("writing to a String cannot fail");
        Some(out)
    }

    /// Adds a record with `fields` (but a fresh id: the next after every id so far) where the
    /// collection's default order puts a new one: at the end, or at the front of a
    /// newest-first list (a chat's messages). Returns its id and its JSON.
    pub(crate) fn create(&mut self, fields: Map<String, Value>) -> (u64, String) {
        let id = self.next_id;
        self.next_id += 1;
        let mut record = Map::new();
        record.insert("id".into(), id.into());
        merge(&mut record, fields);
        self.written.insert(id, record);
        if self.kind == Kind::Message {
            self.ids.insert(0, id);
        } else {
            self.ids.push(id);
        }
        self.reordered(None);
        let json = self.record(id).expect("just added");
        (id, json)
    }

    /// Sets `fields` on record `id` (all but its id) and returns its JSON; `None` where the
    /// collection does not hold it.
    pub(crate) fn update(&mut self, id: u64, fields: Map<String, Value>) -> Option<String> {
        let current = self.record(id)?;
        let record = match self.written.entry(id) {
            Entry::Occupied(kept) => kept.into_mut(),
            Entry::Vacant(slot) => {
                slot.insert(serde_json::from_str(&current).expect("records are JSON objects"))
            }
        };
        merge(record, fields);
        self.record(id)
    }

    /// Removes record `id`; `false` where the collection does not hold it.
    pub(crate) fn remove(&mut self, id: u64) -> bool {
        let Some(at) = self.ids.iter().position(|&i| i == id) else {
            return false;
        };
        self.ids.remove(at);
        self.forget(id);
        true
    }

    /// Drops what is kept of record `id`, deleted from `ids`.
    pub(crate) fn forget(&mut self, id: u64) {
        self.written.remove(&id);
        self.born.remove(&id);
        self.newest_messages.remove(&id);
        self.reordered(Some(id));
    }
}

/// Sets every field of `fields` on `record` but its `id`.
fn merge(record: &mut Map<String, Value>, fields: Map<String, Value>) {
    record.extend(fields.into_iter().filter(|(name, _)| name != "id"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::data::TotalStyle;
    use serde_json::json;

    fn fields(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(map) => map,
            _ => panic!("not an object: {v}"),
        }
    }

    fn parse(json: &str) -> Value {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_created_record_takes_the_next_id_and_comes_last_in_the_default_order() {
        let mut c = Collection::new(Kind::Customer, TotalStyle::TopLevel, vec![1, 5, 3]);
        let (id, created) = c.create(fields(json!({"id": 99, "name": "Ada"})));
        assert_eq!(id, 6);
        assert_eq!(parse(&created), json!({"id": 6, "name": "Ada"}));
        assert_eq!(c.ids, [1, 5, 3, 6]);
        assert_eq!(c.record(6).as_deref(), Some(created.as_str()));
        let page = parse(&c.render_page(&c.ids, false, (3, 100), (4, TotalStyle::TopLevel)));
        assert_eq!(page["data"][0], json!({"id": 6, "name": "Ada"}));
    }

    #[test]
    fn a_created_message_comes_first_in_its_newest_first_list() {
        let mut c = Collection::new(
            Kind::Message,
            TotalStyle::TopLevel,
            vec![7_000_002, 7_000_001],
        );
        let (id, _) = c.create(Map::new());
        assert_eq!((id, c.ids[0]), (7_000_003, 7_000_003));
    }

    #[test]
    fn an_update_keeps_the_rendered_fields_it_does_not_name_and_never_the_id() {
        let mut c = Collection::new(Kind::Department, TotalStyle::Meta, (1..=3).collect());
        let before = parse(&c.record(2).unwrap());
        let after = parse(
            &c.update(2, fields(json!({"id": 9, "name": "Sales"})))
                .unwrap(),
        );
        assert_eq!(after["id"], 2);
        assert_eq!(after["name"], "Sales");
        assert_eq!(after["agents"], before["agents"]);
        let again = parse(&c.update(2, fields(json!({"extra": true}))).unwrap());
        assert_eq!(
            (again["name"].clone(), again["extra"].clone()),
            (json!("Sales"), json!(true))
        );
        assert_eq!(c.update(4, Map::new()), None);
    }

    #[test]
    fn a_removed_record_is_gone_with_what_was_kept_of_it() {
        let mut c = Collection::new(Kind::Chat, TotalStyle::Meta, (1..=3).collect());
        c.update(2, fields(json!({"status": "closed"})));
        c.touch(2, 1_750_000_000);
        assert!(c.remove(2));
        assert_eq!(c.ids, [1, 3]);
        assert_eq!((c.record(2), c.stamp(2)), (None, None));
        assert!(c.written.is_empty());
        assert!(!c.remove(2));
    }
}
