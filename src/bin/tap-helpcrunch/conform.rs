//! A record put into the shape its stream's schema gives it: the forms the models read
//! leniently ("123" for a number, 0 or 1 for a flag, `[]` for an absent object, one object for
//! a list of one) written as the schema says, so that a target validates every record and
//! types its columns by the schema. A value no model reads where it stands (text where an
//! object belongs) is what the model reads it as: absent, `null`. Anything the schema does not
//! type (custom data, fields no model names) is sent as it came.

use serde_json::{Map, Number, Value};

/// Puts `value` into the shape of `schema`; whether anything changed.
pub(crate) fn conform(value: &mut Value, schema: &Value) -> bool {
    let Some(types) = types(schema) else {
        return false;
    };
    let fits = types.iter().any(|t| is(value, t));
    let mut changed = false;
    if !fits || (types.contains(&"array") && value.is_object()) {
        match coerced(value, &types) {
            Some(v) => *value = v,
            None if types.contains(&"null") => *value = Value::Null,
            // Not nullable (a record's id): left for the target to refuse, loudly.
            None => return false,
        }
        changed = true;
    }
    match value {
        Value::Object(fields) => changed |= conform_fields(fields, schema),
        Value::Array(items) => {
            if let Some(item) = schema.get("items") {
                let before = items.len();
                for v in items.iter_mut() {
                    changed |= conform(v, item);
                }
                // An element no model reads (the list reader skips it) is left out.
                let item_types = types_of(item);
                items.retain(|v| item_types.iter().any(|t| is(v, t)) || item_types.is_empty());
                changed |= items.len() != before;
            }
        }
        _ => {}
    }
    changed
}

/// The fields of a record (or of an object in it) put into the shape of their schemas.
pub(crate) fn conform_fields(fields: &mut Map<String, Value>, schema: &Value) -> bool {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return false;
    };
    let mut changed = false;
    for (name, field) in properties {
        if let Some(v) = fields.get_mut(name) {
            changed |= conform(v, field);
        }
    }
    changed
}

fn types(schema: &Value) -> Option<Vec<&str>> {
    let types = types_of(schema);
    (!types.is_empty()).then_some(types)
}

fn types_of(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn is(value: &Value, t: &str) -> bool {
    match t {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        _ => false,
    }
}

/// `value` in one of `types`, read as the models' lenient readers read it; `None` where they
/// read it as absent.
fn coerced(value: &Value, types: &[&str]) -> Option<Value> {
    let wants = |t: &str| types.contains(&t);
    match value {
        Value::Object(_) if wants("array") => Some(Value::Array(vec![value.clone()])),
        Value::String(s) => {
            let s = s.trim();
            let number = || {
                s.parse::<u64>()
                    .map(Value::from)
                    .or_else(|_| s.parse::<i64>().map(Value::from))
                    .ok()
                    .or_else(|| s.parse::<f64>().ok().and_then(integral))
            };
            let flag = || match s {
                "1" | "true" => Some(Value::Bool(true)),
                "0" | "false" => Some(Value::Bool(false)),
                _ => None,
            };
            wants("integer")
                .then(number)
                .flatten()
                .or_else(|| wants("boolean").then(flag).flatten())
        }
        Value::Number(n) => {
            let flag = || match n.as_u64() {
                Some(0) => Some(Value::Bool(false)),
                Some(1) => Some(Value::Bool(true)),
                _ => None,
            };
            wants("integer")
                .then(|| n.as_f64().and_then(integral))
                .flatten()
                .or_else(|| wants("boolean").then(flag).flatten())
                .or_else(|| wants("string").then(|| Value::String(n.to_string())))
        }
        _ => None,
    }
}

fn integral(v: f64) -> Option<Value> {
    (v.is_finite() && v.fract() == 0.0 && v.abs() < 9.0e15)
        .then(|| Number::from_f64(v).map(|_| Value::from(v as i64)))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "properties": {
            "id": {"type": "integer"},
            "chat": {"type": ["integer", "null"]},
            "read": {"type": ["boolean", "null"]},
            "name": {"type": ["string", "null"]},
            "createdAt": {"type": ["integer", "number", "string", "null"]},
            "agent": {"type": ["object", "null"], "properties": {"id": {"type": "integer"}}},
            "agents": {"type": ["array", "null"], "items": {"type": "object"}},
            "customData": {"description": "anything"},
        }})
    }

    fn conformed(mut record: Value) -> Value {
        conform(&mut record, &schema());
        record
    }

    #[test]
    fn the_lenient_forms_are_written_as_the_schema_says() {
        let odd = json!({"id": "7", "chat": "55", "read": 1, "name": 5551234,
                         "createdAt": "1594139170.913", "agent": [], "agents": {"id": 3},
                         "customData": [], "extra": "kept"});
        assert_eq!(
            conformed(odd),
            json!({"id": 7, "chat": 55, "read": true, "name": "5551234",
                   "createdAt": "1594139170.913", "agent": null, "agents": [{"id": 3}],
                   "customData": [], "extra": "kept"})
        );
        let absent = json!({"id": 7, "chat": "x", "read": "maybe", "createdAt": false,
                            "agent": {"id": "3"}, "agents": [{"id": 1}, "vip", 2]});
        assert_eq!(
            conformed(absent),
            json!({"id": 7, "chat": null, "read": null, "createdAt": null,
                   "agent": {"id": 3}, "agents": [{"id": 1}]})
        );
    }

    #[test]
    fn a_record_in_shape_is_left_as_it_is() {
        let mut fine = json!({"id": 7, "read": false, "agents": [], "createdAt": 1594139170});
        assert!(!conform(&mut fine, &schema()));
        let mut no_id = json!({"id": "seven"});
        conform(&mut no_id, &schema());
        assert_eq!(
            no_id,
            json!({"id": "seven"}),
            "left for the target to refuse"
        );
    }
}
