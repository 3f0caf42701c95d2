//! [`Timestamp`]: a UNIX time as HelpCrunch sends it, an integer, a string, or a fractional
//! string.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::lenient::absent_for_compounds;

/// A point in time from the API: UNIX seconds, with the fraction some fields carry
/// (`"1594139170.913"`).
///
/// It reads an integer (`1594139170`), a string of one (`"1594139170"`), a fractional string or
/// number, and writes back an integer when there is no fraction and the fractional string
/// otherwise. In a model, a timestamp that is `null`, empty or unreadable is `None`.
///
/// ```
/// use helpcrunch_pager::Timestamp;
///
/// let t: Timestamp = serde_json::from_str(r#""1594139170.913""#).unwrap();
/// assert_eq!((t.unix_seconds(), t.subsec_millis()), (1594139170, 913));
/// assert_eq!(serde_json::to_string(&t).unwrap(), r#""1594139170.913""#);
/// let whole: Timestamp = serde_json::from_str("1594139170").unwrap();
/// assert_eq!(serde_json::to_string(&whole).unwrap(), "1594139170");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    secs: i64,
    nanos: u32,
}

impl Timestamp {
    /// Whole UNIX seconds.
    ///
    /// ```
    /// use helpcrunch_pager::Timestamp;
    /// assert_eq!(Timestamp::from_unix(1594139170).to_string(), "1594139170");
    /// ```
    pub const fn from_unix(secs: i64) -> Self {
        Self { secs, nanos: 0 }
    }

    /// The whole seconds since the UNIX epoch (negative before it).
    ///
    /// ```
    /// let t: helpcrunch_pager::Timestamp = serde_json::from_str(r#""1594139170.913""#).unwrap();
    /// assert_eq!(t.unix_seconds(), 1594139170);
    /// ```
    pub const fn unix_seconds(&self) -> i64 {
        self.secs
    }

    /// The fraction of the second, in milliseconds.
    ///
    /// ```
    /// let t: helpcrunch_pager::Timestamp = serde_json::from_str(r#""1594139170.913""#).unwrap();
    /// assert_eq!(t.subsec_millis(), 913);
    /// ```
    pub const fn subsec_millis(&self) -> u32 {
        self.nanos / 1_000_000
    }

    /// The fraction of the second, in nanoseconds.
    ///
    /// ```
    /// let t: helpcrunch_pager::Timestamp = serde_json::from_str(r#""1594139170.000001""#).unwrap();
    /// assert_eq!(t.subsec_nanos(), 1_000);
    /// ```
    pub const fn subsec_nanos(&self) -> u32 {
        self.nanos
    }

    /// The same instant as a [`SystemTime`].
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// let t: helpcrunch_pager::Timestamp = serde_json::from_str(r#""10.5""#).unwrap();
    /// assert_eq!(t.to_system_time(), SystemTime::UNIX_EPOCH + Duration::from_millis(10_500));
    /// ```
    pub fn to_system_time(&self) -> SystemTime {
        let fraction = Duration::from_nanos(u64::from(self.nanos));
        match u64::try_from(self.secs) {
            Ok(secs) => SystemTime::UNIX_EPOCH + Duration::from_secs(secs) + fraction,
            Err(_) => {
                SystemTime::UNIX_EPOCH - Duration::from_secs(self.secs.unsigned_abs()) + fraction
            }
        }
    }

    /// Reads `"1594139170"`, `"1594139170.913"` or `" 1594139170 "`; `None` for anything else.
    fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
        if whole.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let secs: i64 = whole.parse().ok()?;
        if secs < 0 && fraction.bytes().any(|b| b != b'0') {
            // Before 1970 with a fraction: never sent, and ambiguous to write back.
            return None;
        }
        let digits = &fraction[..fraction.len().min(9)];
        let nanos = if digits.is_empty() {
            0
        } else {
            digits.parse::<u32>().ok()? * 10u32.pow(9 - digits.len() as u32)
        };
        Some(Self { secs, nanos })
    }

    fn from_f64(v: f64) -> Option<Self> {
        if !v.is_finite() || v.abs() > i64::MAX as f64 || (v < 0.0 && v.fract() != 0.0) {
            return None;
        }
        let secs = v.floor();
        let nanos = ((v - secs) * 1e9).round().min(999_999_999.0) as u32;
        Some(Self {
            secs: secs as i64,
            nanos,
        })
    }
}

impl fmt::Display for Timestamp {
    /// As the API writes it: `1594139170` or `1594139170.913`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.secs)?;
        if self.nanos > 0 {
            let fraction = format!("{:09}", self.nanos);
            write!(f, ".{}", fraction.trim_end_matches('0'))?;
        }
        Ok(())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.nanos == 0 {
            s.serialize_i64(self.secs)
        } else {
            s.collect_str(self)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TimestampVisitor)?
            .ok_or_else(|| de::Error::custom("not a UNIX timestamp"))
    }
}

/// What the API sends for a time: UNIX seconds as an integer, a string of one, or a fractional
/// string or number.
#[cfg(feature = "schemars")]
impl schemars::JsonSchema for Timestamp {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "UNIX seconds, as HelpCrunch sends them: an integer (1594139170), a \
                            string of one (\"1594139170\"), or a fractional string \
                            (\"1594139170.913\") or number",
            "type": ["integer", "number", "string"],
        })
    }
}

/// A lenient optional timestamp, for `#[serde(deserialize_with)]`: anything unreadable is `None`.
pub(crate) fn lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
    d.deserialize_any(TimestampVisitor)
}

struct TimestampVisitor;

impl<'de> Visitor<'de> for TimestampVisitor {
    type Value = Option<Timestamp>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a UNIX timestamp as an integer or a string")
    }

    absent_for_compounds!();

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(Timestamp::from_unix(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(i64::try_from(v).ok().map(Timestamp::from_unix))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Timestamp::from_f64(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Timestamp::parse(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn read(json: &str) -> Option<Timestamp> {
        #[derive(Deserialize)]
        struct Probe {
            #[serde(default, deserialize_with = "lenient")]
            t: Option<Timestamp>,
        }
        serde_json::from_str::<Probe>(&format!(r#"{{"t": {json}}}"#))
            .unwrap()
            .t
    }

    #[test]
    fn reads_every_documented_form() {
        let whole = Some(Timestamp::from_unix(1_594_139_170));
        assert_eq!(read("1594139170"), whole);
        assert_eq!(read(r#""1594139170""#), whole);
        assert_eq!(read("1594139170.0"), whole);
        let t = read(r#""1594139170.913""#).unwrap();
        assert_eq!(
            (t.unix_seconds(), t.subsec_nanos()),
            (1_594_139_170, 913_000_000)
        );
        let t = read("1594139170.5").unwrap();
        assert_eq!(t.subsec_millis(), 500);
        assert_eq!(
            read(r#""1594139170.123456789999""#).unwrap().subsec_nanos(),
            123_456_789
        );
    }

    #[test]
    fn anything_else_is_absent_not_an_error() {
        for odd in [
            "null",
            r#""""#,
            r#""18 Jun 2020""#,
            r#""-1.5""#,
            r#"".5""#,
            r#""1.2.3""#,
            "true",
            "[1594139170]",
            r#"{"t": 1}"#,
            "18446744073709551615",
        ] {
            assert_eq!(read(odd), None, "{odd}");
        }
    }

    #[test]
    fn converts_to_system_time() {
        let t = read(r#""1.25""#).unwrap();
        assert_eq!(
            t.to_system_time(),
            SystemTime::UNIX_EPOCH + Duration::from_millis(1250)
        );
    }

    proptest! {
        #[test]
        fn writing_then_reading_gives_the_same_instant(secs in 0i64..4_000_000_000, millis in 0u32..1000) {
            let t = Timestamp { secs, nanos: millis * 1_000_000 };
            let back: Timestamp = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
            prop_assert_eq!(back, t);
        }
    }
}
