//! Servers this project did not write, as small as a test needs: one that echoes the request's
//! head in a 400 (as some proxies do), one that accepts and never answers, and an address that
//! refuses. Each binds a free loopback port and records what it saw.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Every spelling of a way out of the base path that a server or proxy may decode.
pub const HOSTILE_PATHS: &[&str] = &[
    "../admin",
    "%2e%2e/admin",
    "%2E%2E/x",
    "%2e./y",
    ".%2e/y",
    "departments/%2e%2e/%2e%2e/admin",
    "..\\admin",
    "..%2fadmin",
    "%5c..%5cadmin",
    "%252e%252e/admin",
    "..;/admin",
    "%c0%ae%c0%ae/admin",
    "//evil.example/x",
    "https://evil.example/x",
];

/// A server on a free loopback port, with the request heads it received.
pub struct Hostile {
    pub base_url: String,
    pub seen: Arc<Mutex<Vec<String>>>,
}

impl Hostile {
    /// Answers every request `400 Bad Request` with a body that quotes its head, the
    /// `Authorization` header included.
    pub fn echoing() -> Self {
        Self::serve(|stream, head| {
            // The credentials first, so that they fall within any excerpt of the body.
            let auth = head
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("authorization"))
                .unwrap_or_default();
            let body = format!("bad request; you sent {auth}\n{head}");
            let _ = write!(
                stream,
                "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        })
    }

    /// Answers every request with `response`, written as it is (status line, headers, body).
    pub fn answering(response: impl Into<String>) -> Self {
        let response = response.into();
        Self::serve(move |stream, _| {
            let _ = stream.write_all(response.as_bytes());
        })
    }

    /// Serves a list whose records are `before(n)` for the `n`th request (from 1), each window
    /// by its `offset` and `limit`, with its length as the total: a list that changes between
    /// two reads exactly as a test says.
    pub fn listing(
        before: impl Fn(usize) -> Vec<serde_json::Value> + Send + Sync + 'static,
    ) -> Self {
        let asked = std::sync::atomic::AtomicUsize::new(0);
        Self::serve(move |stream, head| {
            let n = asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            let records = before(n);
            let param = |name: &str| {
                head.split(['?', '&', ' '])
                    .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(0)
            };
            let (offset, limit) = (param("offset"), param("limit"));
            let data: Vec<_> = records.iter().skip(offset).take(limit).collect();
            let body =
                serde_json::json!({"data": data, "meta": {"total": records.len()}}).to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{body}",
                body.len()
            );
        })
    }

    /// Accepts every connection and reads the request, and never answers.
    pub fn silent() -> Self {
        Self::serve(|stream, _| {
            // Held open, unanswered, until the client gives up.
            let mut sink = [0u8; 1024];
            let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
            let _ = stream.read(&mut sink);
        })
    }

    fn serve(answer: impl Fn(&mut TcpStream, &str) + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let answer = Arc::new(answer);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let (log, answer) = (Arc::clone(&log), Arc::clone(&answer));
                std::thread::spawn(move || {
                    let head = read_head(&mut stream);
                    log.lock().unwrap().push(head.clone());
                    answer(&mut stream, &head);
                });
            }
        });
        Self { base_url, seen }
    }

    pub fn requests(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

/// A loopback URL nothing listens on: connections to it are refused.
pub fn refusing_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/v1")
}

fn read_head(stream: &mut TcpStream) -> String {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 << 10 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// A simulated account of 250 departments whose first three answers are 429s with a
/// `Retry-After` date long past: "retry now".
pub fn retry_now_three_times() -> helpcrunch_pager::simulator::Simulator {
    use helpcrunch_pager::simulator::{Fault, Simulator};
    let past = || Fault::RateLimited("Wed, 21 Oct 2015 07:28:00 GMT".into());
    Simulator::builder()
        .departments(250)
        .fault(1, past())
        .fault(2, past())
        .fault(3, past())
        .start()
        .unwrap()
}
