//! The simulator's HTTP side: an accept loop on its own thread and runtime, and the handler
//! that turns one request into one answer.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

use super::data::Collection;
use super::errors::{error_body, errors_json};
use super::fault::{self, Fault};
use super::headers::Quota;
use super::log::RequestRecord;
use super::read::{query_param, Read};
use super::records::Kind;
use super::search;
use super::single;
use super::state::State;

#[derive(Debug)]
pub(super) struct ServerHandle {
    shutdown: oneshot::Sender<()>,
    thread: JoinHandle<()>,
}

impl ServerHandle {
    pub(super) fn stop(self) {
        let _ = self.shutdown.send(());
        let _ = self.thread.join();
    }
}

pub(super) fn spawn(
    listener: std::net::TcpListener,
    state: Arc<State>,
) -> std::io::Result<ServerHandle> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (shutdown, mut stopped) = oneshot::channel();
    let thread = std::thread::Builder::new().name("helpcrunch-simulator".into()).spawn(move || {
        runtime.block_on(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let _ = stream.set_nodelay(true);
                        let state = Arc::clone(&state);
                        tokio::spawn(async move {
                            let service = service_fn(move |req| answer(Arc::clone(&state), req));
                            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                        });
                    }
                }
            }
        });
        // Dropping the runtime here ends every connection still open.
    })?;
    Ok(ServerHandle { shutdown, thread })
}

struct Reply {
    /// 0 for no answer at all: the connection is dropped.
    status: u16,
    body: String,
    retry_after: Option<String>,
    fault: Option<Fault>,
    location: Option<String>,
    /// Where the client stands in the rate limit, for the headers that say so.
    quota: Option<Quota>,
}

/// What the service returns to make hyper drop the connection without an answer.
#[derive(Debug)]
struct Reset;

impl std::fmt::Display for Reset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("simulated connection reset")
    }
}

impl std::error::Error for Reset {}

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

    fn error(status: u16) -> Self {
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

/// The largest request body the simulator reads.
const MAX_REQUEST_BODY: usize = 1 << 20;

async fn answer(
    state: Arc<State>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Reset> {
    let now = Instant::now();
    let n = state.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_REQUEST_BODY).collect().await {
        Ok(collected) => Some(collected.to_bytes()),
        Err(_) => None,
    };
    let incoming = Incoming {
        method: &parts.method,
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        authorization: parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
        body: body.as_deref(),
    };
    let reply = match body {
        Some(_) => decide(&state, n, now, &incoming),
        None => Reply::error(413),
    };
    if reply.status == 429 {
        state.rate_limited.fetch_add(1, Ordering::SeqCst);
    }
    state
        .log
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(incoming.record(now.duration_since(state.started), &reply));
    if !state.config.latency.is_zero() {
        tokio::time::sleep(state.config.latency).await;
    }
    if let Some(Fault::Stall(wait)) = &reply.fault {
        tokio::time::sleep(*wait).await;
    }
    if reply.status == 0 {
        return Err(Reset);
    }
    let mut response = Response::builder().status(reply.status);
    if !reply.body.is_empty() {
        let content_type = if reply.body.starts_with('<') {
            "text/html"
        } else {
            "application/json"
        };
        response = response.header(CONTENT_TYPE, content_type);
    }
    // A Fault::RateLimited value that cannot be a header is left out rather than failing the
    // answer.
    if let Some(after) = reply
        .retry_after
        .as_deref()
        .and_then(|a| a.parse::<HeaderValue>().ok())
    {
        response = response.header(RETRY_AFTER, after);
    }
    if let Some(location) = &reply.location {
        response = response.header(hyper::header::LOCATION, location);
    }
    for (name, value) in reply.quota.iter().flat_map(Quota::headers) {
        response = response.header(name, value);
    }
    Ok(response
        .body(Full::new(Bytes::from(reply.body)))
        .expect("a valid status and headers"))
}

/// The parts of a request the simulator looks at.
struct Incoming<'a> {
    method: &'a Method,
    path: &'a str,
    query: &'a str,
    authorization: Option<&'a str>,
    body: Option<&'a [u8]>,
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

    fn record(&self, at: std::time::Duration, reply: &Reply) -> RequestRecord {
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

fn decide(state: &State, n: u64, now: Instant, req: &Incoming<'_>) -> Reply {
    let config = &state.config;
    let expected = format!("Bearer {}", config.api_key);
    if req.authorization != Some(expected.as_str()) {
        return Reply::error(401);
    }
    let mut quota = None;
    if let Some(rate) = state
        .rate
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_mut()
    {
        let checked = rate.check(now);
        quota = config.rate_headers.then(|| rate.quota(now));
        if let Err(wait) = checked {
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
    let mut collections = state.collections.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((key, id)) = single::route(&collections, req.method, path) {
        let collection = collections.get_mut(key).expect("routed to a collection");
        // A request for one record reads no window: it is due what one with no offset is.
        mutate(state, n, &Read::from_offset(0), collection);
        let mut changes = state.changes.lock().unwrap_or_else(|p| p.into_inner());
        let body = req.body.unwrap_or_default();
        let (status, body) = single::answer(collection, req.method, id, body, &mut changes.0);
        return Reply::new(status, body);
    }
    let Some(collection) = key.and_then(|key| collections.get_mut(key)) else {
        if *req.method != Method::POST && path.starts_with("chats/") && path.ends_with("/messages")
        {
            return Reply::new(404, errors_json(&[("not_found", "Chat not found")]));
        }
        return Reply::error(404);
    };
    let kind = collection.kind;
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
    mutate(state, n, due_before, collection);
    match read {
        Some(Ok(read)) => Reply::ok(read.page(collection, state.config.total_skew)),
        Some(Err(errors)) => Reply::invalid(&errors),
        None => Reply::error(404),
    }
}

/// Applies the mutations due before request `n` to the collection it reads.
fn mutate(state: &State, n: u64, read: &Read, collection: &mut Collection) {
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
        collection.apply(*mutation, read, rng, log);
    }
}
