//! Decoding helpers shared by the models. Each reads what HelpCrunch has been seen to send for a
//! field and turns anything else into "absent", so that one odd field never fails a page.
//!
//! Used as `#[serde(default, deserialize_with = "lenient::…")]`. Only `id` is strict: a record
//! without a usable id cannot be told apart from another, so it fails its page loudly.

use std::fmt;

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::Value;

/// A record's id: an integer, or a string of digits. Anything else fails the record.
pub(crate) fn id<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    d.deserialize_any(UintVisitor)?
        .ok_or_else(|| de::Error::custom("an id must be a non-negative integer"))
}

/// A number that should be a non-negative integer: an integer, an integral float, or a string of
/// either. Anything else is `None`.
pub(crate) fn uint<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    d.deserialize_any(UintVisitor)
}

/// Text: a string, or a number written out. Anything else is `None`.
pub(crate) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_any(StringVisitor)
}

/// Text that is required by the model but may be missing or odd: empty where it is.
pub(crate) fn string_or_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(string(d)?.unwrap_or_default())
}

/// A flag: a boolean, `0`/`1`, or `"true"`/`"false"`/`"0"`/`"1"`. Anything else is `None`.
pub(crate) fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    d.deserialize_any(BoolVisitor)
}

/// An enum kept as text: whatever [`string`] reads, converted with `From<String>`, so a value
/// the crate does not know becomes the enum's `Unknown`.
pub(crate) fn text_enum<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: From<String>,
{
    Ok(string(d)?.map(T::from))
}

/// A nested object: `None` where it is `null`, not an object (PHP sends `[]` for an empty
/// one), or does not decode.
pub(crate) fn object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let value = Value::deserialize(d)?;
    Ok(decode_value(value, "object"))
}

/// A list of objects: the elements that decode, in order. A single object (the docs show
/// `"agents": {...}` in one place) is a list of one; anything else is empty.
pub(crate) fn list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|v| decode_value(v, "list element"))
            .collect(),
        v @ Value::Object(_) => decode_value(v, "list").into_iter().collect(),
        _ => Vec::new(),
    })
}

/// Any JSON but `null`, kept as it came (for free-form fields like `customData`).
pub(crate) fn raw<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Ok(Some(Value::deserialize(d)?).filter(|v| !v.is_null()))
}

fn decode_value<T: DeserializeOwned>(value: Value, what: &str) -> Option<T> {
    // Only an object is a record: serde would read a struct from an array by position too.
    if !value.is_object() {
        return None;
    }
    T::deserialize(value)
        .map_err(|e| tracing::debug!(error = %e, "an odd {what} was read as absent"))
        .ok()
}

/// Implements the visits every lenient visitor answers with `None`: compound values are
/// consumed and dropped.
macro_rules! absent_for_compounds {
    () => {
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            while map
                .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                .is_some()
            {}
            Ok(None)
        }
    };
}

pub(crate) use absent_for_compounds;

struct UintVisitor;

impl<'de> Visitor<'de> for UintVisitor {
    type Value = Option<u64>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a non-negative integer")
    }

    absent_for_compounds!();

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(u64::try_from(v).ok())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(integral(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let v = v.trim();
        Ok(v.parse::<u64>()
            .ok()
            .or_else(|| v.parse::<f64>().ok().and_then(integral)))
    }
}

fn integral(v: f64) -> Option<u64> {
    (v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= u64::MAX as f64).then_some(v as u64)
}

struct StringVisitor;

impl<'de> Visitor<'de> for StringVisitor {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("text")
    }

    absent_for_compounds!();

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
}

struct BoolVisitor;

impl<'de> Visitor<'de> for BoolVisitor {
    type Value = Option<bool>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a flag")
    }

    absent_for_compounds!();

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(match v {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        })
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(u64::try_from(v)
            .ok()
            .and_then(|v| self.visit_u64::<E>(v).ok().flatten()))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(match v.trim() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        })
    }
}

/// The schema of a list field: what [`list`] reads, a list of `T`, one `T` alone (as one doc
/// example shows), or `null`.
#[cfg(feature = "schemars")]
pub(crate) fn list_schema<T: schemars::JsonSchema>(
    generator: &mut schemars::SchemaGenerator,
) -> schemars::Schema {
    let item = generator.subschema_for::<T>();
    schemars::json_schema!({
        "anyOf": [
            {"type": "array", "items": item},
            item,
            {"type": "null"},
        ]
    })
}

/// The schema of a field read with a default for `null` (as [`string_or_empty`] does): `T`, or
/// `null`.
#[cfg(feature = "schemars")]
pub(crate) fn nullable_schema<T: schemars::JsonSchema>(
    generator: &mut schemars::SchemaGenerator,
) -> schemars::Schema {
    generator.subschema_for::<Option<T>>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Deserialize, Debug)]
    struct Probe {
        #[serde(default, deserialize_with = "uint")]
        n: Option<u64>,
        #[serde(default, deserialize_with = "string")]
        s: Option<String>,
        #[serde(default, deserialize_with = "boolean")]
        b: Option<bool>,
    }

    fn probe(v: Value) -> Probe {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn numbers_read_from_integers_integral_floats_and_digit_strings() {
        for (v, want) in [
            (json!(7), Some(7)),
            (json!("7"), Some(7)),
            (json!(" 7 "), Some(7)),
            (json!(7.0), Some(7)),
            (json!("7.0"), Some(7)),
            (json!(7.5), None),
            (json!(-1), None),
            (json!("seven"), None),
            (json!(true), None),
            (json!([1]), None),
            (json!({"n": 1}), None),
            (json!(null), None),
        ] {
            assert_eq!(probe(json!({ "n": v })).n, want, "{v}");
        }
    }

    #[test]
    fn text_reads_strings_and_numbers_and_drops_the_rest() {
        assert_eq!(probe(json!({"s": "a"})).s.as_deref(), Some("a"));
        assert_eq!(probe(json!({"s": 42})).s.as_deref(), Some("42"));
        assert_eq!(probe(json!({"s": {"x": [1, 2]}})).s, None);
        assert_eq!(probe(json!({})).s, None);
    }

    #[test]
    fn flags_read_booleans_and_their_usual_spellings() {
        for (v, want) in [
            (json!(true), Some(true)),
            (json!(0), Some(false)),
            (json!("1"), Some(true)),
            (json!("false"), Some(false)),
            (json!(2), None),
            (json!("yes"), None),
        ] {
            assert_eq!(probe(json!({ "b": v })).b, want, "{v}");
        }
    }
}
