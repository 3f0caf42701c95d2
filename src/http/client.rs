//! [`Client`] and [`ClientBuilder`]: the base URL, the key, one HTTP connection pool and one
//! rate budget, shared by every endpoint and every clone.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION};
use reqwest::{Method, Url};

use crate::error::{ApiErrorEntry, Error};
use crate::http::redact;
use crate::http::retry::{self, Next, RetryPolicy, Schedule};
use crate::http::stats::{ClientStats, Counters};
use crate::rate::budget::Budget;
use crate::rate::permit::Permit;
use crate::rate::priority::Priority;
use crate::rate::signals::Signals;

/// HelpCrunch's REST API.
pub const DEFAULT_BASE_URL: &str = "https://api.helpcrunch.com/v1";
/// HelpCrunch's default limit for an account.
pub const DEFAULT_REQUESTS_PER_MINUTE: u32 = 120;
/// The largest body a page may have; a larger one is refused rather than buffered.
const MAX_BODY_BYTES: usize = 32 << 20;
/// How much of an unexpected error body is kept for the message.
const BODY_EXCERPT: usize = 200;

/// A HelpCrunch API client. Cheap to clone: clones share one connection pool and one rate
/// budget, so any number of streams over any endpoints stay within the account's limit together.
///
/// ```no_run
/// use futures::TryStreamExt;
/// use helpcrunch_pager::{Client, Department};
///
/// # async fn run() -> Result<(), helpcrunch_pager::Error> {
/// let client = Client::builder().api_key("my-key").build()?;
/// let all: Vec<Department> = client.departments().try_collect().await?;
/// println!("{} departments", all.len());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

/// What a client's clones share.
pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    /// A timeout set on each request: where the caller brought the HTTP client and set one.
    pub(crate) request_timeout: Option<Duration>,
    pub(crate) base_url: String,
    /// `Bearer <key>`, marked sensitive so that no `Debug` shows it.
    pub(crate) auth: HeaderValue,
    /// The key as given (trimmed), only to take it out of what a server writes back.
    pub(crate) key: Box<str>,
    pub(crate) budget: Arc<Budget>,
    pub(crate) retry: RetryPolicy,
    pub(crate) counters: Counters,
    /// Whether the host has answered anything (any status) since the client was built: until
    /// it has, a request gives up after the retry policy's first contact.
    pub(crate) answered: AtomicBool,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url)
            .field("api_key", &"<redacted>")
            .field("budget", &self.inner.budget)
            .field("retry", &self.inner.retry)
            .finish()
    }
}

impl Client {
    pub(crate) fn from_inner(inner: Inner) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }

    /// What this client and its clones have sent so far (requests, 429s, retries), and the rate
    /// the budget keeps now.
    ///
    /// ```
    /// let client = helpcrunch_pager::Client::builder().api_key("my-key").build()?;
    /// assert_eq!(client.stats().requests, 0);
    /// # Ok::<(), helpcrunch_pager::Error>(())
    /// ```
    pub fn stats(&self) -> ClientStats {
        self.inner.counters.snapshot(self.inner.budget.rate())
    }

    /// The spacing the rate budget keeps between two requests now: the configured rate's, or
    /// longer while the adaptive rate is under it.
    ///
    /// ```
    /// use std::time::Duration;
    /// let client = helpcrunch_pager::Client::builder().api_key("my-key").build()?;
    /// // 120 a minute, with the 2 % margin.
    /// assert_eq!(client.request_interval(), Duration::from_millis(510));
    /// # Ok::<(), helpcrunch_pager::Error>(())
    /// ```
    pub fn request_interval(&self) -> Duration {
        self.inner.budget.interval()
    }

    /// The base URL, without a trailing slash.
    pub(crate) fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// Whether the host has answered anything since the client was built.
    fn has_answered(&self) -> bool {
        self.inner.answered.load(Ordering::Relaxed)
    }

    /// The API key, for taking it out of what a server wrote: never to be shown.
    fn key(&self) -> &str {
        &self.inner.key
    }

    /// The longest a 429 holds the budget back for: the retry policy's total wait. A server may
    /// ask for any wait, but the client holds back no longer than a page would retry.
    pub(crate) fn longest_pause(&self) -> Duration {
        self.inner.retry.max_total_wait()
    }

    /// Sends `out` under the budget and the retry policy, and decodes a success with `decode`
    /// (which says whether its failure is worth asking again), given the body and the
    /// answer's `Date`.
    pub(crate) async fn send<R>(
        &self,
        out: &Outgoing<'_>,
        decode: impl Fn(&[u8], Option<SystemTime>) -> Result<R, (bool, Error)>,
    ) -> Result<R, Error> {
        let mut schedule = self.inner.retry.schedule();
        loop {
            let queued = tokio::time::Instant::now();
            let permit = self.permit(out.lane).await?;
            // Waiting for the budget (behind other streams, or a 429's pause) is not the
            // request's own retrying: it does not count against the policy's total wait.
            schedule.sending(queued.elapsed());
            let attempt = schedule.attempts().saturating_add(1);
            tracing::Span::current().record("attempt", attempt);
            let limit = schedule.attempt_limit(self.has_answered());
            let mut failure = match self
                .attempt(out, permit, &mut schedule, &decode, limit)
                .await
            {
                Ok(answer) => return Ok(answer),
                Err(failure) => failure,
            };
            // Whatever the server wrote goes into messages and logs from here: not the key.
            redact::redact_error(&mut failure.error, self.key());
            let rate_limited = failure.rate_limited.is_some();
            let next = match failure.rate_limited {
                // A 429 was settled with the budget, which held every request back for as long
                // as the schedule has this one wait.
                Some(next) => next,
                None => {
                    // A request that may have changed something (a POST that timed out, say)
                    // is sent again only where the caller said that is safe.
                    if !failure.retryable || !(out.idempotent || failure.unsent) {
                        return Err(failure.error);
                    }
                    schedule.after_failure(failure.signals.wait(), self.has_answered())
                }
            };
            match next {
                Next::Retry(delay) => {
                    if out.offset.is_some() {
                        tracing::debug!(?delay, error = %failure.error, "retrying page");
                    } else {
                        tracing::debug!(?delay, error = %failure.error, "retrying call");
                    }
                    self.inner.counters.retrying();
                    // After a 429 the budget's gate holds this request back with everyone.
                    if !rate_limited {
                        tokio::time::sleep(delay).await;
                    }
                }
                Next::GiveUp { .. } => {
                    return Err(Error::RetriesExhausted {
                        attempts: schedule.attempts(),
                        waited: schedule.waited(),
                        // Only where the server's wait, not the count of attempts, ended it.
                        asked: failure.signals.wait().filter(|w| {
                            !w.is_zero() && schedule.attempts() < self.inner.retry.max_attempts()
                        }),
                        last: Box::new(failure.error),
                    });
                }
            }
        }
    }

    /// Takes a turn at the budget for one request in `lane`, counted as sent: the permit to
    /// settle with its answer ([`answer`](Self::answer)).
    pub(crate) async fn permit(&self, lane: Priority) -> Result<Permit<'_>, Error> {
        let permit = self.inner.budget.acquire(lane).await?;
        self.inner.counters.sent();
        Ok(permit)
    }

    /// The one protocol for an answer, the client's own requests' and the middleware's alike:
    /// `permit` is settled with the answer's `status` and `headers` (the adaptive rate, the
    /// fleet and the gate learn from them), and a 429 is counted and held: every request of
    /// the client (of the fleet, where shared) waits as long as `schedule` has the retry wait,
    /// or, where the schedule is spent, as long as the next retry would have. Returns the
    /// answer's rate signals and, for a 429, what the schedule says follows.
    pub(crate) async fn answer(
        &self,
        permit: Permit<'_>,
        status: u16,
        headers: &HeaderMap,
        schedule: &mut Schedule,
    ) -> (Signals, Option<Next>) {
        let settled = permit.settle(status, headers, self.longest_pause()).await;
        let Some(limited) = settled.limited else {
            return (settled.signals, None);
        };
        self.inner.counters.rate_limited();
        // A 429 is an answer: the host has answered.
        let next = schedule.after_failure(limited.wait(), true);
        let (Next::Retry(wait) | Next::GiveUp { hold: wait }) = next;
        limited.hold(wait).await;
        (settled.signals, Some(next))
    }

    /// One attempt: sent, and its answer read. `limit` bounds the wait for the answer's status
    /// and headers (the retry policy's time left, or its first contact); once they came, the
    /// answer is read whole, so that a 429 always reaches the budget.
    async fn attempt<R>(
        &self,
        out: &Outgoing<'_>,
        permit: Permit<'_>,
        schedule: &mut Schedule,
        decode: &impl Fn(&[u8], Option<SystemTime>) -> Result<R, (bool, Error)>,
        limit: Option<Duration>,
    ) -> Result<R, Failure> {
        let path = || out.path.to_owned();
        let network = |e: reqwest::Error| Failure {
            retryable: true,
            // Refused, or no connection made at all: the server never saw the request.
            unsent: e.is_connect(),
            rate_limited: None,
            signals: Signals::default(),
            error: Error::Network {
                timeout: e.is_timeout(),
                path: path(),
                url: Some(out.shown_url()),
                offset: out.offset,
                source: Box::new(e.without_url()),
            },
        };
        let mut builder = self
            .inner
            .http
            .request(out.method.clone(), out.url.clone())
            .header(AUTHORIZATION, self.inner.auth.clone())
            .header(ACCEPT, "application/json");
        if let Some(timeout) = self.inner.request_timeout {
            builder = builder.timeout(timeout);
        }
        if let Some(body) = out.body {
            builder = builder
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_vec());
        }
        let sending = builder.send();
        let response = match limit {
            Some(limit) => tokio::time::timeout(limit, sending)
                .await
                .map_err(|_| Failure::no_answer_within(limit, out))?,
            None => sending.await,
        }
        .map_err(network)?;
        self.inner.answered.store(true, Ordering::Relaxed);
        let status = response.status().as_u16();
        tracing::Span::current().record("status", status);
        let (signals, rate_limited) = self
            .answer(permit, status, response.headers(), schedule)
            .await;
        if response.url() != &out.url {
            // A brought HTTP client followed a redirect: the answer is not the one asked for.
            // It was settled all the same, so a 429 at the end of the redirect still pauses
            // the budget.
            return Err(Failure::fatal(Error::Redirect {
                status,
                location: Some(shown(response.url())),
                path: path(),
                offset: out.offset,
            }));
        }
        let body = read_capped(response).await.map_err(|e| match e {
            // A 429 is news for the budget, whole body or not.
            BodyError::Network(_) if status == 429 => Failure {
                retryable: true,
                unsent: true,
                rate_limited,
                signals: signals.clone(),
                error: Error::Api {
                    status,
                    errors: Vec::new(),
                    body: None,
                    path: path(),
                    offset: out.offset,
                },
            },
            // A compressed body that does not decompress: the transfer broke, or the server
            // or a proxy sent it wrong; asked again, it is not called a network fault.
            BodyError::Network(e) if e.is_decode() => Failure {
                retryable: true,
                unsent: false,
                rate_limited: None,
                signals: Signals::default(),
                error: Error::Decode {
                    path: path(),
                    offset: out.offset,
                    message: format!("the body could not be decompressed: {e}"),
                },
            },
            BodyError::Network(e) => network(e),
            BodyError::TooLarge => Failure::fatal(Error::Decode {
                path: path(),
                offset: out.offset,
                message: format!("the body is larger than {MAX_BODY_BYTES} bytes; refused"),
            }),
        })?;

        if (300..400).contains(&status) {
            return Err(Failure::fatal(Error::Redirect {
                status,
                location: body
                    .headers
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
                path: path(),
                offset: out.offset,
            }));
        }
        if (200..300).contains(&status) {
            return decode(&body.bytes, signals.date).map_err(|(retryable, error)| Failure {
                retryable,
                unsent: false,
                rate_limited: None,
                signals: Signals::default(),
                error,
            });
        }
        let (errors, excerpt) = parse_error_body(&body.bytes, self.key());
        Err(Failure {
            retryable: retry::is_retryable_status(status),
            // A 429 is the limiter's answer: the request itself was not served.
            unsent: status == 429,
            rate_limited,
            signals,
            error: Error::Api {
                status,
                errors,
                body: excerpt,
                path: path(),
                offset: out.offset,
            },
        })
    }
}

/// One request as [`Client::send`] sends it.
pub(crate) struct Outgoing<'a> {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) body: Option<&'a [u8]>,
    /// The path for errors and traces, without a query.
    pub(crate) path: &'a str,
    /// The window's offset; `None` for a single call.
    pub(crate) offset: Option<u64>,
    pub(crate) lane: Priority,
    /// Whether sending it twice is as good as once, so that it may be sent again after a
    /// failure that the server may have seen.
    pub(crate) idempotent: bool,
}

/// A URL as a message may show it: without its query (which may carry a customer's details),
/// fragment or credentials.
fn shown(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.to_string()
}

impl Outgoing<'_> {
    /// The URL for a message: without its query, which may carry a customer's details.
    fn shown_url(&self) -> String {
        shown(&self.url)
    }
}

struct Failure {
    retryable: bool,
    /// The server surely did not act on the request (a 429, a connection never made).
    unsent: bool,
    /// A 429, settled with the budget: what the retry schedule said follows it.
    rate_limited: Option<Next>,
    /// What the answer said of the rate limit: the server's wait, and news for the budget.
    signals: Signals,
    error: Error,
}

impl Failure {
    /// An attempt cut off by the retry policy's time: the server may have seen it.
    fn no_answer_within(limit: Duration, out: &Outgoing<'_>) -> Self {
        Self {
            retryable: true,
            unsent: false,
            rate_limited: None,
            signals: Signals::default(),
            error: Error::Network {
                timeout: true,
                path: out.path.to_owned(),
                url: Some(out.shown_url()),
                offset: out.offset,
                source: format!(
                    "no answer within {:.1} s, the time the retry policy had left",
                    limit.as_secs_f64()
                )
                .into(),
            },
        }
    }

    fn fatal(error: Error) -> Self {
        Self {
            retryable: false,
            unsent: false,
            rate_limited: None,
            signals: Signals::default(),
            error,
        }
    }
}

struct Body {
    headers: HeaderMap,
    bytes: Vec<u8>,
}

enum BodyError {
    Network(reqwest::Error),
    TooLarge,
}

async fn read_capped(mut response: reqwest::Response) -> Result<Body, BodyError> {
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY_BYTES as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let headers = std::mem::take(response.headers_mut());
    let mut bytes = Vec::with_capacity(response.content_length().unwrap_or(0) as usize);
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Network)? {
        if bytes.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(BodyError::TooLarge);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Body { headers, bytes })
}

/// The API's `errors` array, or else the start of the body, with the key taken out of it
/// before it is cut (a key across the cut would leave its start behind).
fn parse_error_body(bytes: &[u8], key: &str) -> (Vec<ApiErrorEntry>, Option<String>) {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        errors: Vec<ApiErrorEntry>,
    }
    match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(b) => (b.errors, None),
        Err(_) => {
            let text = redact::redact(&String::from_utf8_lossy(bytes), key);
            let excerpt: String = text.chars().take(BODY_EXCERPT).collect();
            (Vec::new(), Some(excerpt.trim().to_owned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_auth_header_is_marked_sensitive_and_never_printed() {
        let key = "sk-secret-0123456789";
        let client = Client::builder().api_key(key).build().unwrap();
        assert!(client.inner.auth.is_sensitive());
        assert!(!format!("{:?}", client.inner.auth).contains(key));
        assert!(!format!("{client:?}").contains(key));
    }

    #[test]
    fn error_bodies_keep_the_typed_array_or_an_excerpt() {
        let (errors, excerpt) = parse_error_body(
            br#"{"errors":[{"code":"not_found","message":"Chat not found"}]}"#,
            "k",
        );
        assert_eq!(errors[0].code, "not_found");
        assert_eq!(excerpt, None);
        let (errors, excerpt) = parse_error_body(b"<html><body>502 Bad Gateway</body></html>", "k");
        assert!(errors.is_empty());
        assert_eq!(
            excerpt.as_deref(),
            Some("<html><body>502 Bad Gateway</body></html>")
        );
    }
}
