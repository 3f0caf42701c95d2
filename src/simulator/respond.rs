//! What one request is answered, decided from its parts before any of it is written: the key,
//! then the rate limit, then a fault chosen for the request, and otherwise the page or the
//! record it asks for (with the mutations due before it applied), or the API's error for a bad
//! request.

use std::sync::atomic::Ordering;
use std::time::Instant;

use hyper::Method;

use super::account::Account;
use super::errors::{error_body, errors_json};
use super::fault::{self, Fault};
use super::headers::Quota;
use super::log::RequestRecord;
use super::read::{query_param, Read};
use super::records::Kind;
use super::search;
use super::single;
use super::state::State;

/// The answer to one request, as `server.rs` writes it.
pub(super) struct Reply {
    /// 0 for no answer at all: the connection is dropped.
    pub(super) status: u16,
    pub(super) body: String,
    pub(super) retry_after: Option<String>,
    pub(super) fault: Option<Fault>,
    pub(super) location: Option<String>,
    /// Where the client stands in the rate limit, for the headers that say so.
    pub(super) quota: Option<Quota>,
}

impl Reply {
    /// `status` with `body`, and no header or fault of note.
    fn new(status: u16, body: String) -> Self {
        Self {
            status,
            body,
            retry_after: None,
            fault: None,
            location: None,
            quota: None,
        }
    }

    fn reset() -> Self {
        Self::new(0, String::new())
    }

    fn ok(body: String) -> Self {
        Self::new(200, body)
    }

    pub(super) fn error(status: u16) -> Self {
        Self::new(status, error_body(status))
    }

    /// A 400 with `invalid_request` and one entry per field error, as HelpCrunch sends it.
    fn invalid(fields: &[search::FieldError]) -> Self {
        let mut entries = vec![("invalid_request", "Invalid request")];
        entries.extend(
            fields
                .iter()
                .map(|(code, message)| (code.as_str(), *message)),
        );
        Self::new(400, errors_json(&entries))
    }
}

/// The parts of a request the simulator looks at.
pub(super) struct Incoming<'a> {
    pub(super) method: &'a Method,
    pub(super) path: &'a str,
    pub(super) query: &'a str,
    pub(super) authorization: Option<&'a str>,
    pub(super) body: Option<&'a [u8]>,
}

impl Incoming<'_> {
    /// The `offset` asked for: in the query, or in the body of a search.
    fn offset(&self) -> Option<u64> {
        match self.body.filter(|b| !b.is_empty()) {
            Some(body) => serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.get("offset").and_then(serde_json::Value::as_u64)),
            None => query_param(self.query, "offset").and_then(|o| o.parse().ok()),
        }
    }

    /// The request as the log keeps it, answered with `reply`.
    pub(super) fn record(&self, at: std::time::Duration, reply: &Reply) -> RequestRecord {
        let body = self
            .body
            .filter(|b| !b.is_empty())
            .map(|b| String::from_utf8_lossy(b).into_owned());
        let offset = self.offset();
        RequestRecord {
            at,
            method: self.method.as_str().to_owned(),
            path: self.path.to_owned(),
            query: self.query.to_owned(),
            body,
            offset,
            status: reply.status,
            fault: reply.fault.clone(),
        }
    }
}

/// The answer to request `n`, arrived at `now`.
pub(super) fn decide(state: &State, n: u64, now: Instant, req: &Incoming<'_>) -> Reply {
    let config = &state.config;
    let key = req.authorization.and_then(|a| a.strip_prefix("Bearer "));
    let Some(account) = key.and_then(|key| state.accounts.get(key)) else {
        return Reply::error(401);
    };
    account.requests.fetch_add(1, Ordering::SeqCst);
    let mut quota = None;
    if let Some(rate) = account
        .rate
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_mut()
    {
        let checked = rate.check(now);
        quota = config.rate_headers.then(|| rate.quota(now));
        if let Err(wait) = checked {
            account.rate_limited.fetch_add(1, Ordering::SeqCst);
            let retry_after = config
                .retry_after
                .then(|| (wait.as_secs_f64().ceil().max(1.0) as u64).to_string());
            return Reply {
                retry_after,
                quota,
                ..Reply::error(429)
            };
        }
    }
    Reply {
        quota,
        ..serve(state, n, req)
    }
}

/// The answer to a request the rate limit has let through: a fault, or the page.
fn serve(state: &State, n: u64, req: &Incoming<'_>) -> Reply {
    let config = &state.config;
    let fault = config
        .faults
        .get(&n)
        .or_else(|| fault::random(&config.fault_rates, config.seed, n));
    match fault.map(|f| (f, f.reply())) {
        Some((f, Some((status, body)))) => {
            let retry_after = match f {
                Fault::RateLimited(after) => Some(after.clone()),
                _ => None,
            };
            return Reply {
                fault: Some(f.clone()),
                retry_after,
                ..Reply::new(status, body)
            };
        }
        Some((Fault::Redirect(to), None)) => {
            let query = if req.query.is_empty() {
                String::new()
            } else {
                format!("?{}", req.query)
            };
            let path = req.path.strip_prefix("/v1").unwrap_or(req.path);
            return Reply {
                fault: Some(Fault::Redirect(to.clone())),
                location: Some(format!("{}{path}{query}", to.trim_end_matches('/'))),
                ..Reply::new(302, String::new())
            };
        }
        Some((Fault::Reset, None)) => {
            return Reply {
                fault: Some(Fault::Reset),
                ..Reply::reset()
            }
        }
        _ => {}
    }
    let mut reply = page(state, n, req);
    if let Some(fault) = fault.filter(|_| reply.status == 200) {
        reply.body = fault.spoil(&reply.body);
        reply.fault = Some(fault.clone());
    }
    reply
}

/// The answer a request gets when nothing goes wrong: a page or a record (see `single.rs`), or
/// the API's error for a bad request.
fn page(state: &State, n: u64, req: &Incoming<'_>) -> Reply {
    let path = req
        .path
        .strip_prefix("/v1/")
        .unwrap_or("")
        .trim_end_matches('/');
    let key = match *req.method {
        Method::GET => Some(path),
        Method::POST => path.strip_suffix("/search"),
        _ => None,
    };
    let mut account = state.account.lock().unwrap_or_else(|p| p.into_inner());
    let now = state.clock.now();
    if let Some((key, id)) = single::route(|k| account.has(k), req.method, path) {
        // A request for one record reads no window: it is due what one with no offset is.
        mutate(state, n, key, &Read::from_offset(0), &mut account);
        let mut changes = state.changes.lock().unwrap_or_else(|p| p.into_inner());
        let body = req.body.unwrap_or_default();
        let (status, body) = account.answer(key, (req.method, id, body), &mut changes.0, now);
        return Reply::new(status, body);
    }
    let Some((key, kind)) = key.and_then(|key| Some((key, account.get(key)?.kind))) else {
        if *req.method != Method::POST && path.starts_with("chats/") && path.ends_with("/messages")
        {
            return Reply::new(404, errors_json(&[("not_found", "Chat not found")]));
        }
        return Reply::error(404);
    };
    let read = match *req.method {
        Method::GET => Some(Read::list(kind, req.query)),
        _ if matches!(kind, Kind::Customer | Kind::Chat) => {
            Some(Read::search(kind, req.body.unwrap_or_default()))
        }
        _ => None,
    };
    let refused;
    let due_before = match &read {
        Some(Ok(read)) => read,
        _ => {
            refused = Read::from_offset(req.offset().unwrap_or(0));
            &refused
        }
    };
    mutate(state, n, key, due_before, &mut account);
    // A mutation may have deleted the chat whose messages these were.
    let Some(collection) = account.get(key) else {
        return Reply::new(404, errors_json(&[("not_found", "Chat not found")]));
    };
    match read {
        Some(Ok(read)) => Reply::ok(read.page(collection, state.config.total_skew)),
        Some(Err(errors)) => Reply::invalid(&errors),
        None => Reply::error(404),
    }
}

/// Applies the mutations due before request `n` to the collection at `key`, which it reads.
fn mutate(state: &State, n: u64, key: &str, read: &Read, account: &mut Account) {
    let config = &state.config;
    let due = config.mutations.get(&n).into_iter().flatten().chain(
        config
            .mutate_every
            .iter()
            .filter(|(k, _)| n.is_multiple_of(*k))
            .map(|(_, m)| m),
    );
    let mut changes = state.changes.lock().unwrap_or_else(|p| p.into_inner());
    let (log, rng) = &mut *changes;
    for mutation in due {
        account.apply(key, *mutation, read, (rng, log), state.clock.now());
    }
}
