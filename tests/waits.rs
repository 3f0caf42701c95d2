//! Waits the server asks for are bounded by the retry policy: a huge or far-off `Retry-After`,
//! on a 429 or on a page that used the account's last request, neither panics nor freezes the
//! client; a 429 whose retries ran out still holds the client's other streams back; and the
//! total wait, not a count of attempts, ends a page.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use futures::TryStreamExt;
use helpcrunch_pager::simulator::{Fault, Simulator};
use helpcrunch_pager::{Client, Error, RetryPolicy};
use serde_json::{json, Value};
use support::*;

/// Records each scripted server serves as `departments`.
const RECORDS: u64 = 5;
/// The retry policy's total wait in these tests, and so the longest any pause may last.
const TOTAL_WAIT: Duration = Duration::from_millis(400);
/// Clocks and timers round to the millisecond; a pause may look this much shorter than it was.
const SLACK: Duration = Duration::from_millis(5);
/// A `Retry-After` of more seconds than a `u64` holds.
const OVERFLOWING: &str = "99999999999999999999";
/// The last HTTP-date there is.
const FAR_OFF_DATE: &str = "Fri, 31 Dec 9999 23:59:59 GMT";

/// What the scripted server answers to one request.
struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
}

impl Answer {
    /// The window asked for, from `RECORDS` departments.
    fn page() -> Self {
        Self::status(200)
    }

    /// This status: a page for a 2xx, HelpCrunch's error body otherwise.
    fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
        }
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// A request as the scripted server saw it.
#[derive(Debug, Clone)]
struct Arrival {
    /// Counting from 1.
    n: usize,
    at: Instant,
    /// Such as `/v1/departments`.
    path: String,
}

/// A stand-in for HelpCrunch that can send any header, which the simulator cannot: it answers
/// each request as `script` says, serves `RECORDS` records for a 2xx, logs every arrival, and
/// stops when dropped.
struct Scripted {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<Arrival>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Scripted {
    fn start(script: impl Fn(&Arrival) -> Answer + Send + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::spawn({
            let (log, stop) = (log.clone(), stop.clone());
            move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        serve(stream, &log, &script);
                    }
                }
            }
        });
        Self {
            addr,
            log,
            stop,
            thread: Some(thread),
        }
    }

    fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    fn arrivals(&self) -> Vec<Arrival> {
        self.log.lock().unwrap().clone()
    }

    /// A client at 60,000 a minute (one request per millisecond) whose policy waits at most
    /// `total_wait`, however many attempts that takes.
    fn client(&self, total_wait: Duration) -> Client {
        Client::builder()
            .api_key("scripted-key")
            .base_url(self.base_url())
            .requests_per_minute(60_000)
            .retry_policy(
                RetryPolicy::new()
                    .with_min_delay(Duration::from_millis(10))
                    .with_max_total_wait(total_wait),
            )
            .build()
            .unwrap()
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads one request from `stream` and answers it, one request per connection.
fn serve(mut stream: TcpStream, log: &Mutex<Vec<Arrival>>, script: &dyn Fn(&Arrival) -> Answer) {
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return; // the drop's wake-up, or a connection the client gave up on
    }
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        line.clear();
    }
    let target = request_line.split_whitespace().nth(1).unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let param = |name: &str| {
        query.split('&').find_map(|kv| {
            kv.strip_prefix(name)?
                .strip_prefix('=')?
                .parse::<u64>()
                .ok()
        })
    };
    let arrival = {
        let mut log = log.lock().unwrap();
        let arrival = Arrival {
            n: log.len() + 1,
            at: Instant::now(),
            path: path.to_owned(),
        };
        log.push(arrival.clone());
        arrival
    };
    let answer = script(&arrival);
    let body = if (200..300).contains(&answer.status) {
        let offset = param("offset").unwrap_or(0);
        let end = (offset + param("limit").unwrap_or(100)).min(RECORDS);
        let data: Vec<Value> = (offset + 1..=end)
            .map(|id| json!({ "id": id, "name": format!("Department {id}") }))
            .collect();
        json!({ "data": data, "meta": { "total": RECORDS } })
    } else {
        json!({ "errors": [{ "code": "too_many_requests", "message": "Too many requests" }] })
    }
    .to_string();
    let mut head = format!(
        "HTTP/1.1 {} Scripted\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n",
        answer.status,
        body.len()
    );
    for (name, value) in &answer.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let _ = stream.write_all(format!("{head}\r\n{body}").as_bytes());
}

/// The ids of a whole departments scan, one page in flight at a time.
async fn scan(client: &Client) -> Result<Vec<u64>, Error> {
    bounded(
        "a departments scan",
        client
            .paginate::<Value>("departments")
            .page_size(2)
            .concurrency(1)
            .map_ok(|d| d["id"].as_u64().unwrap())
            .try_collect(),
    )
    .await
}

/// The time between the server's `i`th and `j`th arrivals (counting from 0).
fn gap(log: &[Arrival], i: usize, j: usize) -> Duration {
    log[j].at - log[i].at
}

#[tokio::test]
async fn a_huge_retry_after_on_a_429_fails_the_page_at_once_and_pauses_only_the_total_wait() {
    for huge in [OVERFLOWING, FAR_OFF_DATE] {
        let server = Scripted::start(move |a| match a.n {
            1 => Answer::status(429).header("Retry-After", huge),
            _ => Answer::page(),
        });
        let client = server.client(TOTAL_WAIT);
        let started = Instant::now();
        let err = scan(&client).await.unwrap_err();
        let failed_after = started.elapsed();
        assert!(
            err.is_retries_exhausted() && err.is_rate_limited(),
            "{huge}: {err}"
        );
        assert_eq!(
            err.attempts(),
            1,
            "{huge}: no sleep may start that the cap forbids"
        );
        assert!(
            failed_after < TOTAL_WAIT,
            "{huge}: the page waited {failed_after:?} before failing"
        );

        // The next scan on the same client waits out the capped pause, then goes on.
        let ids = scan(&client).await.unwrap();
        assert_eq!(ids, (1..=RECORDS).collect::<Vec<_>>(), "{huge}");
        let log = server.arrivals();
        let held = gap(&log, 0, 1);
        assert!(
            held + SLACK >= TOTAL_WAIT,
            "{huge}: the next request went {held:?} after the 429"
        );
        assert!(
            started.elapsed() < TOTAL_WAIT + Duration::from_secs(2),
            "{huge}: {:?} in all",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn a_huge_wait_on_a_page_that_used_the_last_request_pauses_only_the_total_wait() {
    for huge in [OVERFLOWING, FAR_OFF_DATE] {
        let server = Scripted::start(move |a| match a.n {
            1 => Answer::page()
                .header("X-RateLimit-Remaining", "0")
                .header("Retry-After", huge),
            _ => Answer::page(),
        });
        let started = Instant::now();
        let ids = scan(&server.client(TOTAL_WAIT)).await.unwrap();
        assert_eq!(ids, (1..=RECORDS).collect::<Vec<_>>(), "{huge}");
        let held = gap(&server.arrivals(), 0, 1);
        assert!(
            held + SLACK >= TOTAL_WAIT,
            "{huge}: the client did not pause ({held:?})"
        );
        assert!(
            started.elapsed() < TOTAL_WAIT + Duration::from_secs(2),
            "{huge}: the scan took {:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn a_rate_limit_reset_in_epoch_milliseconds_pauses_for_milliseconds() {
    let server = Scripted::start(|a| match a.n {
        1 => {
            let now_ms = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_millis();
            Answer::page()
                .header("X-RateLimit-Remaining", "0")
                .header("X-RateLimit-Reset", (now_ms + 300).to_string())
        }
        _ => Answer::page(),
    });
    // A total wait far above the reset, so that the reset and not the cap decides.
    let client = server.client(Duration::from_secs(60));
    let started = Instant::now();
    let ids = scan(&client).await.unwrap();
    assert_eq!(ids, (1..=RECORDS).collect::<Vec<_>>());
    let held = gap(&server.arrivals(), 0, 1);
    assert!(
        held >= Duration::from_millis(250),
        "the reset was not honoured: {held:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "read as seconds, not milliseconds: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_ietf_ratelimit_fields_spent_pause_the_budget_until_their_reset() {
    let server = Scripted::start(|a| match a.n {
        1 => Answer::page()
            .header("RateLimit-Policy", r#""default";q=120;w=60"#)
            .header("RateLimit", r#""default";r=0;t=1"#),
        _ => Answer::page(),
    });
    let client = server.client(Duration::from_secs(60));
    let ids = scan(&client).await.unwrap();
    assert_eq!(ids, (1..=RECORDS).collect::<Vec<_>>());
    let held = gap(&server.arrivals(), 0, 1);
    assert!(
        held >= Duration::from_millis(950),
        "the spent quota was not honoured: {held:?}"
    );
}

#[tokio::test]
async fn a_429_whose_retries_ran_out_holds_back_the_clients_other_streams() {
    // The server asks for a second; the policy allows 400 ms in all: the agents page fails at
    // once, and the whole client holds back for the 400 ms.
    let server = Scripted::start(|a| match a.path.as_str() {
        "/v1/agents" => Answer::status(429).header("Retry-After", "1"),
        _ => Answer::page(),
    });
    let client = server.client(TOTAL_WAIT);
    let started = Instant::now();
    let err = bounded(
        "agents",
        client.paginate::<Value>("agents").try_collect::<Vec<_>>(),
    )
    .await
    .unwrap_err();
    assert!(err.is_retries_exhausted() && err.is_rate_limited(), "{err}");
    assert!(started.elapsed() < TOTAL_WAIT, "{:?}", started.elapsed());
    assert_eq!(client.stats().retries, 0);

    let ids = scan(&client).await.unwrap();
    assert_eq!(ids, (1..=RECORDS).collect::<Vec<_>>());
    let log = server.arrivals();
    assert_eq!(log[0].path, "/v1/agents");
    assert_eq!(log[1].path, "/v1/departments");
    let held = gap(&log, 0, 1);
    assert!(
        held + SLACK >= TOTAL_WAIT,
        "the departments stream went {held:?} after the agents stream's 429"
    );
    assert!(
        held < Duration::from_secs(1),
        "longer than the cap: {held:?}"
    );
}

#[tokio::test]
async fn a_short_total_wait_with_no_attempt_cap_ends_a_page_by_time() {
    let sim = Simulator::builder()
        .departments(10)
        .fault_rate(1.0, Fault::Status(503))
        .start()
        .unwrap();
    // Delays of at most 5, 10, 20, 20, ... ms: eight attempts wait at most 135 ms, so only the
    // total wait can end the page.
    let total = Duration::from_millis(250);
    let client = builder_for(&sim, 60_000)
        .retry_policy(
            RetryPolicy::new()
                .with_min_delay(Duration::from_millis(5))
                .with_max_delay(Duration::from_millis(20))
                .with_max_total_wait(total),
        )
        .build()
        .unwrap();
    let started = Instant::now();
    let err = bounded("503s", client.departments().try_collect::<Vec<_>>())
        .await
        .unwrap_err();
    let Error::RetriesExhausted {
        attempts, waited, ..
    } = &err
    else {
        panic!("expected RetriesExhausted, got {err}");
    };
    assert_eq!(err.status(), Some(503));
    assert!(*attempts > 8, "ended by a count: {attempts} attempts");
    // Ended by time: the sleeps, or the clock since the first failure (which also counts the
    // requests themselves), reached the total.
    assert!(*waited <= total, "waited {waited:?} of {total:?}");
    assert!(
        *waited + Duration::from_millis(20) > total
            || started.elapsed() + Duration::from_millis(20) > total,
        "ended by time: waited {waited:?} of {total:?} in {:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_long_total_wait_keeps_a_page_retrying_past_eight_attempts() {
    let mut sim = Simulator::builder().departments(250);
    for n in 1..=12 {
        sim = sim.fault(n, Fault::Status(503));
    }
    let sim = sim.start().unwrap();
    let client = builder_for(&sim, 60_000)
        .retry_policy(
            RetryPolicy::new()
                .with_min_delay(Duration::from_millis(1))
                .with_max_delay(Duration::from_millis(5))
                .with_max_total_wait(Duration::from_secs(5)),
        )
        .build()
        .unwrap();
    let got = ids("twelve 503s", client.departments(), |d| d.id)
        .await
        .unwrap();
    assert_each_once_in_order(&got, 250);
    assert_eq!(
        client.stats().retries,
        12,
        "the first page, on its 13th attempt"
    );
}
