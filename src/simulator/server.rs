//! The simulator's HTTP side: an accept loop on its own thread and runtime, and the handler
//! that turns one request into one answer.

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

use super::fault::{error_body, errors_json};
use super::{RequestRecord, State};
use crate::window::MAX_PAGE_SIZE;

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
    status: u16,
    body: String,
    retry_after: Option<u64>,
}

impl Reply {
    fn error(status: u16) -> Self {
        Self {
            status,
            body: error_body(status),
            retry_after: None,
        }
    }
}

async fn answer(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let now = Instant::now();
    let n = state.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let query = Query::parse(req.uri().query().unwrap_or(""));
    let reply = decide(&state, n, now, &req, &query);
    if reply.status == 429 {
        state.rate_limited.fetch_add(1, Ordering::SeqCst);
    }
    state
        .log
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(RequestRecord {
            at: now.duration_since(state.started),
            path: req.uri().path().to_owned(),
            offset: query.offset.as_deref().and_then(|o| o.parse().ok()),
            status: reply.status,
        });
    if !state.config.latency.is_zero() {
        tokio::time::sleep(state.config.latency).await;
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
    Ok(response
        .body(Full::new(Bytes::from(reply.body)))
        .expect("a valid status and headers"))
}

fn decide(state: &State, n: u64, now: Instant, req: &Request<Incoming>, query: &Query) -> Reply {
    let config = &state.config;
    let expected = format!("Bearer {}", config.api_key);
    if req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(expected.as_str())
    {
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
    if let Some(fault) = config.faults.get(&n) {
        let (status, body) = fault.reply();
        return Reply {
            status,
            body,
            retry_after: None,
        };
    }
    let Some(collection) = req
        .uri()
        .path()
        .strip_prefix("/v1/")
        .and_then(|p| config.collections.get(p.trim_end_matches('/')))
        .filter(|_| req.method() == hyper::Method::GET)
    else {
        return Reply::error(404);
    };
    match query.window() {
        Ok((offset, limit)) => Reply {
            status: 200,
            body: collection.render_page(offset, limit, config.total_skew),
            retry_after: None,
        },
        Err((field, message)) => Reply {
            status: 400,
            body: errors_json(&[("invalid_request", "Invalid request"), (field, message)]),
            retry_after: None,
        },
    }
}

#[derive(Default)]
struct Query {
    offset: Option<String>,
    limit: Option<String>,
}

impl Query {
    fn parse(raw: &str) -> Self {
        let mut q = Query::default();
        for pair in raw.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "offset" => q.offset = Some(v.to_owned()),
                "limit" => q.limit = Some(v.to_owned()),
                _ => {}
            }
        }
        q
    }

    /// The window asked for, with HelpCrunch's defaults (offset 0, limit 100) and its rules.
    fn window(&self) -> Result<(u64, u32), (&'static str, &'static str)> {
        let offset = match &self.offset {
            None => 0,
            Some(o) => o
                .parse()
                .map_err(|_| ("offset", "This value should be of type numeric."))?,
        };
        let limit = match &self.limit {
            None => MAX_PAGE_SIZE,
            Some(l) => l
                .parse()
                .map_err(|_| ("limit", "This value should be of type numeric."))?,
        };
        if limit == 0 {
            return Err(("limit", "This value should be greater than 0."));
        }
        if limit > MAX_PAGE_SIZE {
            return Err(("limit", "This value should be less than or equal to 100."));
        }
        Ok((offset, limit))
    }
}
