//! The server's rate signals, read in one place: `Retry-After`, the `X-RateLimit-*` headers
//! most APIs send, and the IETF `RateLimit` / `RateLimit-Policy` fields (the current draft's
//! `"name";r=50;t=30` and `"name";q=100;w=60`, and the older drafts' `RateLimit-Limit`,
//! `RateLimit-Remaining` and `RateLimit-Reset`). HelpCrunch documents none of them, so each is
//! read where present and nothing is assumed where absent.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, DATE, RETRY_AFTER};

/// How far the server's `Date` may be from the local clock before it is taken for the time:
/// `Date` counts whole seconds.
const CLOCK_SKEW: Duration = Duration::from_secs(2);

/// What one answer said about the rate limit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Signals {
    /// `Retry-After`.
    pub(crate) retry_after: Option<Duration>,
    /// How long until the current window resets.
    pub(crate) reset: Option<Duration>,
    /// Requests left in the current window.
    pub(crate) remaining: Option<u64>,
    /// Requests the window allows (`X-RateLimit-Limit`), in a window not said.
    pub(crate) limit: Option<u64>,
    /// `RateLimit-Policy`: each quota with its window.
    pub(crate) policies: Vec<Policy>,
    /// The answer's `Date`: the server's clock when it answered, to the second.
    pub(crate) date: Option<SystemTime>,
}

/// One `RateLimit-Policy` item: `quota` requests per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Policy {
    pub(crate) quota: u64,
    pub(crate) window: Duration,
}

impl Signals {
    /// Reads every signal `headers` carry, relative to `now`, or to the server's own clock
    /// where the answer's `Date` is further from `now` than its one-second resolution can
    /// explain: a date in `Retry-After` or a time in `X-RateLimit-Reset` is the server's, and a
    /// client clock running ahead or behind would turn a real wait into none, or none into one.
    /// Unreadable values are ignored.
    pub(crate) fn read(headers: &HeaderMap, now: SystemTime) -> Self {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let date = header(DATE.as_str()).and_then(|d| httpdate::parse_http_date(d).ok());
        let now = date
            .filter(|server| {
                server.duration_since(now).unwrap_or_else(|e| e.duration()) > CLOCK_SKEW
            })
            .unwrap_or(now);
        let number = |name: &str| header(name).and_then(|v| v.trim().parse::<u64>().ok());
        let mut signals = Self {
            retry_after: header(RETRY_AFTER.as_str()).and_then(|v| parse_retry_after(v, now)),
            reset: header("x-ratelimit-reset")
                .or_else(|| header("ratelimit-reset"))
                .and_then(|v| parse_rate_limit_reset(v, now)),
            remaining: number("x-ratelimit-remaining").or_else(|| number("ratelimit-remaining")),
            limit: number("x-ratelimit-limit").or_else(|| number("ratelimit-limit")),
            policies: Vec::new(),
            date,
        };
        // The current draft's fields, one item per policy; the most restrictive one counts.
        if let Some(current) = header("ratelimit") {
            for item in items(current) {
                let remaining = param(item, &["r", "remaining"]);
                if remaining.is_some_and(|r| signals.remaining.is_none_or(|had| r < had)) {
                    signals.remaining = remaining;
                    if let Some(t) = param(item, &["t", "reset"]) {
                        signals.reset = Some(Duration::from_secs(t));
                    }
                }
            }
        }
        if let Some(policy) = header("ratelimit-policy") {
            signals.policies = items(policy)
                .filter_map(|item| {
                    let quota = param(item, &["q"]).or_else(|| leading_number(item))?;
                    let window = param(item, &["w"]).filter(|&w| w > 0)?;
                    Some(Policy {
                        quota,
                        window: Duration::from_secs(window),
                    })
                })
                .collect();
        }
        signals
    }

    /// The server's own word on how long to wait: `Retry-After`, else when the window resets.
    pub(crate) fn wait(&self) -> Option<Duration> {
        self.retry_after.or(self.reset)
    }

    /// Whether the server said to retry at once: a `Retry-After` of 0 or a date already past,
    /// and no reset still to come.
    pub(crate) fn says_retry_now(&self) -> bool {
        self.retry_after.is_some_and(|a| a.is_zero()) && self.reset.is_none_or(|r| r.is_zero())
    }

    /// Whether the window's requests are spent, so that the next one would be refused.
    pub(crate) fn exhausted(&self) -> bool {
        self.remaining == Some(0)
    }
}

/// The members of a structured-field list (`a;x=1, b;x=2`), or of an older draft's dictionary
/// (`limit=100, remaining=50`), which reads as one member per key.
fn items(value: &str) -> impl Iterator<Item = &str> {
    let dictionary = !value.contains(';');
    let whole = dictionary.then_some(value);
    value
        .split(',')
        .filter(move |_| !dictionary)
        .chain(whole)
        .map(str::trim)
}

/// The value of the first of `keys` among an item's `key=value` parameters.
fn param(item: &str, keys: &[&str]) -> Option<u64> {
    item.split([';', ','])
        .filter_map(|part| part.split_once('='))
        .find(|(key, _)| keys.contains(&key.trim()))
        .and_then(|(_, value)| value.trim().trim_matches('"').parse().ok())
}

/// An older policy's bare quota: `100;w=60`.
fn leading_number(item: &str) -> Option<u64> {
    item.split(';').next()?.trim().parse().ok()
}

/// Parses `Retry-After`: delta-seconds (`"120"`) or an HTTP-date, relative to `now`. A date in
/// the past means no wait; a number of seconds too large for a `u64` is [`u64::MAX`] seconds
/// (the retry policy's total wait then decides); anything else unreadable is ignored.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use helpcrunch_pager::retry::parse_retry_after;
///
/// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
/// assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
/// assert_eq!(
///     parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
///     Some(Duration::from_secs(30))
/// );
/// assert_eq!(parse_retry_after("soon", now), None);
/// ```
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Parses `X-RateLimit-Reset`, which servers send as a UNIX time in seconds (`"1700000000"`),
/// a UNIX time in milliseconds (`"1700000000000"`), or seconds from now (`"30"`): values from
/// 10¹² on are read as milliseconds since 1970 (September 2001 onwards; as seconds they would
/// be past the year 30,000), values from 10⁹ on as seconds since 1970 (2001 onwards), smaller
/// ones as a delay. A time too far ahead to represent is a very long wait, [`Duration::MAX`].
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use helpcrunch_pager::retry::parse_rate_limit_reset;
///
/// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// assert_eq!(parse_rate_limit_reset("30", now), Some(Duration::from_secs(30)));
/// assert_eq!(parse_rate_limit_reset("1700000045", now), Some(Duration::from_secs(45)));
/// assert_eq!(parse_rate_limit_reset("1700000002500", now), Some(Duration::from_millis(2500)));
/// assert_eq!(parse_rate_limit_reset("1.5", now), Some(Duration::from_millis(1500)));
/// ```
pub fn parse_rate_limit_reset(value: &str, now: SystemTime) -> Option<Duration> {
    let n: f64 = value.trim().parse().ok()?;
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    Some(if n >= 1e12 {
        until_unix_time(n / 1e3, now)
    } else if n >= 1e9 {
        until_unix_time(n, now)
    } else {
        Duration::from_secs_f64(n)
    })
}

/// The wait from `now` until `secs` after 1970: zero for a time past, [`Duration::MAX`] for one
/// a `SystemTime` cannot hold.
fn until_unix_time(secs: f64, now: SystemTime) -> Duration {
    Duration::try_from_secs_f64(secs)
        .ok()
        .and_then(|since| SystemTime::UNIX_EPOCH.checked_add(since))
        .map_or(Duration::MAX, |at| {
            at.duration_since(now).unwrap_or(Duration::ZERO)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn read(pairs: &[(&'static str, &'static str)]) -> Signals {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_static(value));
        }
        Signals::read(&headers, now)
    }

    #[test]
    fn nothing_is_assumed_where_nothing_is_said() {
        assert_eq!(read(&[]), Signals::default());
        assert_eq!(read(&[]).wait(), None);
        assert!(!read(&[]).exhausted());
    }

    #[test]
    fn the_wait_prefers_retry_after_then_the_reset() {
        let s = read(&[("x-ratelimit-reset", "1700000009")]);
        assert_eq!(s.wait(), Some(Duration::from_secs(9)));
        let s = read(&[("x-ratelimit-reset", "1700000009"), ("retry-after", "2")]);
        assert_eq!(s.wait(), Some(Duration::from_secs(2)));
    }

    #[test]
    fn dates_are_read_on_the_servers_clock_and_a_past_one_is_retry_now() {
        // The local clock (1_700_000_000) runs an hour behind the server's.
        let s = read(&[
            ("date", "Tue, 14 Nov 2023 23:13:20 GMT"),
            ("retry-after", "Tue, 14 Nov 2023 23:13:50 GMT"),
        ]);
        assert_eq!(s.wait(), Some(Duration::from_secs(30)));
        assert!(!s.says_retry_now());
        let past = read(&[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")]);
        assert_eq!(past.wait(), Some(Duration::ZERO));
        assert!(past.says_retry_now());
        // A Date within its resolution of the local clock leaves the local clock's precision.
        let close = read(&[
            ("date", "Tue, 14 Nov 2023 22:13:19 GMT"),
            ("retry-after", "Tue, 14 Nov 2023 22:13:21 GMT"),
        ]);
        assert_eq!(close.wait(), Some(Duration::from_secs(1)));
        let reset_to_come = read(&[("retry-after", "0"), ("x-ratelimit-reset", "30")]);
        assert!(!reset_to_come.says_retry_now());
    }

    #[test]
    fn the_x_ratelimit_headers_and_the_older_drafts_read_alike() {
        for (limit, remaining, reset) in [
            (
                "x-ratelimit-limit",
                "x-ratelimit-remaining",
                "x-ratelimit-reset",
            ),
            ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"),
        ] {
            let s = read(&[(limit, "120"), (remaining, "0"), (reset, "30")]);
            assert_eq!(s.limit, Some(120));
            assert!(s.exhausted());
            assert_eq!(s.wait(), Some(Duration::from_secs(30)));
        }
    }

    #[test]
    fn the_current_drafts_fields_take_the_most_restrictive_policy() {
        let s = read(&[
            ("ratelimit", r#""burst";r=40;t=1, "daily";r=0;t=3600"#),
            (
                "ratelimit-policy",
                r#""burst";q=100;w=60, "daily";q=1000;w=86400"#,
            ),
        ]);
        assert!(s.exhausted());
        assert_eq!(s.wait(), Some(Duration::from_secs(3_600)));
        let policy = |quota, secs| Policy {
            quota,
            window: Duration::from_secs(secs),
        };
        assert_eq!(s.policies, [policy(100, 60), policy(1_000, 86_400)]);
        let older = read(&[
            ("ratelimit", "limit=100, remaining=7, reset=5"),
            ("ratelimit-policy", "100;w=60"),
        ]);
        assert_eq!(older.remaining, Some(7));
        assert_eq!(older.reset, Some(Duration::from_secs(5)));
        assert_eq!(older.policies, [policy(100, 60)]);
    }

    #[test]
    fn retry_after_dates_in_the_past_mean_now() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after(" 3 ", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("-3", now), None);
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn a_rate_limit_reset_in_epoch_milliseconds_is_read_as_milliseconds() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let reset = |v| parse_rate_limit_reset(v, now);
        assert_eq!(reset("1700000000250"), Some(Duration::from_millis(250)));
        assert_eq!(reset("1700000003000"), Some(Duration::from_secs(3)));
        assert_eq!(reset("1699999999000"), Some(Duration::ZERO), "past");
        assert_eq!(reset("1000000000000"), Some(Duration::ZERO), "2001, in ms");
        // Just under 10¹²: seconds since 1970, some 30,000 years ahead.
        assert!(reset("999999999999").unwrap() > Duration::from_secs(900_000_000_000));
        assert_eq!(reset("1700000004"), Some(Duration::from_secs(4)), "seconds");
        assert_eq!(reset("1e30"), Some(Duration::MAX), "too far to represent");
        assert_eq!(reset("inf"), None);
    }

    proptest::proptest! {
        #[test]
        fn retry_after_parsing_never_panics(s in ".{0,64}", t in 0u64..4_000_000_000) {
            let now = SystemTime::UNIX_EPOCH + Duration::from_secs(t);
            let _ = parse_retry_after(&s, now);
            let _ = parse_rate_limit_reset(&s, now);
        }

        #[test]
        fn no_header_value_panics(value in "[ -~]{0,80}") {
            for name in ["ratelimit", "ratelimit-policy", "x-ratelimit-reset", "retry-after"] {
                let mut headers = HeaderMap::new();
                if let Ok(v) = HeaderValue::from_str(&value) {
                    headers.insert(name, v);
                }
                let _ = Signals::read(&headers, SystemTime::UNIX_EPOCH);
            }
        }
    }
}
