//! [`SortKey`]: a record's place in an order that moves, as the scan compares it and keeps it.
//! The scan knows no field: the api layer reads one from a record and makes it a `SortKey`.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// The value of a record's sort key in an order that moves: a time, in whole seconds since
/// the UNIX epoch and the nanoseconds past them, ordered as the server orders the list.
///
/// A [`ScanPosition`](crate::ScanPosition) keeps the newest key of a list's head, written as
/// the API writes a time (an integer, or a string with the fraction: `"1700000000.25"`), so a
/// position saved by an earlier version reads back the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct SortKey {
    secs: i64,
    nanos: u32,
}

impl SortKey {
    /// The key at `secs` seconds and `nanos` nanoseconds (at most 999,999,999) past them.
    pub(crate) const fn new(secs: i64, nanos: u32) -> Self {
        Self { secs, nanos }
    }

    /// Reads the text [`Display`](fmt::Display) writes: `"1700000000"` or `"1700000000.25"`.
    fn parse(s: &str) -> Option<Self> {
        let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
        if fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let nanos = match fraction {
            "" => 0,
            digits => digits.parse::<u32>().ok()? * 10u32.pow(9 - digits.len() as u32),
        };
        Some(Self::new(whole.parse().ok()?, nanos))
    }
}

impl fmt::Display for SortKey {
    /// The whole seconds, and the fraction where there is one, without trailing zeros.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.secs)?;
        if self.nanos > 0 {
            let fraction = format!("{:09}", self.nanos);
            write!(f, ".{}", fraction.trim_end_matches('0'))?;
        }
        Ok(())
    }
}

impl Serialize for SortKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.nanos == 0 {
            s.serialize_i64(self.secs)
        } else {
            s.collect_str(self)
        }
    }
}

impl<'de> Deserialize<'de> for SortKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SortKeyVisitor)
    }
}

struct SortKeyVisitor;

impl Visitor<'_> for SortKeyVisitor {
    type Value = SortKey;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sort key: whole seconds, or a string of seconds with a fraction")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<SortKey, E> {
        Ok(SortKey::new(v, 0))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<SortKey, E> {
        i64::try_from(v)
            .map(|secs| SortKey::new(secs, 0))
            .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<SortKey, E> {
        SortKey::parse(v).ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_written_as_the_api_writes_a_time_and_reads_back() {
        for (key, json) in [
            (SortKey::new(1_700_000_000, 0), "1700000000"),
            (
                SortKey::new(1_700_000_000, 250_000_000),
                r#""1700000000.25""#,
            ),
            (SortKey::new(1, 1_000), r#""1.000001""#),
            (SortKey::new(-5, 0), "-5"),
        ] {
            assert_eq!(serde_json::to_string(&key).unwrap(), json);
            assert_eq!(serde_json::from_str::<SortKey>(json).unwrap(), key);
        }
    }

    #[test]
    fn keys_order_by_seconds_then_by_the_fraction() {
        assert!(SortKey::new(10, 999_999_999) < SortKey::new(11, 0));
        assert!(SortKey::new(10, 1) > SortKey::new(10, 0));
    }

    #[test]
    fn what_is_not_a_key_is_refused() {
        for odd in [
            r#""""#,
            r#"".5""#,
            r#""1.2.3""#,
            r#""1.1234567891""#,
            "null",
            "18446744073709551615",
        ] {
            assert!(serde_json::from_str::<SortKey>(odd).is_err(), "{odd}");
        }
    }
}
