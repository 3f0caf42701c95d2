//! [`ClientBuilder`]: a client's settings, checked once by [`build`](ClientBuilder::build) so
//! that a bad key, rate or base URL is an error before anything is sent.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use reqwest::header::HeaderValue;
use reqwest::Url;

use crate::error::Error;
use crate::http::client::{Client, Inner, DEFAULT_BASE_URL, DEFAULT_REQUESTS_PER_MINUTE};
use crate::http::retry::RetryPolicy;
use crate::http::stats::Counters;
use crate::rate::budget::{Budget, Settings, DEFAULT_MARGIN};

/// Configures a [`Client`].
///
/// # Default
///
/// - base URL: `https://api.helpcrunch.com/v1`
/// - requests per minute: 120, kept with a 2 % margin (one request every 510 ms)
/// - adaptive rate: on, the server's window taken to be 60 s
/// - retry: [`RetryPolicy::new()`]
/// - request timeout: 30 s (with a [brought HTTP client](ClientBuilder::http_client), its own)
/// - plain `http`: only to a loopback address
/// - redirects: never followed (a 3xx is [`Error::Redirect`])
///
/// ```
/// let client = helpcrunch_pager::Client::builder()
///     .api_key("my-key")
///     .requests_per_minute(60)
///     .build()
///     .unwrap();
/// assert_eq!(client.request_interval().as_millis(), 1020);
/// ```
#[derive(Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct ClientBuilder {
    api_key: Option<String>,
    base_url: String,
    requests_per_minute: u32,
    rate_margin: f64,
    adaptive: bool,
    rate_window: Duration,
    retry: RetryPolicy,
    /// `None`: 30 s on the crate's own HTTP client, and the brought client's own otherwise.
    timeout: Option<Duration>,
    allow_insecure_http: bool,
    http: Option<reqwest::Client>,
    redis_url: Option<String>,
}

/// How long a request may take on the crate's own HTTP client.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// HelpCrunch counts its limit per minute.
const DEFAULT_RATE_WINDOW: Duration = Duration::from_secs(60);

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("base_url", &self.base_url)
            .field("requests_per_minute", &self.requests_per_minute)
            .field("rate_margin", &self.rate_margin)
            .field("adaptive", &self.adaptive)
            .field("rate_window", &self.rate_window)
            .field("retry", &self.retry)
            .field("timeout", &self.timeout)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("http_client", &self.http.is_some())
            // The URL may carry a password.
            .field("shared_budget", &self.redis_url.as_ref().map(|_| "<redis>"))
            .finish()
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientBuilder {
    /// The defaults (see `# Default`).
    ///
    /// ```
    /// let builder = helpcrunch_pager::ClientBuilder::new().api_key("my-key");
    /// assert!(builder.build().is_ok());
    /// ```
    pub fn new() -> Self {
        Self {
            api_key: None,
            base_url: DEFAULT_BASE_URL.to_owned(),
            requests_per_minute: DEFAULT_REQUESTS_PER_MINUTE,
            rate_margin: DEFAULT_MARGIN,
            adaptive: true,
            rate_window: DEFAULT_RATE_WINDOW,
            retry: RetryPolicy::new(),
            timeout: None,
            allow_insecure_http: false,
            http: None,
            redis_url: None,
        }
    }

    /// The account's API key, sent as `Authorization: Bearer <key>` and never printed.
    ///
    /// ```
    /// let e = helpcrunch_pager::Client::builder().api_key("").build().unwrap_err();
    /// assert_eq!(e.to_string(), "invalid input: the API key is empty");
    /// ```
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The API's base URL, including `/v1`.
    ///
    /// ```
    /// let local = helpcrunch_pager::Client::builder()
    ///     .api_key("my-key")
    ///     .base_url("http://127.0.0.1:8080/v1")
    ///     .build();
    /// assert!(local.is_ok());
    /// let clear_text = helpcrunch_pager::Client::builder()
    ///     .api_key("my-key")
    ///     .base_url("http://example.com/v1")
    ///     .build();
    /// assert!(clear_text.is_err());
    /// ```
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// The account's limit; the budget keeps a little under it (see
    /// [`rate_margin`](Self::rate_margin)). 0 is an error from [`build`](Self::build).
    ///
    /// ```
    /// use std::time::Duration;
    /// let client = helpcrunch_pager::Client::builder()
    ///     .api_key("my-key")
    ///     .requests_per_minute(600)
    ///     .rate_margin(0.0)
    ///     .build()?;
    /// assert_eq!(client.request_interval(), Duration::from_millis(100));
    /// # Ok::<(), helpcrunch_pager::Error>(())
    /// ```
    pub fn requests_per_minute(mut self, n: u32) -> Self {
        self.requests_per_minute = n;
        self
    }

    /// How much slower than the limit to go, as a fraction from 0.0 to 0.5 (default 0.02), to
    /// absorb jitter between sending and the server's count.
    ///
    /// ```
    /// use std::time::Duration;
    /// let client = helpcrunch_pager::Client::builder()
    ///     .api_key("my-key")
    ///     .requests_per_minute(600)
    ///     .rate_margin(0.1)
    ///     .build()?;
    /// assert_eq!(client.request_interval(), Duration::from_millis(110));
    /// # Ok::<(), helpcrunch_pager::Error>(())
    /// ```
    pub fn rate_margin(mut self, fraction: f64) -> Self {
        self.rate_margin = fraction;
        self
    }

    /// Whether the rate adapts to what the server allows (default: on). Adaptive, the budget
    /// lowers its rate after a 429 to a little under the pace that tripped it, climbs back
    /// towards the configured rate over about two of the server's windows (see
    /// [`rate_window`](Self::rate_window)), and takes a `X-RateLimit-Limit` or
    /// `RateLimit-Policy` lower than the configured rate as its ceiling. The configured rate is
    /// never exceeded either way. Off, the rate stays the configured one, and each 429 waits
    /// as the retry policy's backoff or the server's `Retry-After` says.
    ///
    /// ```
    /// let client = helpcrunch_pager::Client::builder()
    ///     .api_key("my-key")
    ///     .adaptive(false)
    ///     .build()?;
    /// assert_eq!(client.stats().rate_per_minute, 120.0 / 1.02);
    /// # Ok::<(), helpcrunch_pager::Error>(())
    /// ```
    pub fn adaptive(mut self, on: bool) -> Self {
        self.adaptive = on;
        self
    }

    /// The window the server counts its limit in (default 60 s: HelpCrunch's limit is per
    /// minute). The adaptive rate takes its time in windows: after a 429 it climbs back to
    /// just under the pace that tripped the limit over ¾ of a window, and from there to the
    /// configured rate over 1¼ more. Tests against a faster simulated limit set it to the
    /// simulator's window. Zero, or more than a day, is an error from [`build`](Self::build).
    ///
    /// ```
    /// use std::time::Duration;
    /// let client = helpcrunch_pager::Client::builder()
    ///     .api_key("my-key")
    ///     .requests_per_minute(1_200)
    ///     .rate_window(Duration::from_secs(6))
    ///     .build()?;
    /// # Ok::<(), helpcrunch_pager::Error>(())
    /// ```
    pub fn rate_window(mut self, window: Duration) -> Self {
        self.rate_window = window;
        self
    }

    /// Shares the rate budget with every process on this key and base URL through the Redis at
    /// `url` (`redis://[user:password@]host:port/db`; feature `redis`; no TLS). Without it,
    /// clients of one process on the same key and base URL share one budget anyway; with it,
    /// so do workers, cron jobs and replicas on any machine that reaches the Redis.
    ///
    /// `url` may name any node of a Redis Cluster (or Valkey's, or a managed service in
    /// cluster mode): the crate asks the node, finds it is in a cluster, and follows the
    /// cluster's map of slots, its redirections and its failovers. Several nodes may be given,
    /// separated by commas (`redis://10.0.0.1:6379,redis://10.0.0.2:6379`), so that one down
    /// at the start does not matter: they are asked at once and the first to answer is used.
    /// However many accounts' budgets a process holds on one Redis, they share one connection
    /// (one a node for a cluster).
    ///
    /// Requests then take turns at one GCRA schedule kept on Redis's clock; a 429 seen by any
    /// process pauses them all, and the adaptive rate is the fleet's. If Redis stops
    /// answering, each process warns once and keeps its own slots of the fleet's schedule (the
    /// rate divided by the processes last seen, by rank) until Redis answers again: never a
    /// stampede, never a hang. A Redis that refuses the client (a wrong password, no
    /// permission, no Lua scripting) fails the requests with [`Error::InvalidInput`] instead. A URL that cannot
    /// be read is an error from [`build`](Self::build), and so is a URL other than that of a
    /// live client of this process on the same key and base URL; a Redis that is down is not.
    /// The README's "Several workers on one key" tells the whole of it.
    ///
    /// ```
    /// let client = helpcrunch_pager::Client::builder()
    ///     .api_key("my-key")
    ///     .shared_budget("redis://127.0.0.1:6379/")
    ///     .build();
    /// # #[cfg(feature = "redis")]
    /// assert!(client.is_ok());
    /// ```
    pub fn shared_budget(mut self, url: impl Into<String>) -> Self {
        self.redis_url = Some(url.into());
        self
    }

    /// When to retry and how long to wait.
    ///
    /// ```
    /// use helpcrunch_pager::{Client, RetryPolicy};
    /// let client = Client::builder()
    ///     .api_key("my-key")
    ///     .retry_policy(RetryPolicy::new().with_max_attempts(3))
    ///     .build()?;
    /// # Ok::<(), helpcrunch_pager::Error>(())
    /// ```
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// How long one request may take before it counts as a timeout (and is retried). Default
    /// 30 s; with a [brought HTTP client](Self::http_client), that client's own unless set here.
    ///
    /// ```
    /// use std::time::Duration;
    /// let client = helpcrunch_pager::Client::builder()
    ///     .api_key("my-key")
    ///     .timeout(Duration::from_secs(10))
    ///     .build()?;
    /// # Ok::<(), helpcrunch_pager::Error>(())
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sends through `client` instead of an HTTP client of the crate's own: bring one for a
    /// proxy, extra root certificates, or a connection pool shared with the rest of the
    /// application. Its timeouts hold unless [`timeout`](Self::timeout) is set here too, and
    /// so does its user agent.
    ///
    /// Build it with `redirect(reqwest::redirect::Policy::none())`, as the crate's own is: a
    /// redirect it follows is a request the rate budget never saw (reqwest does drop the key's
    /// header when a redirect leads to another host). The crate cannot see a followed
    /// redirect until it is over; it then fails the request with [`Error::Redirect`] rather
    /// than take the answer as the one it asked for.
    ///
    /// ```
    /// use std::time::Duration;
    /// let http = reqwest::Client::builder()
    ///     .redirect(reqwest::redirect::Policy::none())
    ///     .connect_timeout(Duration::from_secs(5))
    ///     .build()
    ///     .unwrap();
    /// let client = helpcrunch_pager::Client::builder()
    ///     .api_key("my-key")
    ///     .http_client(http)
    ///     .timeout(Duration::from_secs(20))
    ///     .build()?;
    /// # Ok::<(), helpcrunch_pager::Error>(())
    /// ```
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Allows a plain `http` base URL to a host that is not loopback. The key then crosses the
    /// network in clear text.
    ///
    /// ```
    /// let client = helpcrunch_pager::Client::builder()
    ///     .api_key("my-key")
    ///     .base_url("http://helpcrunch-proxy.internal/v1")
    ///     .allow_insecure_http(true)
    ///     .build();
    /// assert!(client.is_ok());
    /// ```
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Checks the configuration and makes the client.
    ///
    /// ```
    /// let e = helpcrunch_pager::Client::builder()
    ///     .api_key("my-key")
    ///     .requests_per_minute(0)
    ///     .build()
    ///     .unwrap_err();
    /// assert!(e.to_string().contains("requests_per_minute"));
    /// ```
    pub fn build(self) -> Result<Client, Error> {
        let key = self.api_key.as_deref().unwrap_or_default();
        if key.trim().is_empty() {
            return Err(Error::InvalidInput("the API key is empty".into()));
        }
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", key.trim())).map_err(|_| {
            Error::InvalidInput("the API key has characters a header cannot carry".into())
        })?;
        auth.set_sensitive(true);
        let base_url = self.checked_base_url()?;
        if self.adaptive
            && (self.rate_window.is_zero() || self.rate_window > Duration::from_secs(86_400))
        {
            return Err(Error::InvalidInput(format!(
                "rate window {:?} is out of range: use more than zero and at most a day \
                 (HelpCrunch counts per minute)",
                self.rate_window
            )));
        }
        let budget = Budget::for_account(
            key.trim(),
            &base_url,
            Settings {
                requests_per_minute: self.requests_per_minute,
                margin: self.rate_margin,
                adaptive_window: self.adaptive.then_some(self.rate_window),
                redis_url: self.redis_url.clone(),
            },
        )?;
        if self.timeout.is_some_and(|t| t.is_zero()) {
            return Err(Error::InvalidInput(
                "the request timeout must be more than zero".into(),
            ));
        }
        let (http, request_timeout) = match self.http {
            Some(http) => (http, self.timeout),
            None => (Self::own_http_client(self.timeout)?, None),
        };
        Ok(Client::from_inner(Inner {
            http,
            request_timeout,
            base_url,
            auth,
            budget,
            retry: self.retry,
            counters: Counters::default(),
            answered: Default::default(),
            key: key.trim().into(),
        }))
    }

    /// The crate's own HTTP client: redirects refused, the timeout set.
    fn own_http_client(timeout: Option<Duration>) -> Result<reqwest::Client, Error> {
        let timeout = timeout.unwrap_or(DEFAULT_TIMEOUT);
        reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("helpcrunch-pager/", env!("CARGO_PKG_VERSION")))
            // A followed redirect would be a request the budget never saw, and would carry the
            // key to wherever the server pointed: a 3xx is an `Error::Redirect` instead.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::InvalidInput(format!("the HTTP client could not start: {e}")))
    }

    fn checked_base_url(&self) -> Result<String, Error> {
        let raw = self.base_url.trim().trim_end_matches('/');
        let url = Url::parse(raw)
            .map_err(|e| Error::InvalidInput(format!("base URL {raw:?} is not a URL: {e}")))?;
        if !url.username().is_empty() || url.password().is_some() {
            // reqwest would move it into a Basic `Authorization` beside the key's Bearer, and
            // Debug output would show it.
            return Err(Error::InvalidInput(
                "the base URL has a user name or password; HelpCrunch takes only the API key \
                 (a proxy's credentials belong in a brought http_client)"
                    .into(),
            ));
        }
        match url.scheme() {
            "https" => {}
            "http" if self.allow_insecure_http || is_loopback(&url) => {}
            "http" => {
                return Err(Error::InvalidInput(format!(
                    "base URL {raw:?} is plain http to a host that is not loopback; \
                     use https, or allow_insecure_http(true) to send the key in clear text"
                )))
            }
            other => {
                return Err(Error::InvalidInput(format!(
                    "base URL {raw:?} has scheme {other:?}; use https"
                )))
            }
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(Error::InvalidInput(format!(
                "base URL {raw:?} has a query or fragment"
            )));
        }
        Ok(raw.to_owned())
    }
}

fn is_loopback(url: &Url) -> bool {
    url.host_str().is_some_and(|host| {
        host.eq_ignore_ascii_case("localhost")
            || host
                .trim_matches(['[', ']'])
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    })
}

/// The ways to make a [`Client`]; here, beside the builder they start, so that the client
/// itself knows nothing of how it was configured.
impl Client {
    /// Starts configuring a client.
    ///
    /// ```
    /// let client = helpcrunch_pager::Client::builder().api_key("my-key").build()?;
    /// # Ok::<(), helpcrunch_pager::Error>(())
    /// ```
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// A client from the environment: the key from `HELPCRUNCH_API_KEY`, the base URL from
    /// `HELPCRUNCH_BASE_URL` and a budget shared through Redis from `HELPCRUNCH_REDIS_URL`
    /// (see [`ClientBuilder::shared_budget`]), each where it is set: the variables
    /// `helpcrunch-export` reads, so that a worker and an export on one key share one budget.
    /// `HELPCRUNCH_REDIS_URL` set without the crate's `redis` feature is an
    /// [`Error::InvalidInput`], not a budget quietly kept alone.
    ///
    /// ```no_run
    /// let client = helpcrunch_pager::Client::from_env()?;
    /// # Ok::<(), helpcrunch_pager::Error>(())
    /// ```
    pub fn from_env() -> Result<Self, Error> {
        let key = std::env::var("HELPCRUNCH_API_KEY").map_err(|_| {
            Error::InvalidInput(
                "HELPCRUNCH_API_KEY is not set: export your HelpCrunch API key".into(),
            )
        })?;
        let mut builder = Self::builder().api_key(key);
        if let Ok(url) = std::env::var("HELPCRUNCH_BASE_URL") {
            builder = builder.base_url(url);
        }
        match std::env::var("HELPCRUNCH_REDIS_URL") {
            Ok(url) if !url.trim().is_empty() => builder = builder.shared_budget(url),
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(Error::InvalidInput(
                    "HELPCRUNCH_REDIS_URL is not UTF-8 text, so not a Redis URL".into(),
                ))
            }
            _ => {}
        }
        builder.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk-secret-0123456789";

    fn build(url: &str) -> Result<Client, Error> {
        Client::builder().api_key(KEY).base_url(url).build()
    }

    #[test]
    fn neither_debug_shows_the_key() {
        let builder = Client::builder().api_key(KEY);
        assert!(!format!("{builder:?}").contains(KEY));
        let client = builder.build().unwrap();
        assert!(!format!("{client:?}").contains(KEY));
    }

    #[test]
    fn an_empty_key_or_zero_rate_is_refused_by_build() {
        assert!(matches!(
            Client::builder().build(),
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            Client::builder().api_key("  ").build(),
            Err(Error::InvalidInput(_))
        ));
        let e = Client::builder()
            .api_key(KEY)
            .requests_per_minute(0)
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("requests_per_minute"), "{e}");
    }

    #[test]
    fn a_zero_rate_is_refused_while_a_client_on_the_same_account_lives() {
        let _live = Client::builder()
            .api_key("a key of this test alone")
            .build()
            .unwrap();
        let e = Client::builder()
            .api_key("a key of this test alone")
            .requests_per_minute(0)
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("requests_per_minute"), "{e}");
    }

    #[test]
    fn base_urls_must_be_https_or_loopback_http() {
        assert!(build("https://api.helpcrunch.com/v1/").is_ok());
        assert!(build("http://127.0.0.1:8080/v1").is_ok());
        assert!(build("http://localhost:1/v1").is_ok());
        assert!(build("http://[::1]:1/v1").is_ok());
        assert!(build("http://example.com/v1").is_err());
        assert!(build("ftp://example.com/v1").is_err());
        assert!(build("not a url").is_err());
        assert!(build("https://api.helpcrunch.com/v1?x=1").is_err());
        assert!(build("https://user:pw@api.helpcrunch.com/v1").is_err());
        assert!(build("https://user@api.helpcrunch.com/v1").is_err());
        let opted_in = Client::builder()
            .api_key(KEY)
            .base_url("http://example.com/v1")
            .allow_insecure_http(true)
            .build();
        assert!(opted_in.is_ok());
    }
}
