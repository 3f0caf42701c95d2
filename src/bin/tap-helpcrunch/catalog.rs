//! The catalog: a stream for each collection with its JSON Schema, derived from the crate's
//! models; `--discover` prints it, and `--catalog` (or `--properties`) says which streams and
//! fields a sync reads.

use helpcrunch_pager::{Agent, Chat, Collection, Customer, Department, Message};
use schemars::generate::SchemaSettings;
use schemars::JsonSchema;
use serde_json::{json, Map, Value};

use crate::Failure;

/// A stream of the tap: its collection and how a sync reads it.
pub(crate) struct Stream {
    pub(crate) collection: Collection,
    /// The field a sync follows changes by (none for a stream read whole every time).
    pub(crate) replication_key: Option<&'static str>,
}

/// The key of every stream's records.
pub(crate) const KEY: &str = "id";

/// Every stream, in the order a sync reads them (chats before their messages).
pub(crate) fn streams() -> impl Iterator<Item = Stream> {
    Collection::ALL.iter().map(|&collection| Stream {
        collection,
        replication_key: match collection {
            Collection::Chats => Some("updatedAt"),
            Collection::Customers => Some("lastSeen"),
            Collection::Messages => Some("createdAt"),
            _ => None,
        },
    })
}

impl Stream {
    pub(crate) fn name(&self) -> &'static str {
        self.collection.as_str()
    }

    /// The JSON Schema of the stream's records, derived from the crate's model of them: what
    /// the API sends, the lenient variants included (a timestamp as an integer, a string or a
    /// fractional string; an enum value the crate does not know; a field no model names).
    pub(crate) fn schema(&self) -> Value {
        match self.collection {
            Collection::Departments => schema_of::<Department>(),
            Collection::Agents => schema_of::<Agent>(),
            Collection::Customers => schema_of::<Customer>(),
            Collection::Chats => schema_of::<Chat>(),
            Collection::Messages => schema_of::<Message>(),
            other => unreachable!("no model for {other}"),
        }
    }

    fn replication_method(&self) -> &'static str {
        if self.collection.is_incremental() {
            "INCREMENTAL"
        } else {
            "FULL_TABLE"
        }
    }

    /// The stream's entry in the catalog, with the metadata Meltano and the Singer SDK read.
    fn entry(&self) -> Value {
        let schema = self.schema();
        let mut stream_metadata = json!({
            "inclusion": "available",
            "selected-by-default": true,
            "table-key-properties": [KEY],
            "forced-replication-method": self.replication_method(),
        });
        if let Some(key) = self.replication_key {
            stream_metadata["valid-replication-keys"] = json!([key]);
        }
        let mut metadata = vec![json!({"breadcrumb": [], "metadata": stream_metadata})];
        for name in properties(&schema).keys() {
            let automatic = name == KEY || Some(name.as_str()) == self.replication_key;
            metadata.push(json!({
                "breadcrumb": ["properties", name],
                "metadata": if automatic {
                    json!({"inclusion": "automatic"})
                } else {
                    json!({"inclusion": "available", "selected-by-default": true})
                },
            }));
        }
        let mut entry = json!({
            "tap_stream_id": self.name(),
            "stream": self.name(),
            "schema": schema,
            "key_properties": [KEY],
            "replication_method": self.replication_method(),
            "metadata": metadata,
        });
        if let Some(key) = self.replication_key {
            entry["replication_key"] = json!(key);
        }
        entry
    }
}

/// Draft 7, as Singer targets validate with, with every part inline (no `$ref`, which some
/// targets do not follow).
fn schema_of<T: JsonSchema>() -> Value {
    let mut schema = SchemaSettings::draft07()
        .with(|s| s.inline_subschemas = true)
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value();
    if let Some(root) = schema.as_object_mut() {
        // A record's schema inside a Singer message, not a document of its own.
        root.remove("$schema");
        root.remove("title");
    }
    tidy(&mut schema, true);
    schema
}

/// Keeps what a catalog's reader needs: the descriptions without the models' doc examples,
/// and `id` required of the record alone, as the models read it. A nested object whose id is
/// missing is read as absent, never a failed record, so its schema requires nothing.
fn tidy(schema: &mut Value, root: bool) {
    match schema {
        Value::Object(fields) => {
            if !root {
                fields.remove("required");
            }
            // A list the API may send as one object (`anyOf` a list, the object, null) is sent
            // as a list: a target types the column by the first branch it finds, and would
            // read the object into a list of its keys.
            let list = fields
                .get("anyOf")
                .and_then(Value::as_array)
                .and_then(|branches| {
                    branches
                        .iter()
                        .find(|b| b.get("type") == Some(&Value::from("array")))
                        .cloned()
                });
            if let Some(mut list) = list {
                fields.remove("anyOf");
                list["type"] = serde_json::json!(["array", "null"]);
                fields.extend(list.as_object().cloned().unwrap_or_default());
            }
            if let Some(Value::String(text)) = fields.get_mut("description") {
                if let Some(example) = text.find("\n```") {
                    text.truncate(example);
                }
                *text = text.trim().replace('\n', " ");
            }
            for (key, value) in fields.iter_mut() {
                // A property named `description` is a schema; the text above is not.
                if key != "description" {
                    tidy(value, false);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| tidy(v, false)),
        _ => {}
    }
}

fn properties(schema: &Value) -> Map<String, Value> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// What `--discover` prints.
pub(crate) fn discover() -> Value {
    json!({"streams": streams().map(|s| s.entry()).collect::<Vec<_>>()})
}

/// A stream a sync reads, and the fields of its records the catalog left out.
pub(crate) struct Selected {
    pub(crate) stream: Stream,
    /// Each a path of field names (`["customer", "email"]` for a chat's customer's email).
    pub(crate) left_out: Vec<Vec<String>>,
}

impl Selected {
    /// The stream's schema without the fields left out.
    pub(crate) fn schema(&self) -> Value {
        let mut schema = self.stream.schema();
        for path in &self.left_out {
            remove_from_schema(&mut schema, path);
        }
        schema
    }
}

/// Removes the field at `path` from an object schema (through lists' items).
fn remove_from_schema(schema: &mut Value, path: &[String]) {
    let Some((name, rest)) = path.split_first() else {
        return;
    };
    if let Some(items) = schema.get_mut("items") {
        return remove_from_schema(items, path);
    }
    let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    if rest.is_empty() {
        properties.remove(name);
    } else if let Some(field) = properties.get_mut(name) {
        remove_from_schema(field, rest);
    }
}

/// Removes the field at `path` from a record (from each element of a list on the way); whether
/// there was one.
pub(crate) fn remove_from_record(record: &mut Value, path: &[String]) -> bool {
    let Some((name, rest)) = path.split_first() else {
        return false;
    };
    match record {
        Value::Object(fields) if rest.is_empty() => fields.remove(name).is_some(),
        Value::Object(fields) => fields
            .get_mut(name)
            .is_some_and(|field| remove_from_record(field, rest)),
        Value::Array(items) => items.iter_mut().fold(false, |removed, item| {
            remove_from_record(item, path) | removed
        }),
        _ => false,
    }
}

/// Every stream, every field: a sync without a catalog.
pub(crate) fn everything() -> Vec<Selected> {
    streams()
        .map(|stream| Selected {
            stream,
            left_out: Vec::new(),
        })
        .collect()
}

/// A catalog entry's metadata, by breadcrumb.
struct Metadata<'c> {
    entries: Vec<(Vec<&'c str>, &'c Value)>,
    /// An older catalog's `selected`, on the stream itself.
    legacy: Option<bool>,
}

impl<'c> Metadata<'c> {
    fn of(entry: &'c Value) -> Self {
        let entries = entry
            .get("metadata")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|m| {
                let breadcrumb = m.get("breadcrumb")?.as_array()?;
                let breadcrumb = breadcrumb
                    .iter()
                    .map(Value::as_str)
                    .collect::<Option<_>>()?;
                Some((breadcrumb, m.get("metadata")?))
            })
            .collect();
        let legacy = entry.get("selected").and_then(Value::as_bool);
        Self { entries, legacy }
    }

    fn get(&self, breadcrumb: &[&str]) -> Option<&'c Value> {
        self.entries
            .iter()
            .find(|(b, _)| b.as_slice() == breadcrumb)
            .map(|(_, m)| *m)
    }

    /// Whether `breadcrumb` is selected, as the Singer SDK's `_breadcrumb_is_selected` says:
    /// everything where there is no metadata; nothing under what is not selected; an
    /// `unsupported` field never, an `automatic` one always; else `selected`, then
    /// `selected-by-default`, then as its parent is.
    fn is_selected(&self, breadcrumb: &[&str]) -> bool {
        if self.entries.is_empty() && self.legacy.is_none() {
            return true;
        }
        let parent = match breadcrumb.len() {
            0 => None,
            n => Some(self.is_selected(&breadcrumb[..n.saturating_sub(2)])),
        };
        if parent == Some(false) {
            return false;
        }
        let m = self.get(breadcrumb);
        let text = |key: &str| m.and_then(|m| m.get(key)).and_then(Value::as_str);
        let flag = |key: &str| m.and_then(|m| m.get(key)).and_then(Value::as_bool);
        match text("inclusion") {
            Some("unsupported") => return false,
            Some("automatic") => return true,
            _ => {}
        }
        flag("selected")
            .or_else(|| breadcrumb.is_empty().then_some(self.legacy).flatten())
            .or_else(|| flag("selected-by-default"))
            .unwrap_or(parent.unwrap_or(false))
    }
}

/// The streams and fields `catalog` selects, as the Singer SDK reads a selection (see
/// [`Metadata::is_selected`]), with an older catalog's `selected` on the stream read too; the
/// key and the replication key are always sent.
pub(crate) fn selection(catalog: &Value, name: &str) -> Result<Vec<Selected>, Failure> {
    let entries = catalog
        .get("streams")
        .and_then(Value::as_array)
        .ok_or_else(|| Failure::usage(format!("{name} is not a Singer catalog: no \"streams\"")))?;
    let mut chosen: Vec<Selected> = Vec::new();
    for entry in entries {
        let id = entry
            .get("tap_stream_id")
            .or_else(|| entry.get("stream"))
            .and_then(Value::as_str)
            .ok_or_else(|| Failure::usage(format!("{name}: a stream without a tap_stream_id")))?;
        let stream = streams().find(|s| s.name() == id).ok_or_else(|| {
            Failure::usage(format!(
                "{name} names a stream {id:?}, which tap-helpcrunch does not have (it has \
                 departments, agents, customers, chats and messages)"
            ))
        })?;
        let metadata = Metadata::of(entry);
        if !metadata.is_selected(&[]) {
            continue;
        }
        let kept = |field: &str| field == KEY || Some(field) == stream.replication_key;
        // The stream's own fields, and whatever deeper ones the metadata names.
        let mut breadcrumbs: Vec<Vec<&str>> = Vec::new();
        let fields = properties(&stream.schema());
        for field in fields.keys() {
            breadcrumbs.push(vec!["properties", field.as_str()]);
        }
        for (breadcrumb, _) in &metadata.entries {
            let path_of_fields = breadcrumb.len() >= 4
                && breadcrumb.len() % 2 == 0
                && breadcrumb.iter().step_by(2).all(|b| *b == "properties");
            if path_of_fields {
                breadcrumbs.push(breadcrumb.clone());
            }
        }
        let left_out = breadcrumbs
            .into_iter()
            .filter(|b| !(metadata.is_selected(b) || b.len() == 2 && kept(b[1])))
            .map(|b| {
                b.iter()
                    .skip(1)
                    .step_by(2)
                    .map(|s| (*s).to_owned())
                    .collect()
            })
            .collect();
        if chosen
            .iter()
            .any(|c| c.stream.collection == stream.collection)
        {
            return Err(Failure::usage(format!(
                "{name} names the stream {id:?} twice"
            )));
        }
        chosen.push(Selected { stream, left_out });
    }
    // In the order a sync reads them, whatever the catalog's.
    chosen.sort_by_key(|c| c.stream.collection);
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nested_field_deselected_is_left_out_of_the_schema_and_the_record() {
        let catalog = json!({"streams": [{"tap_stream_id": "chats", "metadata": [
            {"breadcrumb": [], "metadata": {"selected": true}},
            {"breadcrumb": ["properties", "customer", "properties", "email"],
             "metadata": {"selected": false}},
            {"breadcrumb": ["properties", "agents", "properties", "email"],
             "metadata": {"selected": false}},
            {"breadcrumb": ["properties", "department"], "metadata": {"selected": false}},
            {"breadcrumb": ["properties", "department", "properties", "name"],
             "metadata": {"selected": true}},
            {"breadcrumb": ["properties", "id"], "metadata": {"selected": false}},
        ]}]});
        let chosen = selection(&catalog, "the catalog").unwrap();
        let left_out = &chosen[0].left_out;
        assert!(left_out.contains(&vec!["customer".to_owned(), "email".to_owned()]));
        assert!(
            left_out.contains(&vec!["department".to_owned()]),
            "under a parent left out"
        );
        assert!(
            !left_out.iter().any(|p| p == &["id"]),
            "the key is always sent"
        );
        let schema = chosen[0].schema();
        assert!(schema["properties"]["customer"]["properties"]
            .get("email")
            .is_none());
        assert!(schema["properties"]["customer"]["properties"]
            .get("name")
            .is_some());
        assert!(schema["properties"]["agents"]["items"]["properties"]
            .get("email")
            .is_none());
        let mut chat = json!({"id": 1, "customer": {"id": 2, "email": "a@b"},
                              "agents": [{"id": 3, "email": "c@d"}], "department": {"id": 4}});
        for path in left_out {
            remove_from_record(&mut chat, path);
        }
        assert_eq!(
            chat,
            json!({"id": 1, "customer": {"id": 2}, "agents": [{"id": 3}]})
        );
    }

    #[test]
    fn a_discovered_catalog_selects_every_stream_and_field() {
        let chosen = selection(&discover(), "the catalog").unwrap();
        let names: Vec<_> = chosen.iter().map(|c| c.stream.name()).collect();
        assert_eq!(
            names,
            ["departments", "agents", "customers", "chats", "messages"]
        );
        assert!(chosen.iter().all(|c| c.left_out.is_empty()));
    }

    #[test]
    fn meltano_selections_leave_out_streams_and_fields_but_never_the_key() {
        let mut catalog = discover();
        for entry in catalog["streams"].as_array_mut().unwrap() {
            let name = entry["stream"].as_str().unwrap().to_owned();
            for m in entry["metadata"].as_array_mut().unwrap() {
                let breadcrumb = m["breadcrumb"].clone();
                let md = m["metadata"].as_object_mut().unwrap();
                if breadcrumb == json!([]) {
                    md.insert("selected".into(), json!(name == "chats"));
                } else if breadcrumb == json!(["properties", "notes"])
                    || breadcrumb == json!(["properties", "id"])
                {
                    md.insert("selected".into(), json!(false));
                }
            }
        }
        let chosen = selection(&catalog, "the catalog").unwrap();
        assert_eq!(chosen.len(), 1);
        assert_eq!(chosen[0].stream.name(), "chats");
        assert_eq!(chosen[0].left_out, [["notes"]]);
        assert!(chosen[0].schema()["properties"].get("notes").is_none());
        assert!(chosen[0].schema()["properties"].get("id").is_some());
    }

    #[test]
    fn an_older_catalog_selects_on_the_stream_and_an_unknown_stream_is_refused() {
        let old = json!({"streams": [{"tap_stream_id": "agents", "selected": true}]});
        let chosen = selection(&old, "the catalog").unwrap();
        assert_eq!(chosen[0].stream.name(), "agents");
        let unknown = json!({"streams": [{"tap_stream_id": "tickets", "selected": true}]});
        let e = selection(&unknown, "the catalog").err().unwrap();
        assert!(e.message().contains("tickets"), "{}", e.message());
        // No metadata at all: selected, as the Singer SDK reads it.
        let bare = json!({"streams": [{"tap_stream_id": "agents"}]});
        assert_eq!(selection(&bare, "the catalog").unwrap().len(), 1);
        let off = json!({"streams": [{"tap_stream_id": "agents", "metadata": [
            {"breadcrumb": [], "metadata": {"selected-by-default": false}}]}]});
        assert!(selection(&off, "the catalog").unwrap().is_empty());
    }
}
