//! The crate's one error type, with the API's own `errors` array kept typed inside it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A boxed error from below this crate (the HTTP stack).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// One entry of the `errors` array HelpCrunch sends with every failure, such as
/// `{"code": "too_many_requests", "message": "Too many requests"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorEntry {
    /// A machine code (`invalid_request`, `unauthorized`) or, for a field error, the field's path
    /// (`filter[0].field`).
    #[serde(default)]
    pub code: String,
    /// The API's human-readable message.
    #[serde(default)]
    pub message: String,
}

/// Everything that can go wrong while reading a collection.
///
/// Messages say what happened and what to do; none of them contains the API key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The caller's input cannot work: a page size outside `1..=100`, a rate of 0, an empty key,
    /// a malformed base URL or path. Nothing was sent.
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// The API answered with an error status. The `errors` array is kept as the API sent it;
    /// where the body was not HelpCrunch's JSON (say, a proxy's HTML page), `errors` is empty
    /// and `body` holds the start of it.
    #[error("{}", describe_api(*.status, .errors, .body.as_deref(), .path, *.offset))]
    #[non_exhaustive]
    Api {
        /// The HTTP status code.
        status: u16,
        /// The API's `errors` array.
        errors: Vec<ApiErrorEntry>,
        /// The start of a body that was not the API's error JSON.
        body: Option<String>,
        /// The collection's path, such as `departments`, or a single call's (without its query).
        path: String,
        /// The `offset` of the page that failed; `None` for a single call.
        offset: Option<u64>,
    },

    /// The request did not get an answer: connection refused or reset, DNS, a timeout. Its
    /// message names the page or call; what the HTTP stack said is its
    /// [`source`](std::error::Error::source), not repeated in the message (so that anyhow's
    /// `{:#}` or a walk of the sources prints it once).
    #[error(
        "network error on {}{}{}",
        at(.path, *.offset),
        .url.as_deref().map(|u| format!(" ({u})")).unwrap_or_default(),
        if *.timeout { " (timed out)" } else { "" }
    )]
    #[non_exhaustive]
    Network {
        /// Whether the request timed out.
        timeout: bool,
        /// The collection's path, or a single call's.
        path: String,
        /// The URL the request went to, without its query: which host did not answer.
        url: Option<String>,
        /// The `offset` of the page; `None` for a single call.
        offset: Option<u64>,
        /// The error from the HTTP stack.
        #[source]
        source: BoxError,
    },

    /// A success status with a body that is not a page (or, for a single call, not the type
    /// asked for): not JSON, or JSON of another shape.
    #[error("could not decode the answer for {}: {message}", at(.path, *.offset))]
    #[non_exhaustive]
    Decode {
        /// The collection's path, or a single call's.
        path: String,
        /// The `offset` of the page; `None` for a single call.
        offset: Option<u64>,
        /// What the decoder said.
        message: String,
    },

    /// The scan could not prove that it read every record of the collection: records moved
    /// further than it could follow, or the pages and the totals disagree in a way that asking
    /// again did not settle. Nothing was lost silently: the records yielded so far are sound,
    /// and the scan can be run again.
    #[error(
        "the scan of {path} could not prove it read every record (at offset {offset}): {reason}"
    )]
    #[non_exhaustive]
    Incomplete {
        /// The collection's path.
        path: String,
        /// The offset where the scan stood.
        offset: u64,
        /// What could not be proven.
        reason: String,
    },

    /// The server answered with a redirect (a 3xx status). The crate does not follow redirects:
    /// the request to wherever it points would leave outside the rate budget, and the key would
    /// go to a host the caller never named. Set the base URL to where the API now is. Never
    /// retried.
    #[error("{}", describe_redirect(*.status, .location.as_deref(), .path, *.offset))]
    #[non_exhaustive]
    Redirect {
        /// The HTTP status code, such as 301 or 302.
        status: u16,
        /// Where the server pointed (its `Location` header), if it said.
        location: Option<String>,
        /// The collection's path, or a single call's.
        path: String,
        /// The `offset` of the page; `None` for a single call.
        offset: Option<u64>,
    },

    /// A retryable failure (429, 5xx, network) kept failing until the retry policy's attempts or
    /// total wait ran out. The last failure is its [`source`](std::error::Error::source), not
    /// repeated in the message.
    #[error(
        "gave up after {attempts} attempts (waited {waited:?} in all){}",
        .asked.map(|a| format!("; the server asked to wait {} s more", a.as_secs_f64().ceil()))
            .unwrap_or_default()
    )]
    #[non_exhaustive]
    RetriesExhausted {
        /// How many requests were made for this page.
        attempts: u32,
        /// The time spent waiting between them.
        waited: std::time::Duration,
        /// The wait the last answer asked for (`Retry-After`, `X-RateLimit-Reset`), where it
        /// asked: more than the retry policy had left.
        asked: Option<std::time::Duration>,
        /// The last failure.
        #[source]
        last: Box<Error>,
    },
}

impl Error {
    /// An [`Error::Api`]: HelpCrunch answered `status` for `path` with its `errors` array. For
    /// test doubles of code that handles the crate's errors; the crate itself makes them from
    /// the API's answers.
    ///
    /// ```
    /// use helpcrunch_pager::{ApiErrorEntry, Error};
    /// let e = Error::api(404, "chats/42", vec![ApiErrorEntry {
    ///     code: "not_found".into(),
    ///     message: "Chat not found".into(),
    /// }]);
    /// assert!(e.is_not_found());
    /// assert_eq!(
    ///     e.to_string(),
    ///     "HelpCrunch answered HTTP 404 for chats/42: not_found: Chat not found (check the path)"
    /// );
    /// ```
    pub fn api(status: u16, path: impl Into<String>, errors: Vec<ApiErrorEntry>) -> Self {
        Error::Api {
            status,
            errors,
            body: None,
            path: path.into(),
            offset: None,
        }
    }

    /// The HTTP status behind this error, if the API answered (a redirect included; for
    /// exhausted retries: the last answer's).
    ///
    /// ```
    /// use helpcrunch_pager::{ApiErrorEntry, Error};
    /// let e = Error::api(404, "chats", vec![ApiErrorEntry { code: "not_found".into(), message: "Chat not found".into() }]);
    /// assert_eq!(e.status(), Some(404));
    /// assert_eq!(Error::InvalidInput("bad".into()).status(), None);
    /// ```
    pub fn status(&self) -> Option<u16> {
        match self.last() {
            Error::Api { status, .. } | Error::Redirect { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The API's `errors` array (empty where there was none).
    ///
    /// ```
    /// use helpcrunch_pager::{ApiErrorEntry, Error};
    /// let e = Error::api(404, "chats", vec![ApiErrorEntry { code: "not_found".into(), message: "Chat not found".into() }]);
    /// assert_eq!(e.api_errors()[0].message, "Chat not found");
    /// ```
    pub fn api_errors(&self) -> &[ApiErrorEntry] {
        match self.last() {
            Error::Api { errors, .. } => errors,
            _ => &[],
        }
    }

    /// `429 Too Many Requests`: the account's rate limit was exceeded (and retries ran out).
    ///
    /// ```
    /// use helpcrunch_pager::{ApiErrorEntry, Error};
    /// let e = Error::api(429, "chats", vec![ApiErrorEntry { code: "too_many_requests".into(), message: "Too many requests".into() }]);
    /// assert!(e.is_rate_limited());
    /// ```
    pub fn is_rate_limited(&self) -> bool {
        self.status() == Some(429)
    }

    /// `401 Unauthorized`: the API key is missing, wrong or revoked.
    ///
    /// ```
    /// use helpcrunch_pager::{ApiErrorEntry, Error};
    /// let e = Error::api(401, "chats", vec![ApiErrorEntry { code: "invalid_token".into(), message: "Invalid token".into() }]);
    /// assert!(e.is_unauthorized());
    /// ```
    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(401)
    }

    /// `403 Forbidden`.
    ///
    /// ```
    /// use helpcrunch_pager::{ApiErrorEntry, Error};
    /// let e = Error::api(403, "chats", vec![ApiErrorEntry { code: "forbidden".into(), message: "Forbidden".into() }]);
    /// assert!(e.is_forbidden());
    /// ```
    pub fn is_forbidden(&self) -> bool {
        self.status() == Some(403)
    }

    /// `404 Not Found`: no such collection or entity.
    ///
    /// ```
    /// use helpcrunch_pager::{ApiErrorEntry, Error};
    /// let e = Error::api(404, "chats", vec![ApiErrorEntry { code: "entity_not_found".into(), message: "Department not found".into() }]);
    /// assert!(e.is_not_found());
    /// ```
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// A 3xx answer, which the crate does not follow (see [`Error::Redirect`]).
    ///
    /// ```no_run
    /// # async fn run(client: helpcrunch_pager::Client) {
    /// match client.get::<serde_json::Value>("departments/1").await {
    ///     Err(e) if e.is_redirect() => eprintln!("the API moved: {e}"),
    ///     _ => {}
    /// }
    /// # }
    /// ```
    pub fn is_redirect(&self) -> bool {
        matches!(self.last(), Error::Redirect { .. })
    }

    /// A request that timed out (for exhausted retries: the last one).
    ///
    /// ```no_run
    /// # async fn run(client: helpcrunch_pager::Client) {
    /// if let Err(e) = client.get::<serde_json::Value>("chats/42").await {
    ///     if e.is_timeout() {
    ///         eprintln!("HelpCrunch did not answer in time; raise ClientBuilder::timeout");
    ///     }
    /// }
    /// # }
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self.last(), Error::Network { timeout: true, .. })
    }

    /// Whether the scan could not prove it read every record ([`Error::Incomplete`]): the
    /// records it yielded are sound, and running it again (or resuming it) may finish it.
    ///
    /// ```
    /// use helpcrunch_pager::Error;
    /// assert!(!Error::InvalidInput("bad".into()).is_incomplete());
    /// ```
    pub fn is_incomplete(&self) -> bool {
        matches!(self, Error::Incomplete { .. })
    }

    /// Whether the retry policy gave up on a failure that might pass later.
    ///
    /// ```no_run
    /// # async fn run(client: helpcrunch_pager::Client) {
    /// if let Err(e) = client.get::<serde_json::Value>("chats/42").await {
    ///     if e.is_retries_exhausted() {
    ///         eprintln!("{e} after {} attempts; the last: {:?}", e.attempts(), e.status());
    ///     }
    /// }
    /// # }
    /// ```
    pub fn is_retries_exhausted(&self) -> bool {
        matches!(self, Error::RetriesExhausted { .. })
    }

    /// How many requests were made before this error (1 where it was not retried).
    ///
    /// ```
    /// use helpcrunch_pager::Error;
    /// assert_eq!(Error::InvalidInput("bad page size".into()).attempts(), 0);
    /// ```
    pub fn attempts(&self) -> u32 {
        match self {
            Error::RetriesExhausted { attempts, .. } => *attempts,
            Error::InvalidInput(_) => 0,
            _ => 1,
        }
    }

    fn last(&self) -> &Error {
        match self {
            Error::RetriesExhausted { last, .. } => last,
            other => other,
        }
    }
}

fn describe_api(
    status: u16,
    errors: &[ApiErrorEntry],
    body: Option<&str>,
    path: &str,
    offset: Option<u64>,
) -> String {
    let mut out = format!("HelpCrunch answered HTTP {status} for {}", at(path, offset));
    if !errors.is_empty() {
        out.push_str(": ");
        out.push_str(&ErrorList(errors).to_string());
    } else if let Some(body) = body.filter(|b| !b.is_empty()) {
        out.push_str(&format!(": {body:?}"));
    }
    let hint = match status {
        400 => "the request was malformed; fix the parameters named above",
        401 => "check the API key (Settings > Developers > Public API)",
        403 => "the key lacks permission for this collection",
        404 => "check the path",
        429 => "the account's rate limit was exceeded; lower requests_per_minute",
        500..=599 => "the server failed; try again later",
        _ => "",
    };
    if !hint.is_empty() {
        out.push_str(&format!(" ({hint})"));
    }
    out
}

fn describe_redirect(
    status: u16,
    location: Option<&str>,
    path: &str,
    offset: Option<u64>,
) -> String {
    let to = match location {
        Some(location) => format!("redirected to {location}"),
        None => "redirected, with no Location".to_owned(),
    };
    format!(
        "HelpCrunch answered HTTP {status} for {}, {to}; this crate does \
         not follow redirects (so that no request leaves outside the rate budget and the key \
         never goes to another host): set the base URL to where the API now is",
        at(path, offset)
    )
}

/// A page ("chats at offset 100") or a single call ("chats/42").
fn at(path: &str, offset: Option<u64>) -> String {
    match offset {
        Some(offset) => format!("{path} at offset {offset}"),
        None => path.to_owned(),
    }
}

struct ErrorList<'a>(&'a [ApiErrorEntry]);

impl fmt::Display for ErrorList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", e.code, e.message)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, errors: &[(&str, &str)]) -> Error {
        Error::Api {
            status,
            errors: errors
                .iter()
                .map(|(c, m)| ApiErrorEntry {
                    code: c.to_string(),
                    message: m.to_string(),
                })
                .collect(),
            body: None,
            path: "departments".into(),
            offset: Some(200),
        }
    }

    #[test]
    fn an_api_error_names_status_path_offset_every_entry_and_what_to_do() {
        let e = api(
            401,
            &[
                ("invalid_request", "Invalid request"),
                ("unauthorized", "Unauthorized"),
            ],
        );
        assert_eq!(
            e.to_string(),
            "HelpCrunch answered HTTP 401 for departments at offset 200: \
             invalid_request: Invalid request; unauthorized: Unauthorized \
             (check the API key (Settings > Developers > Public API))"
        );
        assert!(e.is_unauthorized());
        assert!(!e.is_rate_limited());
    }

    #[test]
    fn a_redirect_names_where_it_pointed_and_that_it_was_not_followed() {
        let e = Error::Redirect {
            status: 302,
            location: Some("https://elsewhere.example/v1/departments?offset=0".into()),
            path: "departments".into(),
            offset: Some(0),
        };
        assert_eq!(
            e.to_string(),
            "HelpCrunch answered HTTP 302 for departments at offset 0, redirected to \
             https://elsewhere.example/v1/departments?offset=0; this crate does not follow \
             redirects (so that no request leaves outside the rate budget and the key never goes \
             to another host): set the base URL to where the API now is"
        );
        assert!(e.is_redirect() && !e.is_retries_exhausted() && !e.is_not_found());
        assert_eq!((e.status(), e.attempts()), (Some(302), 1));
        assert!(e.api_errors().is_empty());
        let nowhere = Error::Redirect {
            status: 307,
            location: None,
            path: "chats".into(),
            offset: Some(100),
        };
        assert!(nowhere
            .to_string()
            .contains("HTTP 307 for chats at offset 100, redirected, with no Location;"));
    }

    #[test]
    fn exhausted_retries_answer_questions_about_the_last_failure() {
        let e = Error::RetriesExhausted {
            attempts: 4,
            waited: std::time::Duration::from_secs(3),
            asked: None,
            last: Box::new(api(429, &[("too_many_requests", "Too many requests")])),
        };
        assert!(e.is_rate_limited());
        assert!(e.is_retries_exhausted());
        assert_eq!(e.attempts(), 4);
        assert_eq!(e.status(), Some(429));
        assert_eq!(e.api_errors()[0].code, "too_many_requests");
        assert_eq!(e.to_string(), "gave up after 4 attempts (waited 3s in all)");
        let last = std::error::Error::source(&e)
            .expect("the last failure")
            .to_string();
        assert!(last.starts_with("HelpCrunch answered HTTP 429"), "{last}");
    }
}

#[cfg(test)]
mod display_tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn network_and_exhausted_errors_say_their_source_once() {
        let e = Error::Network {
            timeout: false,
            path: "chats".into(),
            url: Some("http://127.0.0.1:9/v1/chats".into()),
            offset: Some(100),
            source: "connection refused".into(),
        };
        assert_eq!(
            e.to_string(),
            "network error on chats at offset 100 (http://127.0.0.1:9/v1/chats)"
        );
        assert_eq!(e.source().unwrap().to_string(), "connection refused");
        let call = Error::Network {
            timeout: true,
            path: "chats/42".into(),
            url: None,
            offset: None,
            source: "timed out".into(),
        };
        assert_eq!(call.to_string(), "network error on chats/42 (timed out)");
        assert!(call.is_timeout());
        let e = Error::RetriesExhausted {
            attempts: 3,
            waited: std::time::Duration::from_secs(2),
            asked: None,
            last: Box::new(call),
        };
        assert_eq!(e.to_string(), "gave up after 3 attempts (waited 2s in all)");
        let asked = Error::RetriesExhausted {
            attempts: 1,
            waited: std::time::Duration::ZERO,
            asked: Some(std::time::Duration::from_millis(3_599_500)),
            last: Box::new(Error::api(503, "chats", Vec::new())),
        };
        assert_eq!(
            asked.to_string(),
            "gave up after 1 attempts (waited 0ns in all); the server asked to wait 3600 s more"
        );
        assert_eq!(
            e.source().unwrap().to_string(),
            "network error on chats/42 (timed out)"
        );
        assert!(e.is_retries_exhausted() && e.is_timeout());
        let incomplete = Error::Incomplete {
            path: "chats".into(),
            offset: 300,
            reason: "records moved too far".into(),
        };
        assert!(incomplete.is_incomplete());
    }
}
