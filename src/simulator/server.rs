//! The simulator's HTTP side: an accept loop on its own thread and runtime, and the handler
//! that turns one request into one answer.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

use super::data::{Collection, TotalStyle};
use super::fault::{error_body, errors_json};
use super::records::Kind;
use super::search;
use super::Fault;
use super::{RequestRecord, State};

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
    retry_after: Option<u64>,
    fault: Option<Fault>,
    location: Option<String>,
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
    let content_type = if reply.body.starts_with('<') {
        "text/html"
    } else {
        "application/json"
    };
    let mut response = Response::builder()
        .status(reply.status)
        .header(CONTENT_TYPE, content_type);
    if let Some(secs) = reply.retry_after {
        response = response.header(RETRY_AFTER, secs);
    }
    if let Some(location) = &reply.location {
        response = response.header(hyper::header::LOCATION, location);
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
    if let Some(rate) = state
        .rate
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_mut()
    {
        if let Err(wait) = rate.check(now) {
            let retry_after = config
                .retry_after
                .then(|| wait.as_secs_f64().ceil().max(1.0) as u64);
            return Reply {
                retry_after,
                ..Reply::error(429)
            };
        }
    }
    let fault = config
        .faults
        .get(&n)
        .or_else(|| super::fault::random(config, n));
    match fault.map(|f| (f, f.reply())) {
        Some((f, Some((status, body)))) => {
            return Reply {
                fault: Some(f.clone()),
                ..Reply::new(status, body)
            }
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

/// The answer a request gets when nothing goes wrong: a page, or the API's error for a bad one.
fn page(state: &State, n: u64, req: &Incoming<'_>) -> Reply {
    let config = &state.config;
    let path = req
        .path
        .strip_prefix("/v1/")
        .unwrap_or("")
        .trim_end_matches('/');
    let skew = config.total_skew;
    let mut collections = state.collections.lock().unwrap_or_else(|p| p.into_inner());
    let target = match *req.method {
        Method::GET => Some(path),
        Method::POST => path.strip_suffix("/search"),
        _ => None,
    }
    .filter(|key| collections.contains_key(*key));
    if let Some(collection) = target.and_then(|key| collections.get_mut(key)) {
        mutate(state, n, req.offset(), collection);
    }
    match (req.method, target.and_then(|key| collections.get(key))) {
        (&Method::GET, Some(collection)) => list(collection, req.query, skew),
        (&Method::POST, Some(collection))
            if matches!(collection.kind, Kind::Customer | Kind::Chat) =>
        {
            search(collection, req.body.unwrap_or_default(), skew)
        }
        (&Method::POST, _) => Reply::error(404),
        (_, None) if path.starts_with("chats/") && path.ends_with("/messages") => {
            Reply::new(404, errors_json(&[("not_found", "Chat not found")]))
        }
        _ => Reply::error(404),
    }
}

/// Applies the mutations due before request `n` to the collection it reads.
fn mutate(state: &State, n: u64, cursor: Option<u64>, collection: &mut Collection) {
    let config = &state.config;
    let due = config.mutations.get(&n).into_iter().flatten().chain(
        config
            .mutate_every
            .iter()
            .filter(|(k, _)| n % k == 0)
            .map(|(_, m)| m),
    );
    let mut changes = state.changes.lock().unwrap_or_else(|p| p.into_inner());
    let (log, rng) = &mut *changes;
    for mutation in due {
        collection.apply(*mutation, cursor.unwrap_or(0), rng, log);
    }
}

/// A page of a `GET` list.
fn list(collection: &Collection, query: &str, skew: i64) -> Reply {
    let param = |name| query_param(query, name);
    let sortable = matches!(collection.kind, Kind::Customer | Kind::Chat);
    let reverse = if sortable {
        search::sort_order(
            collection.kind,
            param("sort").as_deref(),
            param("order").as_deref(),
        )
    } else {
        Ok(false)
    };
    let window = search::window(
        param("offset").map(serde_json::Value::String).as_ref(),
        param("limit").map(serde_json::Value::String).as_ref(),
    );
    match reverse.and_then(|r| window.map(|w| (r, w))) {
        Ok((reverse, window)) => {
            let total = collection.ids.len() as i64 + skew;
            Reply::ok(collection.render_page(
                &collection.ids,
                reverse,
                window,
                (total, collection.total_style),
            ))
        }
        Err(e) => Reply::invalid(&[e]),
    }
}

/// A page of a `POST` search.
fn search(collection: &Collection, body: &[u8], skew: i64) -> Reply {
    let kind = collection.kind;
    match search::Search::parse(kind, body) {
        Ok(search) => {
            let hits: Vec<u64> = collection
                .ids
                .iter()
                .copied()
                .filter(|&id| search.matches(kind, id))
                .collect();
            let total = hits.len() as i64 + skew;
            Reply::ok(collection.render_page(
                &hits,
                search.reverse,
                search.window,
                (total, TotalStyle::TopLevel),
            ))
        }
        Err(errors) => Reply::invalid(&errors),
    }
}

/// The value of `name` in a query string, percent-decoded.
fn query_param(query: &str, name: &str) -> Option<String> {
    url_pairs(query).find(|(k, _)| k == name).map(|(_, v)| v)
}

fn url_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k), percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_decoded() {
        assert_eq!(
            query_param("sort=chats.createdAt&order=desc", "order").as_deref(),
            Some("desc")
        );
        assert_eq!(query_param("q=a%20b+c%2", "q").as_deref(), Some("a b c%2"));
        assert_eq!(query_param("offset=5", "limit"), None);
    }
}
