//! Single calls: [`Client::get`], [`post`](Client::post), [`put`](Client::put),
//! [`patch`](Client::patch) and [`delete`](Client::delete), each a [`Call`] that goes through
//! the same rate budget and retry policy as the scans.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;

use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::{field, Instrument};

use crate::error::Error;
use crate::http::client::{Client, Outgoing};
use crate::http::target::{self, Query};
use crate::rate::priority::Priority;

/// One request to HelpCrunch, made by [`Client::get`], [`post`](Client::post),
/// [`put`](Client::put), [`patch`](Client::patch) or [`delete`](Client::delete). Nothing is
/// sent until it is awaited (or [`send`](Self::send) is).
///
/// It takes its turn at the account's rate budget, ahead of queued scan windows unless its
/// [`priority`](Self::priority) says otherwise, and is retried as the client's
/// [`RetryPolicy`](crate::RetryPolicy) says, with one rule more: a `POST` or `PATCH` is sent
/// again only where the server surely never acted on it (a 429, a connection that was never
/// made), unless the call is marked [`idempotent`](Self::idempotent). A `GET`, `PUT` or
/// `DELETE` is idempotent by its method.
///
/// The answer's JSON is decoded into `T`: a model, `serde_json::Value`, or `()` (or any
/// `Option`) for an answer with no body.
///
/// ```no_run
/// use helpcrunch_pager::{Chat, Client};
///
/// # async fn run() -> Result<(), helpcrunch_pager::Error> {
/// let client = Client::from_env()?;
/// let chat: Chat = client.get("chats/42").await?;
/// let created: serde_json::Value = client
///     .post("customers", &serde_json::json!({"name": "Ada", "email": "ada@example.com"}))
///     .await?;
/// # Ok(()) }
/// ```
#[must_use = "a call does nothing until it is awaited"]
pub struct Call<T> {
    client: Client,
    method: Method,
    path: String,
    /// The JSON body, or why it could not be written.
    body: Result<Option<Vec<u8>>, String>,
    priority: Priority,
    idempotent: bool,
    answer: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for Call<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The body and the query may carry a customer's details: neither is shown.
        f.debug_struct("Call")
            .field("method", &self.method)
            .field("path", &without_query(&self.path))
            .field("priority", &self.priority)
            .field("idempotent", &self.idempotent)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// `GET path`, such as `chats/42` or `customers?email=ada%40example.com`: the path is
    /// relative to the base URL and may carry a query string.
    ///
    /// ```no_run
    /// # async fn run(client: helpcrunch_pager::Client) -> Result<(), helpcrunch_pager::Error> {
    /// let department: helpcrunch_pager::Department = client.get("departments/3").await?;
    /// # Ok(()) }
    /// ```
    pub fn get<T: DeserializeOwned>(&self, path: impl Into<String>) -> Call<T> {
        Call::new(self, Method::GET, path.into(), Ok(None))
    }

    /// `POST path` with `body` as JSON. Not sent twice unless marked
    /// [`idempotent`](Call::idempotent) (see [`Call`]).
    ///
    /// ```no_run
    /// # async fn run(client: helpcrunch_pager::Client) -> Result<(), helpcrunch_pager::Error> {
    /// let body = serde_json::json!({"chat": 42, "text": "Hello!", "type": "message"});
    /// let sent: serde_json::Value = client.post("messages", &body).await?;
    /// # Ok(()) }
    /// ```
    pub fn post<T: DeserializeOwned>(
        &self,
        path: impl Into<String>,
        body: &(impl Serialize + ?Sized),
    ) -> Call<T> {
        Call::new(self, Method::POST, path.into(), json(body))
    }

    /// `PUT path` with `body` as JSON.
    ///
    /// ```no_run
    /// # async fn run(client: helpcrunch_pager::Client) -> Result<(), helpcrunch_pager::Error> {
    /// let body = serde_json::json!({"name": "Ada Lovelace"});
    /// let customer: helpcrunch_pager::Customer = client.put("customers/7", &body).await?;
    /// # Ok(()) }
    /// ```
    pub fn put<T: DeserializeOwned>(
        &self,
        path: impl Into<String>,
        body: &(impl Serialize + ?Sized),
    ) -> Call<T> {
        Call::new(self, Method::PUT, path.into(), json(body))
    }

    /// `PATCH path` with `body` as JSON. Not sent twice unless marked
    /// [`idempotent`](Call::idempotent) (see [`Call`]).
    ///
    /// ```no_run
    /// # async fn run(client: helpcrunch_pager::Client) -> Result<(), helpcrunch_pager::Error> {
    /// let body = serde_json::json!({"status": "closed"});
    /// let chat: serde_json::Value = client.patch("chats/42", &body).idempotent(true).await?;
    /// # Ok(()) }
    /// ```
    pub fn patch<T: DeserializeOwned>(
        &self,
        path: impl Into<String>,
        body: &(impl Serialize + ?Sized),
    ) -> Call<T> {
        Call::new(self, Method::PATCH, path.into(), json(body))
    }

    /// `DELETE path`. An answer with no body decodes as `()`.
    ///
    /// ```no_run
    /// # async fn run(client: helpcrunch_pager::Client) -> Result<(), helpcrunch_pager::Error> {
    /// client.delete::<()>("customers/7").await?;
    /// # Ok(()) }
    /// ```
    pub fn delete<T: DeserializeOwned>(&self, path: impl Into<String>) -> Call<T> {
        Call::new(self, Method::DELETE, path.into(), Ok(None))
    }
}

fn json(body: &(impl Serialize + ?Sized)) -> Result<Option<Vec<u8>>, String> {
    serde_json::to_vec(body)
        .map(Some)
        .map_err(|e| format!("the body cannot be written as JSON: {e}"))
}

impl<T> Call<T> {
    fn new(
        client: &Client,
        method: Method,
        path: String,
        body: Result<Option<Vec<u8>>, String>,
    ) -> Self {
        let idempotent = matches!(method, Method::GET | Method::PUT | Method::DELETE);
        Self {
            client: client.clone(),
            method,
            path,
            body,
            priority: Priority::Interactive,
            idempotent,
            answer: PhantomData,
        }
    }

    /// The budget's lane (default [`Priority::Interactive`]): a call made by a batch job may
    /// queue with the scans instead.
    ///
    /// ```no_run
    /// use helpcrunch_pager::Priority;
    /// # async fn run(client: helpcrunch_pager::Client) -> Result<(), helpcrunch_pager::Error> {
    /// let chat: serde_json::Value = client.get("chats/42").priority(Priority::Background).await?;
    /// # Ok(()) }
    /// ```
    pub fn priority(mut self, priority: Priority) -> Self {
        self.priority = priority;
        self
    }

    /// Whether sending the call twice is as good as once, so that it may be retried after a
    /// failure the server may have seen (a timeout, a 502). `GET`, `PUT` and `DELETE` are by
    /// default; a `POST` or `PATCH` is only when marked, as a `POST` that carries its own
    /// deduplication key may be.
    ///
    /// ```no_run
    /// # async fn run(client: helpcrunch_pager::Client) -> Result<(), helpcrunch_pager::Error> {
    /// let body = serde_json::json!({"filter": [], "limit": 10});
    /// let found: serde_json::Value = client
    ///     .post("customers/search", &body)
    ///     .idempotent(true)
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn idempotent(mut self, yes: bool) -> Self {
        self.idempotent = yes;
        self
    }
}

impl<T: DeserializeOwned> Call<T> {
    /// Sends the call and decodes its answer; the same as awaiting it.
    ///
    /// ```no_run
    /// # async fn run(client: helpcrunch_pager::Client) -> Result<(), helpcrunch_pager::Error> {
    /// let agents = client.get::<serde_json::Value>("agents?limit=5").send().await?;
    /// # Ok(()) }
    /// ```
    pub async fn send(self) -> Result<T, Error> {
        let url = self.url()?;
        let body = self.body.map_err(Error::InvalidInput)?;
        let path = without_query(&self.path);
        let span = tracing::debug_span!(
            "helpcrunch_call",
            method = %self.method,
            path = %path,
            attempt = field::Empty,
            status = field::Empty,
        );
        let out = Outgoing {
            method: self.method,
            url,
            body: body.as_deref(),
            path,
            offset: None,
            lane: self.priority,
            idempotent: self.idempotent,
        };
        let decode = |bytes: &[u8], _date| {
            // No body (a 204, say) reads as JSON's null: `()` and `Option` take it.
            let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
                b"null".as_slice()
            } else {
                bytes
            };
            serde_json::from_slice::<T>(bytes).map_err(|e| {
                let error = Error::Decode {
                    path: path.to_owned(),
                    offset: None,
                    message: e.to_string(),
                };
                (false, error)
            })
        };
        self.client.send(&out, decode).instrument(span).await
    }

    /// The call's URL: the base URL and the path, which must stay under it.
    fn url(&self) -> Result<Url, Error> {
        target::resolve(self.client.base_url(), &self.path, Query::Allowed)
    }
}

/// The path without its query, which may carry a customer's details: what errors and traces
/// name.
fn without_query(path: &str) -> &str {
    path.split_once('?').map_or(path, |(route, _)| route)
}

impl<T: DeserializeOwned + Send + 'static> IntoFuture for Call<T> {
    type Output = Result<T, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<T, Error>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Client {
        Client::builder()
            .api_key("key")
            .base_url("http://127.0.0.1:9/v1")
            .build()
            .unwrap()
    }

    #[test]
    fn a_path_is_relative_to_the_base_url_and_may_carry_a_query() {
        let c = client();
        let url = |p: &str| c.get::<()>(p).url().map(String::from);
        assert_eq!(url("chats/42").unwrap(), "http://127.0.0.1:9/v1/chats/42");
        assert_eq!(url("/chats/42").unwrap(), "http://127.0.0.1:9/v1/chats/42");
        assert_eq!(
            url("customers?email=ada%40example.com").unwrap(),
            "http://127.0.0.1:9/v1/customers?email=ada%40example.com"
        );
        for bad in [
            "",
            "?x=1",
            "../admin",
            "chats/%2e%2e/x",
            "chats/.%2e/x",
            "https://evil/x",
            "//evil/x",
            "a#b",
        ] {
            assert!(
                matches!(url(bad), Err(Error::InvalidInput(_))),
                "{bad:?}: {:?}",
                url(bad)
            );
        }
    }

    #[test]
    fn posts_and_patches_are_not_idempotent_unless_marked() {
        let c = client();
        assert!(c.get::<()>("chats/1").idempotent);
        assert!(c.put::<()>("chats/1", &()).idempotent);
        assert!(c.delete::<()>("chats/1").idempotent);
        assert!(!c.post::<()>("chats", &()).idempotent);
        assert!(!c.patch::<()>("chats/1", &()).idempotent);
        assert!(c.post::<()>("chats", &()).idempotent(true).idempotent);
        assert_eq!(c.get::<()>("chats/1").priority, Priority::Interactive);
    }

    #[test]
    fn debug_shows_neither_the_query_nor_the_body() {
        let c = client();
        let call = c.post::<()>("customers?email=ada%40example.com", &"secret body");
        let shown = format!("{call:?}");
        assert!(
            !shown.contains("ada") && !shown.contains("secret"),
            "{shown}"
        );
    }
}
