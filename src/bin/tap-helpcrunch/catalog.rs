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
    pub(crate) left_out: Vec<String>,
}

impl Selected {
    /// The stream's schema without the fields left out.
    pub(crate) fn schema(&self) -> Value {
        let mut schema = self.stream.schema();
        if let Some(p) = schema.get_mut("properties").and_then(Value::as_object_mut) {
            for field in &self.left_out {
                p.remove(field);
            }
        }
        schema
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

/// The streams and fields `catalog` selects, as the Singer SDK reads a selection: a stream's
/// (or field's) `selected` in its metadata (or, in an older catalog, on the stream), else its
/// `selected-by-default`; a field that is `automatic` (the key, the replication key) always.
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
        let metadata = entry.get("metadata").and_then(Value::as_array);
        let of = |breadcrumb: &[&str]| {
            metadata
                .into_iter()
                .flatten()
                .find(|m| {
                    m.get("breadcrumb")
                        .and_then(Value::as_array)
                        .is_some_and(|b| {
                            b.len() == breadcrumb.len()
                                && b.iter()
                                    .zip(breadcrumb)
                                    .all(|(a, b)| a.as_str() == Some(*b))
                        })
                })
                .and_then(|m| m.get("metadata"))
        };
        let flag =
            |m: Option<&Value>, key: &str| m.and_then(|m| m.get(key)).and_then(Value::as_bool);
        let top = of(&[]);
        let selected = flag(top, "selected")
            .or_else(|| entry.get("selected").and_then(Value::as_bool))
            .or_else(|| flag(top, "selected-by-default"))
            .unwrap_or(false);
        if !selected {
            continue;
        }
        let left_out = properties(&stream.schema())
            .keys()
            .filter(|field| {
                let m = of(&["properties", field]);
                let automatic = field.as_str() == KEY
                    || Some(field.as_str()) == stream.replication_key
                    || m.and_then(|m| m.get("inclusion")).and_then(Value::as_str)
                        == Some("automatic");
                !automatic
                    && !flag(m, "selected")
                        .or_else(|| flag(m, "selected-by-default"))
                        .unwrap_or(true)
            })
            .cloned()
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
        assert_eq!(chosen[0].left_out, ["notes"]);
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
        let none = json!({"streams": [{"tap_stream_id": "agents"}]});
        assert!(selection(&none, "the catalog").unwrap().is_empty());
    }
}
