//! [`ListRequest`]: what a paginator asks for, a `GET` with query parameters or a search `POST`
//! with a JSON body, and how one window of it becomes a URL and a body.

use std::time::SystemTime;

use reqwest::{Method, Url};
use serde_json::{Map, Value};
use tracing::{field, Instrument};

use crate::error::Error;
use crate::http::client::{Client, Outgoing};
use crate::http::target::{self, Query};
use crate::paging::envelope;
use crate::paging::window::Window;
use crate::rate::priority::Priority;

/// A collection to page through: its path, extra query parameters and, for the search
/// endpoints, the JSON body that `offset` and `limit` are added to.
#[derive(Debug, Clone)]
pub(crate) struct ListRequest {
    pub(crate) path: String,
    pub(crate) query: Vec<(String, String)>,
    /// `Some` for a `POST` search. Checked to be an object by [`validate`](Self::validate).
    pub(crate) body: Option<Value>,
    /// The budget's lane for the scan's requests: background unless the caller said.
    pub(crate) priority: Priority,
}

impl ListRequest {
    /// Fetches one window of the list, under the budget and the retry policy, and decodes it
    /// with `decode` (the scan's reads the page and what it knows each record by); with the
    /// answer's `Date`, the server's clock.
    pub(crate) async fn fetch<P>(
        &self,
        client: &Client,
        window: Window,
        decode: impl Fn(&[u8], Window) -> Result<P, envelope::DecodeError>,
    ) -> Result<(P, Option<SystemTime>), Error> {
        let span = tracing::debug_span!(
            "helpcrunch_page",
            path = %self.path,
            offset = window.offset,
            limit = window.limit,
            attempt = field::Empty,
            status = field::Empty,
        );
        let body = self.body(window);
        let out = Outgoing {
            method: if body.is_some() {
                Method::POST
            } else {
                Method::GET
            },
            url: self.url(client.base_url(), window)?,
            body: body.as_deref(),
            path: &self.path,
            offset: Some(window.offset),
            lane: self.priority,
            // Reading a window, even through a search's POST, changes nothing.
            idempotent: true,
        };
        client
            .send(&out, |bytes, date| {
                decode(bytes, window)
                    .map(|page| (page, date))
                    .map_err(|e| e.into_error(self.path.clone(), window.offset))
            })
            .instrument(span)
            .await
    }

    /// A `GET` list endpoint.
    pub(crate) fn get(path: String) -> Self {
        Self {
            path,
            query: Vec::new(),
            body: None,
            priority: Priority::Background,
        }
    }

    /// A `POST` search endpoint with `body`.
    pub(crate) fn search(path: String, body: Value) -> Self {
        Self {
            path,
            query: Vec::new(),
            body: Some(body),
            priority: Priority::Background,
        }
    }

    /// Sets a parameter the endpoint takes, such as `sort`: in the body of a search, as a query
    /// parameter otherwise. A second call replaces the first.
    pub(crate) fn set_param(&mut self, key: &str, value: &str) {
        if let Some(Value::Object(body)) = &mut self.body {
            body.insert(key.to_owned(), Value::String(value.to_owned()));
            return;
        }
        self.query.retain(|(k, _)| k != key);
        self.query.push((key.to_owned(), value.to_owned()));
    }

    /// A parameter the endpoint takes, such as `sort`: from the body of a search, from the
    /// query otherwise.
    pub(crate) fn param(&self, key: &str) -> Option<String> {
        match &self.body {
            Some(Value::Object(body)) => body.get(key).map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }),
            _ => self
                .query
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone()),
        }
    }

    /// Refuses what cannot be a collection request under `base_url`, before anything is sent.
    pub(crate) fn validate(&self, base_url: &str) -> Result<(), Error> {
        target::resolve(base_url, &self.path, Query::Refused)?;
        if let Some((k, _)) = self.query.iter().find(|(k, _)| is_paging_key(k)) {
            return Err(Error::InvalidInput(format!(
                "query parameter {k:?} is set by the paginator: use .start_offset() or .page_size()"
            )));
        }
        match &self.body {
            None => Ok(()),
            Some(Value::Object(body)) => match body.keys().find(|k| is_paging_key(k)) {
                Some(k) => Err(Error::InvalidInput(format!(
                    "the search body's {k:?} is set by the paginator: leave it out and use \
                     .start_offset() or .page_size()"
                ))),
                None => Ok(()),
            },
            Some(other) => Err(Error::InvalidInput(format!(
                "a search body must be a JSON object, such as {{\"filter\": [...]}}, not {}",
                kind(other)
            ))),
        }
    }

    /// The URL of one window: the query parameters, then `offset` and `limit` unless they go
    /// in the body.
    pub(crate) fn url(&self, base_url: &str, window: Window) -> Result<Url, Error> {
        let mut url = target::resolve(base_url, &self.path, Query::Refused)?;
        let mut pairs: Vec<(&str, String)> = self
            .query
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        if self.body.is_none() {
            pairs.push(("offset", window.offset.to_string()));
            pairs.push(("limit", window.limit.to_string()));
        }
        if !pairs.is_empty() {
            url.query_pairs_mut().extend_pairs(pairs);
        }
        Ok(url)
    }

    /// The body of one window of a search: the caller's body, unchanged, with `offset` and
    /// `limit` added. `None` for a `GET`.
    pub(crate) fn body(&self, window: Window) -> Option<Vec<u8>> {
        let Some(Value::Object(body)) = &self.body else {
            return None;
        };
        let mut body: Map<String, Value> = body.clone();
        body.insert("offset".into(), window.offset.into());
        body.insert("limit".into(), window.limit.into());
        Some(serde_json::to_vec(&body).expect("a JSON map always serializes"))
    }
}

fn is_paging_key(key: &str) -> bool {
    key == "offset" || key == "limit"
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const WINDOW: Window = Window {
        offset: 200,
        limit: 50,
    };

    fn get(path: &str, query: &[(&str, &str)]) -> ListRequest {
        let mut r = ListRequest::get(path.into());
        r.query = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        r
    }

    const BASE: &str = "http://127.0.0.1:9/v1";

    #[test]
    fn paths_that_escape_or_carry_a_query_are_refused() {
        assert!(get("departments", &[]).validate(BASE).is_ok());
        assert!(get("chats/42/messages", &[("x", "y")])
            .validate(BASE)
            .is_ok());
        for bad in [
            "",
            " ",
            "departments?limit=5",
            "../admin",
            "%2e%2e/admin",
            "..%2fadmin",
            "..\\admin",
            "a/./b",
            "https://evil/x",
            "//evil/x",
        ] {
            assert!(get(bad, &[]).validate(BASE).is_err(), "{bad:?}");
            assert!(get(bad, &[]).url(BASE, WINDOW).is_err(), "{bad:?}");
        }
        assert!(get("departments", &[("limit", "5")])
            .validate(BASE)
            .is_err());
    }

    #[test]
    fn a_search_body_must_be_an_object_without_offset_or_limit() {
        let search = |body| ListRequest::search("chats/search".into(), body);
        assert!(search(json!({"filter": []})).validate(BASE).is_ok());
        assert!(search(json!({})).validate(BASE).is_ok());
        let e = search(json!([])).validate(BASE).unwrap_err();
        assert!(e.to_string().contains("not an array"), "{e}");
        let e = search(json!({"limit": 10})).validate(BASE).unwrap_err();
        assert!(e.to_string().contains("\"limit\""), "{e}");
    }

    #[test]
    fn a_get_window_goes_in_the_query_after_the_extra_parameters() {
        let r = get("chats", &[("sort", "chats.createdAt")]);
        let url = r.url("http://127.0.0.1:9/v1", WINDOW).unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/v1/chats?sort=chats.createdAt&offset=200&limit=50"
        );
        assert_eq!(r.body(WINDOW), None);
    }

    #[test]
    fn a_search_window_goes_in_the_body_and_the_rest_is_unchanged() {
        let original = json!({
            "comparison": "OR",
            "filter": [{"field": "chats.status", "operator": "=", "value": "3"}],
            "sort": "chats.createdAt",
            "order": "desc",
        });
        let r = ListRequest::search("chats/search".into(), original.clone());
        let url = r.url("http://127.0.0.1:9/v1", WINDOW).unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:9/v1/chats/search");
        let sent: Value = serde_json::from_slice(&r.body(WINDOW).unwrap()).unwrap();
        let mut expected = original;
        expected["offset"] = json!(200);
        expected["limit"] = json!(50);
        assert_eq!(sent, expected);
    }

    #[test]
    fn parameters_go_in_the_body_of_a_search_and_the_query_otherwise() {
        let mut r = get("chats", &[]);
        r.set_param("sort", "chats.closedAt");
        r.set_param("sort", "chats.createdAt");
        assert_eq!(r.query, [("sort".to_owned(), "chats.createdAt".to_owned())]);
        let mut s = ListRequest::search("chats/search".into(), json!({"filter": []}));
        s.set_param("order", "asc");
        assert!(s.query.is_empty());
        assert_eq!(s.body.unwrap()["order"], "asc");
    }
}
