//! The simulator's HTTP side: an accept loop on its own thread and runtime, and the service
//! that reads one request, counts and logs it, and writes the answer `respond.rs` decided as
//! HTTP (or drops the connection, for a reset). Every answer carries a `Date` header from the
//! server's clock, not hyper's (the system's).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, DATE, RETRY_AFTER};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

use super::fault::Fault;
use super::headers::Quota;
use super::respond::{decide, Incoming, Reply};
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
                            let _ = http1::Builder::new().auto_date_header(false).serve_connection(TokioIo::new(stream), service).await;
                        });
                    }
                }
            }
        });
        // Dropping the runtime here ends every connection still open.
    })?;
    Ok(ServerHandle { shutdown, thread })
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
    // Stamped when the answer is made, as a server does, not after the network's delay.
    let date = httpdate::fmt_http_date(state.clock.time());
    if !state.config.latency.is_zero() {
        tokio::time::sleep(state.config.latency).await;
    }
    if let Some(Fault::Stall(wait)) = &reply.fault {
        tokio::time::sleep(*wait).await;
    }
    if reply.status == 0 {
        return Err(Reset);
    }
    let mut response = Response::builder().status(reply.status).header(DATE, date);
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
