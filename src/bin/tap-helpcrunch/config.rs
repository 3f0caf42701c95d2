//! `--config`: the tap's settings, as Meltano writes them (or a person), with the key also
//! from `HELPCRUNCH_API_KEY`, and their check into the settings the client is made from.

use std::path::PathBuf;
use std::time::Duration;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::shared::client::{Redacted, Settings};
use crate::Failure;

/// The tap's settings. Every one may be left out (or `null`) but the key, which may come from
/// `HELPCRUNCH_API_KEY` instead.
// Only its schema is used (for --about and the names of the settings): the settings are read
// one by one, so that a message about one never quotes its value, which may be a secret.
#[derive(JsonSchema)]
#[allow(dead_code)]
pub(crate) struct Config {
    /// The account's API key (HelpCrunch: Settings, Developers, Public API). Also read from
    /// HELPCRUNCH_API_KEY.
    #[schemars(extend("secret" = true, "writeOnly" = true))]
    api_key: Option<String>,
    /// The API's base URL.
    #[schemars(extend("default" = helpcrunch_pager::DEFAULT_BASE_URL))]
    base_url: Option<String>,
    /// The account's rate limit, in requests a minute; the tap keeps 2 % under it, and lower
    /// after a 429 for a while.
    #[schemars(range(min = 1), extend("default" = 120))]
    requests_per_minute: Option<u32>,
    /// The window the server counts its limit in, in seconds (HelpCrunch: a minute).
    #[schemars(range(min = 1, max = 86400), extend("default" = 60))]
    rate_window: Option<u64>,
    /// Where a first sync of chats and messages starts (RFC 3339, such as
    /// 2026-01-01T00:00:00Z, or a date): only what changed since is read. Without it, a first
    /// sync reads everything. Customers are read whole on a first sync either way (new ones
    /// are followed by id), departments and agents on every sync.
    start_date: Option<String>,
    /// How far before the last sync's start, in seconds, a sync reads again, so that a record
    /// the server commits a little late is not skipped (at least 10).
    #[schemars(range(min = 10, max = 2592000), extend("default" = 300))]
    lookback: Option<u64>,
    /// Share the account's rate budget with every other tap, exporter or worker on the same
    /// key through this Redis (redis://host:port/db). Also read from HELPCRUNCH_REDIS_URL.
    #[schemars(extend("secret" = true, "writeOnly" = true))]
    redis_url: Option<String>,
    /// Records per request, 1 to 100.
    #[schemars(range(min = 1, max = 100), extend("default" = 100))]
    page_size: Option<u32>,
    /// Send each stream read whole as a new table version: its records carry the version,
    /// and an ACTIVATE_VERSION follows the last of them once the read has ended whole (never
    /// after a failed or interrupted one), so that a target which supports it (meltanolabs
    /// target-postgres, and Singer SDK targets) deletes, or marks deleted, the rows the read
    /// did not find: records deleted in HelpCrunch. Departments and agents are read whole on
    /// every sync; customers, chats and messages when the state holds no bookmark for them
    /// and, for chats and messages, no start_date is set (remove a stream from the state now
    /// and then, and start_date for chats and messages, to make its table exact). A stream
    /// read whole that holds no record empties its table (with a warning). As in the Singer
    /// SDK, off unless set.
    #[schemars(extend("default" = false))]
    emit_activate_version_messages: Option<bool>,
}

/// The settings a sync runs with, checked.
#[derive(Debug)]
pub(crate) struct Checked {
    pub(crate) client: Settings,
    pub(crate) start_date: Option<u64>,
    pub(crate) lookback: Duration,
    pub(crate) page_size: u32,
    pub(crate) activate_version: bool,
}

/// The settings in `paths` (a later file's setting over an earlier's), checked.
pub(crate) fn load(paths: &[PathBuf]) -> Result<Checked, Failure> {
    let mut merged = Map::new();
    for path in paths {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::usage(format!("--config {}: {e}", path.display())))?;
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(settings)) => merged.extend(settings),
            Ok(_) => {
                return Err(Failure::usage(format!(
                    "--config {} must hold a JSON object of settings",
                    path.display()
                )))
            }
            Err(e) => {
                return Err(Failure::usage(format!(
                    "--config {} is not JSON: {e}",
                    path.display()
                )))
            }
        }
    }
    let known = known_settings();
    let unknown: Vec<&str> = merged
        .keys()
        .map(String::as_str)
        .filter(|k| !known.iter().any(|s| s == k))
        .collect();
    if !unknown.is_empty() {
        tracing::warn!(
            "the config's settings {unknown:?} are not the tap's and were left unread (see \
             tap-helpcrunch --about)"
        );
    }
    check(&merged)
}

/// Setting `name` of `settings`: `None` where it is left out or `null`.
fn setting<T: DeserializeOwned>(
    settings: &Map<String, Value>,
    name: &str,
    what: &str,
) -> Result<Option<T>, Failure> {
    match settings.get(name) {
        None | Some(Value::Null) => Ok(None),
        // Serde's message would quote the value, which may be a secret.
        Some(value) => serde_json::from_value(value.clone())
            .map(Some)
            .map_err(|_| Failure::usage(format!("the config's {name} must be {what}"))),
    }
}

/// The names of the settings, from their schema.
pub(crate) fn known_settings() -> Vec<String> {
    let schema = schemars::schema_for!(Config);
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

fn check(settings: &Map<String, Value>) -> Result<Checked, Failure> {
    let text = "text";
    let number = "a whole number";
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let api_key = setting::<String>(settings, "api_key", text)?
        .filter(|k| !k.trim().is_empty())
        .or_else(|| env("HELPCRUNCH_API_KEY"))
        .ok_or_else(|| {
            Failure::usage("no API key: set api_key in the config, or HELPCRUNCH_API_KEY")
        })?;
    let requests_per_minute =
        setting::<u32>(settings, "requests_per_minute", number)?.unwrap_or(120);
    if requests_per_minute == 0 {
        return Err(Failure::usage("requests_per_minute must be at least 1"));
    }
    let rate_window = setting::<u64>(settings, "rate_window", number)?.unwrap_or(60);
    if !(1..=86_400).contains(&rate_window) {
        return Err(Failure::usage(
            "rate_window is in seconds, from 1 to 86400 (a day)",
        ));
    }
    let lookback = setting::<u64>(settings, "lookback", number)?.unwrap_or(300);
    if !(10..=86_400 * 30).contains(&lookback) {
        return Err(Failure::usage(
            "lookback is in seconds, from 10 to 2592000 (30 days)",
        ));
    }
    let page_size = setting::<u32>(settings, "page_size", number)?.unwrap_or(100);
    if !(1..=100).contains(&page_size) {
        return Err(Failure::usage("page_size must be 1 to 100"));
    }
    let start_date = match setting::<String>(settings, "start_date", text)?
        .as_deref()
        .map(str::trim)
    {
        None | Some("") => None,
        Some(text) => Some(unix_seconds(text).ok_or_else(|| {
            Failure::usage(format!(
                "start_date {text:?} is not a date and time in RFC 3339 (such as \
                     2026-01-01T00:00:00Z) nor a date (2026-01-01)"
            ))
        })?),
    };
    Ok(Checked {
        client: Settings {
            base_url: setting::<String>(settings, "base_url", text)?
                .filter(|u| !u.trim().is_empty())
                .unwrap_or_else(|| helpcrunch_pager::DEFAULT_BASE_URL.to_owned()),
            api_key: Redacted(api_key),
            requests_per_minute,
            adaptive: true,
            rate_window: Duration::from_secs(rate_window),
            redis_url: setting::<String>(settings, "redis_url", text)?
                .filter(|u| !u.trim().is_empty())
                .or_else(|| env("HELPCRUNCH_REDIS_URL"))
                .map(Redacted),
            retry_for: Duration::from_secs(300),
            first_contact: Duration::from_secs(15),
        },
        start_date,
        lookback: Duration::from_secs(lookback),
        page_size,
        activate_version: setting::<bool>(
            settings,
            "emit_activate_version_messages",
            "true or false",
        )?
        .unwrap_or(false),
    })
}

/// `2026-01-01`, `2026-01-01T10:00:00Z`, `2026-01-01T10:00:00.5+02:00` (or with a space
/// for the `T`) as UNIX seconds; a time before 1970 as 0.
fn unix_seconds(text: &str) -> Option<u64> {
    let digits = |s: &str| -> Option<i64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (date, time) = match text.find(['T', 't', ' ']) {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let mut parts = date.splitn(3, '-');
    let (year, month, day) = (
        digits(parts.next()?)?,
        digits(parts.next()?)?,
        digits(parts.next()?)?,
    );
    if !(1..=12).contains(&month) || !(1..=days_in(year, month)).contains(&day) {
        return None;
    }
    let mut secs = days_from_civil(year, month, day) * 86_400;
    if let Some(time) = time {
        let (clock, offset) = match time.rfind(['Z', 'z', '+', '-']) {
            Some(i) => (&time[..i], &time[i..]),
            None => return None,
        };
        let clock = clock.split('.').next()?;
        let mut hms = clock.splitn(3, ':');
        let (h, m, s) = (
            digits(hms.next()?)?,
            digits(hms.next()?)?,
            digits(hms.next()?)?,
        );
        if h > 23 || m > 59 || s > 60 {
            return None;
        }
        secs += h * 3_600 + m * 60 + s;
        if !offset.eq_ignore_ascii_case("z") {
            let sign = if offset.starts_with('-') { -1 } else { 1 };
            let (oh, om) = offset[1..].split_once(':')?;
            let (oh, om) = (digits(oh)?, digits(om)?);
            if oh > 23 || om > 59 {
                return None;
            }
            secs -= sign * (oh * 3_600 + om * 60);
        }
    }
    Some(secs.max(0) as u64)
}

fn days_in(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Howard Hinnant's days_from_civil: days since 1970-01-01.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_dates_read_as_rfc3339_or_a_date() {
        assert_eq!(unix_seconds("1970-01-01"), Some(0));
        assert_eq!(unix_seconds("2025-12-04T10:00:00Z"), Some(1_764_842_400));
        assert_eq!(unix_seconds("2025-12-04 10:00:00z"), Some(1_764_842_400));
        assert_eq!(
            unix_seconds("2025-12-04T12:00:00.250+02:00"),
            Some(1_764_842_400)
        );
        assert_eq!(
            unix_seconds("2025-12-04T05:00:00-05:00"),
            Some(1_764_842_400)
        );
        assert_eq!(unix_seconds("2000-02-29"), Some(951_782_400));
        assert_eq!(unix_seconds("1960-01-01"), Some(0));
        for bad in [
            "",
            "2025",
            "2025-13-01",
            "2001-02-29",
            "2025-12-04T10:00:00",
            "yesterday",
            "2025-12-04T25:00:00Z",
            "2025-12-04T10:00Z",
            "+2025-12-04",
        ] {
            assert_eq!(unix_seconds(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn every_setting_is_in_the_schema() {
        let names = known_settings();
        for name in [
            "api_key",
            "base_url",
            "requests_per_minute",
            "rate_window",
            "start_date",
            "lookback",
            "redis_url",
            "page_size",
        ] {
            assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
        }
    }
}
